# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Demand forecasting methods as small pure Python functions.

Every method takes the history (a list of quantities per period, oldest
first) and a horizon, and returns the list of ``horizon`` forecasts, never
negative.  The parameters that are "fitted" are chosen on a fixed grid by
the smallest sum of squared one-step-ahead errors over the history, so the
results are deterministic and easy to check by hand.  The methods need a
few dozen lines each (see the module documentation for the formulas), so
statsmodels is not used; :func:`select_many` gives the results of
:func:`select` for many histories at once with numpy (a dependency of
scipy, which the predictive models use).
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


def _best_method(methods, backtest):
    """Return the method of the lowest backtest MAE, its MAE and sMAPE, and
    the MAE of each method; moving average when none can be tested

    backtest(method) returns (mae, smape) or None."""
    errors = {}
    best = None
    for method in METHODS:
        if method not in methods:
            continue
        result = backtest(method)
        if result is None:
            continue
        mae, smape = result
        errors[method] = mae
        if best is None or mae < best[1] - 1e-9:
            best = (method, mae, smape)
    if best is None:
        return 'moving_average', None, None, errors
    return best + (errors,)


def select(history, horizon=1, k=6, season=12, intermittent=0.3,
        methods=None):
    """Return the method with the smallest backtest MAE and its figures.

    The result is a dictionary with ``method``, ``forecasts``, ``mae``,
    ``smape`` and ``errors`` (the MAE of each candidate).  Ties keep the
    first method of :data:`METHODS`."""
    if methods is None:
        methods = candidates(history, season=season,
            intermittent=intermittent)
    method, mae, smape, errors = _best_method(
        methods, lambda m: backtest(m, history, k=k, season=season))
    values = forecast(method, history, horizon, season=season)
    return {
        'method': method,
        'forecasts': values,
        'mae': mae,
        'smape': smape,
        'errors': errors,
        }


# Batched selection: many histories of the same length at once.
#
# Every recursion above only extends its state period by period, so the
# state after the first t periods of a history is the state the method
# fitted on history[:t] would reach.  One run over the whole history gives
# the one-step forecasts of every backtest origin; numpy runs it for all
# the histories (and all the grid parameters) at once, with the operations
# of the functions above in the same order.  The sums stay Python's sum of
# the same floats, so that the results are the floats of :func:`select`.

def _best_index(sses):
    "Return the index of the grid column :func:`fit_ses_alpha` would keep"
    import numpy as np
    best = sses[:, 0].copy()
    index = np.zeros(len(sses), dtype=int)
    for g in range(1, sses.shape[1]):
        better = sses[:, g] < best - 1e-12
        best = np.where(better, sses[:, g], best)
        index = np.where(better, g, index)
    return index


def _ses_states(values, origins):
    "Return for each origin t the fitted SES levels of values[:, :t]"
    import numpy as np
    alpha = np.array(ALPHAS)
    rows = np.arange(len(values))
    level = np.repeat(values[:, :1], len(ALPHAS), axis=1)
    sse = np.zeros(level.shape)
    states = {}
    for t in range(1, values.shape[1] + 1):
        if t in origins:
            states[t] = level[rows, _best_index(sse)]
        if t < values.shape[1]:
            value = values[:, t:t + 1]
            sse = sse + (value - level) ** 2
            level = alpha * value + (1 - alpha) * level
    return states


def _hw_grid():
    import numpy as np
    grid = [(a, b, g)
        for a in HW_ALPHAS for b in HW_BETAS for g in HW_GAMMAS]
    return [np.array(c) for c in zip(*grid)]


def _hw_states(values, lists, season, origins):
    """Return for each origin t >= 2 seasons the fitted Holt-Winters level,
    trend and seasonal indices of values[:, :t]"""
    import numpy as np
    alpha, beta, gamma = _hw_grid()
    rows = np.arange(len(values))
    n = values.shape[1]
    mean = np.array([sum(v[:season]) / season for v in lists])
    trend = (np.array([sum(v[season:2 * season]) / season for v in lists])
        - mean) / season
    middle = (season - 1) / 2
    level = mean + middle * trend
    seasonal = np.stack([values[:, i] - (mean + (i - middle) * trend)
            for i in range(season)], axis=1)
    shape = (len(values), len(alpha))
    level = np.broadcast_to(level[:, None], shape).copy()
    trend = np.broadcast_to(trend[:, None], shape).copy()
    seasonal = np.broadcast_to(
        seasonal[:, None, :], shape + (season,)).copy()
    sse = np.zeros(shape)
    states = {}
    for t in range(season, n + 1):
        if t in origins and t >= 2 * season:
            best = _best_index(sse)
            states[t] = (
                level[rows, best], trend[rows, best], seasonal[rows, best])
        if t == n:
            break
        value = values[:, t:t + 1]
        s = seasonal[:, :, t % season]
        forecast = level + trend + s
        sse = sse + (value - forecast) ** 2
        previous = level
        level = alpha * (value - s) + (1 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1 - beta) * trend
        seasonal[:, :, t % season] = (
            gamma * (value - level) + (1 - gamma) * s)
    return states


