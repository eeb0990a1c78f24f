# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Demand forecasting methods as small pure Python functions.

Every method takes the history (a list of quantities per period, oldest
first) and a horizon, and returns the list of ``horizon`` forecasts, never
negative.  The parameters that are "fitted" are chosen on a fixed grid by
the smallest sum of squared one-step-ahead errors over the history, so the
results are deterministic and easy to check by hand.  No library is used:
numpy and statsmodels are not dependencies of Tryton and the methods need a
few dozen lines each (see the module documentation for the formulas).
"""

METHODS = [
    'moving_average', 'exponential_smoothing', 'holt_winters', 'croston']

#: The grid on which the smoothing constants are fitted
ALPHAS = [i / 20 for i in range(1, 20)]  # 0.05 .. 0.95
HW_ALPHAS = [0.1, 0.3, 0.5, 0.7, 0.9]
HW_BETAS = [0.0, 0.1, 0.2]
HW_GAMMAS = [0.1, 0.3, 0.5]


def _clip(values):
    return [max(v, 0.0) for v in values]


def moving_average(history, horizon=1, window=3):
    "Return the mean of the last window periods for each horizon"
    if not history:
        return [0.0] * horizon
    last = history[-window:]
    return _clip([sum(last) / len(last)] * horizon)


def ses_level(history, alpha):
    """Return the SES level and the sum of squared one-step errors.

    ``l_0 = y_0``, ``l_t = alpha * y_t + (1 - alpha) * l_{t-1}``; the
    one-step forecast of ``y_t`` is ``l_{t-1}``."""
    level = history[0]
    sse = 0.0
    for value in history[1:]:
        sse += (value - level) ** 2
        level = alpha * value + (1 - alpha) * level
    return level, sse


def fit_ses_alpha(history):
    "Return the alpha of the grid with the smallest squared one-step error"
    best = None
    for alpha in ALPHAS:
        _, sse = ses_level(history, alpha)
        if best is None or sse < best[0] - 1e-12:
            best = (sse, alpha)
    return best[1]


def exponential_smoothing(history, horizon=1, alpha=None):
    "Return the flat simple exponential smoothing forecast"
    if not history:
        return [0.0] * horizon
    if alpha is None:
        alpha = fit_ses_alpha(history)
    level, _ = ses_level(history, alpha)
    return _clip([level] * horizon)


def holt_winters_run(history, season, alpha, beta, gamma, horizon=0):
    """Run the additive Holt-Winters recursion.

    With ``m`` the season length, ``a`` the mean of the first season and
    ``b`` the mean of the second: initial trend ``T = (b - a) / m``,
    initial level (at the end of the first season) ``L = a + T (m - 1) / 2``
    and seasonal indices ``S_i = y_i - (a + T (i - (m - 1) / 2))``.  Then
    ``L_t = alpha (y_t - S_{t-m}) + (1 - alpha) (L_{t-1} + T_{t-1})``,
    ``T_t = beta (L_t - L_{t-1}) + (1 - beta) T_{t-1}``,
    ``S_t = gamma (y_t - L_t) + (1 - gamma) S_{t-m}`` and the forecast
    ``h`` periods ahead is ``L_n + h T_n + S_{n+h-m}``.  Return the sum of
    squared one-step errors after the first season and the forecasts for the
    horizon."""
    first = history[:season]
    second = history[season:2 * season]
    mean = sum(first) / season
    trend = (sum(second) / season - mean) / season
    middle = (season - 1) / 2
    # The level at the end of the first season, and the seasonal indices
    # measured against the trend line through the first season's mean
    level = mean + middle * trend
    seasonal = [v - (mean + (i - middle) * trend)
        for i, v in enumerate(first)]
    sse = 0.0
    for t in range(season, len(history)):
        value = history[t]
        s = seasonal[t % season]
        forecast = level + trend + s
        sse += (value - forecast) ** 2
        previous = level
        level = alpha * (value - s) + (1 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1 - beta) * trend
        seasonal[t % season] = gamma * (value - level) + (1 - gamma) * s
    n = len(history)
    forecasts = [
        level + h * trend + seasonal[(n + h - 1) % season]
        for h in range(1, horizon + 1)]
    return sse, forecasts


def holt_winters(history, horizon=1, season=12, params=None):
    """Return the additive Holt-Winters forecast; it needs two seasons.

    ``params`` = (alpha, beta, gamma), fitted on the grid when not given."""
    if len(history) < 2 * season:
        raise ValueError("Holt-Winters needs at least two seasons")
    if params is None:
        best = None
        for alpha in HW_ALPHAS:
            for beta in HW_BETAS:
                for gamma in HW_GAMMAS:
                    sse, _ = holt_winters_run(
                        history, season, alpha, beta, gamma)
                    if best is None or sse < best[0] - 1e-12:
                        best = (sse, (alpha, beta, gamma))
        params = best[1]
    _, forecasts = holt_winters_run(history, season, *params, horizon=horizon)
    return _clip(forecasts)


def croston(history, horizon=1, alpha=0.1, sba=True):
    """Return the Croston forecast, with the SBA correction by default.

    SES (alpha) on the non-zero demand sizes ``z`` and on the intervals
    ``p`` between them, both initialised with the first demand (its
    interval counted from the start); the forecast is ``z / p``, times
    ``1 - alpha / 2`` with SBA."""
    size = interval = None
    periods = 0
    for value in history:
        periods += 1
        if value:
            if size is None:
                size, interval = value, periods
            else:
                size = alpha * value + (1 - alpha) * size
                interval = alpha * periods + (1 - alpha) * interval
            periods = 0
    if size is None:
        return [0.0] * horizon
    forecast = size / interval
    if sba:
        forecast *= 1 - alpha / 2
    return _clip([forecast] * horizon)


def zero_share(history):
    "Return the share of the periods without demand"
    if not history:
        return 0.0
    return sum(1 for v in history if not v) / len(history)


def candidates(history, season=12, intermittent=0.3):
    """Return the methods that apply to a history: moving average and SES
    always, Holt-Winters with two seasons, Croston when the share of zero
    periods is at least ``intermittent``"""
    methods = ['moving_average', 'exponential_smoothing']
    if len(history) >= 2 * season:
        methods.append('holt_winters')
    if zero_share(history) >= intermittent:
        methods.append('croston')
    return methods


def forecast(method, history, horizon=1, season=12):
    "Return the forecasts of the method"
    if method == 'moving_average':
        return moving_average(history, horizon)
    elif method == 'exponential_smoothing':
        return exponential_smoothing(history, horizon)
    elif method == 'holt_winters':
        return holt_winters(history, horizon, season=season)
    elif method == 'croston':
        return croston(history, horizon)
    raise ValueError(method)


def backtest(method, history, k=6, season=12):
    """Return (MAE, sMAPE) of the rolling-origin one-step forecasts of the
    last k periods, or None when the method cannot be fitted on every
    origin.

    For each origin ``t`` in ``n - k .. n - 1`` the method is fitted on
    ``history[:t]`` and forecasts ``history[t]``.  ``sMAPE`` is the mean of
    ``2 |y - f| / (|y| + |f|)`` (0 when both are 0)."""
    n = len(history)
    k = min(k, n - 1)
    if k < 1:
        return None
    errors, ratios = [], []
    for t in range(n - k, n):
        train = history[:t]
        try:
            predicted, = forecast(method, train, 1, season=season)
        except ValueError:
            return None
        actual = history[t]
        error = abs(actual - predicted)
        errors.append(error)
        total = abs(actual) + abs(predicted)
        ratios.append(2 * error / total if total else 0.0)
    return sum(errors) / k, sum(ratios) / k


def select(history, horizon=1, k=6, season=12, intermittent=0.3,
        methods=None):
    """Return the method with the smallest backtest MAE and its figures.

    The result is a dictionary with ``method``, ``forecasts``, ``mae``,
    ``smape`` and ``errors`` (the MAE of each candidate).  Ties keep the
    first method of :data:`METHODS`."""
    if methods is None:
        methods = candidates(history, season=season,
            intermittent=intermittent)
    errors = {}
    best = None
    for method in METHODS:
        if method not in methods:
            continue
        result = backtest(method, history, k=k, season=season)
        if result is None:
            continue
        mae, smape = result
        errors[method] = mae
        if best is None or mae < best[1] - 1e-9:
            best = (method, mae, smape)
    if best is None:
        method, mae, smape = 'moving_average', None, None
    else:
        method, mae, smape = best
    values = forecast(method, history, horizon, season=season)
    return {
        'method': method,
        'forecasts': values,
        'mae': mae,
        'smape': smape,
        'errors': errors,
        }
