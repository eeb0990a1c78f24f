# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The BG/NBD and Gamma-Gamma customer value models (pure maths).

BG/NBD: Fader, Hardie and Lee (2005), "Counting your customers the easy
way: an alternative to the Pareto/NBD model", Marketing Science 24(2).
Gamma-Gamma: Fader and Hardie (2013), "The Gamma-Gamma model of monetary
value".  A customer is summarised by x (repeat purchases), t_x (time of
the last purchase since the first one) and T (time since the first
purchase), all in the same unit; arrays are numpy arrays.
"""
from collections import namedtuple

import numpy as np
from scipy import optimize, special

BGNBD = namedtuple('BGNBD', ['r', 'alpha', 'a', 'b'])
GammaGamma = namedtuple('GammaGamma', ['p', 'q', 'gamma'])


def _weights(weights, x):
    if weights is None:
        return np.ones_like(x, dtype=float)
    return np.asarray(weights, dtype=float)


class _Customers:
    "The x, t_x and T of customers with what the likelihood reuses"

    def __init__(self, x, t_x, T, weights=None):
        self.x = np.asarray(x, dtype=float)
        self.t_x = np.asarray(t_x, dtype=float)
        self.T = np.asarray(T, dtype=float)
        self.weights = _weights(weights, self.x)
        # The terms of x alone are computed once per distinct x.
        self.counts, self.index = np.unique(self.x, return_inverse=True)
        self.repeat = self.x > 0
        # log(alpha + t_x) is not used when x = 0: any finite value does
        self.last = np.where(self.repeat, self.t_x, self.T)


def _bgnbd_terms(params, data):
    """Return the terms of the log-likelihood (paper, equation 6)

    log L = C + log(exp(A) + exp(D)) with C the terms of every customer,
    A the customer still alive at T and D the customer who dropped out
    after the last purchase (only when x > 0)."""
    r, alpha, a, b = params
    counts, index = data.counts, data.index
    common = (special.gammaln(r + counts) - special.gammaln(r)
        + r * np.log(alpha) - special.betaln(a, b))[index]
    log_T = np.log(alpha + data.T)
    log_last = np.log(alpha + data.last)
    alive = special.betaln(a, b + counts)[index] - (r + data.x) * log_T
    with np.errstate(invalid='ignore'):
        drop_beta = np.where(
            counts > 0, special.betaln(a + 1, b + counts - 1), -np.inf)
    dropped = drop_beta[index] - (r + data.x) * log_last
    return common, alive, dropped, log_T, log_last


def bgnbd_log_likelihood(params, x, t_x, T):
    "Return the log-likelihood of each customer (paper, equation 6)"
    common, alive, dropped, _, _ = _bgnbd_terms(
        params, _Customers(x, t_x, T))
    return common + np.logaddexp(alive, dropped)


def _bgnbd_gradient(params, data):
    """Return the weighted log-likelihood and its gradient in the
    logarithms of r, alpha, a and b"""
    r, alpha, a, b = params
    counts, index, x = data.counts, data.index, data.x
    common, alive, dropped, log_T, log_last = _bgnbd_terms(params, data)
    total = np.logaddexp(alive, dropped)
    w_alive = np.exp(alive - total)
    w_dropped = 1 - w_alive
    psi = special.digamma
    d_r = (psi(r + counts)[index] - psi(r) + np.log(alpha)
        - w_alive * log_T - w_dropped * log_last)
    d_alpha = r / alpha - (r + x) * (
        w_alive / (alpha + data.T) + w_dropped / (alpha + data.last))
    psi_abx = psi(a + b + counts)[index]
    with np.errstate(invalid='ignore'):
        psi_bx1 = np.where(counts > 0, psi(b + counts - 1), 0)[index]
    d_a = (psi(a + b) - psi(a) + w_alive * (psi(a) - psi_abx)
        + w_dropped * (psi(a + 1) - psi_abx))
    d_b = (psi(a + b) - psi(b) + w_alive * (psi(b + counts)[index] - psi_abx)
        + w_dropped * (psi_bx1 - psi_abx))
    weights = data.weights
    gradient = np.array([
            _weighted_sum(weights, d) for d in (d_r, d_alpha, d_a, d_b)])
    return (_weighted_sum(weights, common + total),
        gradient * np.asarray(params))


def _weighted_sum(weights, values):
    "Return the sum of the values times their weights"
    # Not np.dot: on a busy machine the threads of BLAS cost a hundred
    # times the sum of some thousand products
    return (weights * values).sum()


# The logarithms of the parameters are fitted within this distance of
# their start: on a flat ridge of the likelihood the fit ends at a bound
# instead of running off to an overflow
LOG_BOUND = np.log(1e6)
# Below this largest projected gradient (of the mean log-likelihood per
# customer), a fit that stopped on a failed line search is an optimum
GRADIENT_TOLERANCE = 1e-5


def _fit(negative_log_likelihood, start):
    """Minimise over the logarithms of the parameters, which must be > 0

    negative_log_likelihood returns the value and its gradient in the
    logarithms.  L-BFGS-B converges in some tens of evaluations; only
    when it stops neither converged nor at a point of small projected
    gradient does Nelder-Mead run too (same bounds) and the better finite
    optimum is kept."""
    def value(log_params):
        return negative_log_likelihood(log_params)[0]

    start = np.log(start)
    bounds = optimize.Bounds(start - LOG_BOUND, start + LOG_BOUND)
    results = [optimize.minimize(
            negative_log_likelihood, start, method='L-BFGS-B', jac=True,
            bounds=bounds, options={'ftol': 1e-13, 'gtol': 1e-9})]
    if not results[0].success and not _stationary(results[0], bounds):
        results.append(optimize.minimize(
                value, start, method='Nelder-Mead', bounds=bounds,
                options={'xatol': 1e-7, 'fatol': 1e-10, 'maxiter': 2000,
                    'maxfev': 2000}))
    results = [r for r in results
        if np.all(np.isfinite(r.x)) and np.isfinite(value(r.x))]
    if not results:
        return None
    return np.exp(min(results, key=lambda r: value(r.x)).x)


def _stationary(result, bounds):
    "Return whether the projected gradient of the result is small"
    gradient = np.array(result.jac, dtype=float)
    if not np.all(np.isfinite(gradient)):
        return False
    # a bound that the gradient pushes against is no direction of descent
    gradient[(result.x <= bounds.lb) & (gradient > 0)] = 0
    gradient[(result.x >= bounds.ub) & (gradient < 0)] = 0
    return bool(np.abs(gradient).max() < GRADIENT_TOLERANCE)


def fit_bgnbd(x, t_x, T, weights=None):
    """Return the maximum likelihood BGNBD parameters, or None

    weights counts the customers that share the same (x, t_x, T)."""
    data = _Customers(x, t_x, T, weights)
    total = data.weights.sum()
    scale = max(float(np.average(data.T, weights=data.weights)), 1e-9)

    def negative(log_params):
        value, gradient = _bgnbd_gradient(np.exp(log_params), data)
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            return np.inf, np.zeros(4)
        return -value / total, -gradient / total

    params = _fit(negative, [1.0, scale, 1.0, 1.0])
    return BGNBD(*map(float, params)) if params is not None else None


def _log_dropout_odds(params, x, t_x, T):
    """Return ln(P(dropped out) / P(alive)) given x, t_x and T (equation
    13): −inf for a customer with x = 0, who cannot have dropped out"""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    log_odds = np.full_like(x, -np.inf)
    repeat = x > 0
    x, t_x, T = x[repeat], t_x[repeat], T[repeat]
    log_odds[repeat] = np.log(a / (b + x - 1)) + (r + x) * (
        np.log(alpha + T) - np.log(alpha + t_x))
    return log_odds


def probability_alive(params, x, t_x, T):
    """Return P(alive at T | x, t_x, T) = 1 / (1 + odds): 1 for a customer
    with x = 0 (the logistic of the log odds does not overflow)"""
    return special.expit(-_log_dropout_odds(params, x, t_x, T))


def expected_purchases(params, t, x, t_x, T):
    "Return E[purchases in (T, T + t] | x, t_x, T] (equation 10)"
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    value = ((a + b + x - 1) / (a - 1)) * (1 - ratio * hyp)
    return value * probability_alive(params, x, t_x, T)


def probability_no_purchase(params, tau, x, t_x, T):
    """Return P(no purchase in (T, T + tau] | x, t_x, T)

    A BG/NBD customer only drops out right after a purchase, so an alive
    customer makes no purchase in tau with probability exp(-lambda tau);
    given alive, lambda follows the posterior Gamma(r + x, alpha + T), and
    the mean of exp(-lambda tau) over it is ((alpha + T) / (alpha + T +
    tau))^(r + x).  Hence, exactly:
    P = 1 - P(alive) + P(alive) ((alpha + T) / (alpha + T + tau))^(r + x).
    """
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    alive = probability_alive(params, x, t_x, T)
    quiet = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + tau)))
    return 1.0 - alive + alive * quiet


def gamma_gamma_log_likelihood(params, x, m):
    "Return the log-likelihood of each mean m of x > 0 purchases"
    p, q, gamma = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px)
        - special.gammaln(q) + q * np.log(gamma) + (px - 1) * np.log(m)
        + px * np.log(x) - (px + q) * np.log(gamma + m * x))


def _gamma_gamma_gradient(params, x, m, weights):
    """Return the weighted log-likelihood of the means m and its gradient
    in the logarithms of p, q and gamma"""
    p, q, gamma = params
    px = p * x
    log_total = np.log(gamma + m * x)
    value = _weighted_sum(weights, gamma_gamma_log_likelihood(params, x, m))
    psi_pxq = special.digamma(px + q)
    d_p = x * (psi_pxq - special.digamma(px) + np.log(m) + np.log(x)
        - log_total)
    d_q = psi_pxq - special.digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + m * x)
    gradient = np.array([
            _weighted_sum(weights, d) for d in (d_p, d_q, d_gamma)])
    return value, gradient * np.asarray(params)


def fit_gamma_gamma(x, m, weights=None):
    """Return the maximum likelihood GammaGamma parameters, or None

    weights counts the customers that share the same (x, m)."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    weights = _weights(weights, x)
    total = weights.sum()
    scale = max(float(np.average(m, weights=weights)), 1e-9)

    def negative(log_params):
        value, gradient = _gamma_gamma_gradient(
            np.exp(log_params), x, m, weights)
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            return np.inf, np.zeros(3)
        return -value / total, -gradient / total

    params = _fit(negative, [1.0, 2.0, scale])
    return GammaGamma(*map(float, params)) if params is not None else None


def conditional_expected_value(params, x, m):
    """Return E[value per purchase | x, m] (Fader and Hardie 2013, eq. 5)

    It is p (gamma + x m) / (p x + q - 1): the population mean
    p gamma / (q - 1) for x = 0, the customer's mean m as x grows; it
    needs q > 1."""
    p, q, gamma = params
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.asarray(m, dtype=float), 0.0)
    return p * (gamma + x * m) / (p * x + q - 1)