def _croston_states(values, origins, alpha=0.1):
    "Return for each origin t the Croston SBA forecasts of values[:, :t]"
    import numpy as np
    size = np.zeros(len(values))
    interval = np.ones(len(values))
    periods = np.zeros(len(values))
    seen = np.zeros(len(values), dtype=bool)
    states = {}
    for t in range(values.shape[1] + 1):
        if t in origins:
            states[t] = np.where(seen,
                np.maximum(size / interval * (1 - alpha / 2), 0.0), 0.0)
        if t == values.shape[1]:
            break
        value = values[:, t]
        periods = periods + 1
        demand = value != 0
        first, again = demand & ~seen, demand & seen
        size = np.where(first, value,
            np.where(again, alpha * value + (1 - alpha) * size, size))
        interval = np.where(first, periods, np.where(again,
                alpha * periods + (1 - alpha) * interval, interval))
        seen |= demand
        periods = np.where(demand, 0, periods)
    return states


def _moving_average_states(lists, origins, window=3):
    "Return for each origin t the moving averages of the histories[:t]"
    import numpy as np
    return {t: np.maximum(np.array(
                [sum(h[max(t - window, 0):t]) / min(t, window)
                    for h in lists]), 0.0)
        for t in origins}


def _fitted_forecasts(values, lists, origins, season):
    """Return per method the one-step forecast of each history fitted on
    its periods before each origin, and the Holt-Winters level, trend and
    seasonal indices of the whole histories (None with fewer than two
    seasons)"""
    import numpy as np
    n = values.shape[1]
    forecasts = {
        'moving_average': _moving_average_states(lists, origins),
        'exponential_smoothing': {t: np.maximum(level, 0.0)
            for t, level in _ses_states(values, origins).items()},
        'croston': _croston_states(values, origins),
        }
    if n < 2 * season:
        return forecasts, None
    states = _hw_states(values, lists, season, origins)
    forecasts['holt_winters'] = {
        t: np.maximum(level + 1 * trend + seasonal[:, t % season], 0.0)
        for t, (level, trend, seasonal) in states.items()}
    return forecasts, states[n]


def _batch_backtests(values, forecasts, k, season):
    """Return per method that can be tested what :func:`backtest` returns
    for each history; Holt-Winters needs two seasons at the first origin"""
    import numpy as np
    n = values.shape[1]
    if k < 1:
        return {}
    actual = values[:, n - k:]
    results = {}
    for method, by_origin in forecasts.items():
        if method == 'holt_winters' and n - k < 2 * season:
            continue
        predicted = np.stack([by_origin[t] for t in range(n - k, n)], axis=1)
        errors = np.abs(actual - predicted)
        totals = np.abs(actual) + np.abs(predicted)
        ratios = np.divide(2 * errors, totals,
            out=np.zeros(totals.shape), where=totals != 0)
        results[method] = [(sum(e) / k, sum(r) / k)
            for e, r in zip(errors.tolist(), ratios.tolist())]
    return results


def _batch_forecasts(forecasts, holt_winters, n, horizon, season):
    "Return per method the forecasts of each history for the horizon"
    import numpy as np
    results = {}
    for method, by_origin in forecasts.items():
        if method == 'holt_winters':
            level, trend, seasonal = holt_winters
            columns = [np.maximum(
                    level + h * trend + seasonal[:, (n + h - 1) % season],
                    0.0) for h in range(1, horizon + 1)]
        else:
            columns = [by_origin[n]] * horizon
        results[method] = np.stack(columns, axis=1).tolist()
    return results


def select_many(histories, horizon=1, k=6, season=12, intermittent=0.3):
    """Return the :func:`select` result of each history, in order.

    The histories must all have the same length; every method is fitted
    and backtested for all of them at once."""
    import numpy as np
    if not histories:
        return []
    lists = [[float(v) for v in h] for h in histories]
    n = len(lists[0])
    assert all(len(h) == n for h in lists)
    values = np.array(lists, dtype=float)
    k = min(k, n - 1)
    forecasts, holt_winters = _fitted_forecasts(
        values, lists, set(range(max(n - k, 1), n + 1)), season)
    backtests = _batch_backtests(values, forecasts, k, season)
    finals = _batch_forecasts(forecasts, holt_winters, n, horizon, season)
    results = []
    for row, history in enumerate(lists):
        methods = candidates(history, season=season,
            intermittent=intermittent)
        method, mae, smape, errors = _best_method(methods,
            lambda m: backtests[m][row] if m in backtests else None)
        results.append({
                'method': method,
                'forecasts': finals[method][row],
                'mae': mae,
                'smape': smape,
                'errors': errors,
                })
    return results
