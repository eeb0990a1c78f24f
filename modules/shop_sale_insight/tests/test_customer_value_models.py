# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The BG/NBD and Gamma-Gamma models against the published CDNOW fits."""
import csv
import os
import unittest

import warnings

import numpy as np
from scipy import optimize

from trytond.modules.shop_sale_insight.customer_value_models import (
    BGNBD, GammaGamma, _bgnbd_gradient, _Customers, _gamma_gamma_gradient,
    bgnbd_log_likelihood, conditional_expected_value, expected_purchases,
    fit_bgnbd, fit_gamma_gamma, probability_alive, probability_no_purchase)

CDNOW = os.path.join(
    os.path.dirname(__file__), 'data',
    'cdnow_customers_summary_with_transactions.csv')
# Fader, Hardie and Lee (2005), table 1; Fader and Hardie (2013)
PAPER_BGNBD = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
PAPER_GAMMA_GAMMA = GammaGamma(p=6.25, q=3.74, gamma=15.44)


def load_cdnow():
    with open(CDNOW, newline='') as fp:
        rows = list(csv.DictReader(fp))
    return tuple(
        np.array([float(r[c]) for r in rows])
        for c in ['x', 't_x', 'T', 'zbar'])


class CustomerValueModelsTestCase(unittest.TestCase):
    "Test the customer value models"

    @classmethod
    def setUpClass(cls):
        cls.x, cls.t_x, cls.T, cls.zbar = load_cdnow()

    def assertWithinPercent(self, fitted, published):
        for name, value in published._asdict().items():
            with self.subTest(parameter=name):
                self.assertLess(
                    abs(getattr(fitted, name) - value) / value, 0.01,
                    msg="%s = %s, paper %s" % (
                        name, getattr(fitted, name), value))

    def test_cdnow_sample(self):
        "The sample has the 2,357 customers of the paper"
        self.assertEqual(len(self.x), 2357)
        self.assertEqual(int((self.x > 0).sum()), 946)

    def test_bgnbd_cdnow(self):
        "BG/NBD on CDNOW gives the parameters and likelihood of the paper"
        params = fit_bgnbd(self.x, self.t_x, self.T)
        self.assertWithinPercent(params, PAPER_BGNBD)
        self.assertAlmostEqual(
            bgnbd_log_likelihood(params, self.x, self.t_x, self.T).sum(),
            -9582.4, delta=0.1)

    def test_bgnbd_weights(self):
        "Weighted distinct customers fit as the repeated customers"
        rows = np.stack([self.x, self.t_x, self.T], axis=1)
        distinct, counts = np.unique(rows, axis=0, return_counts=True)
        self.assertLess(len(distinct), len(rows))
        params = fit_bgnbd(*distinct.T, weights=counts)
        self.assertWithinPercent(params, PAPER_BGNBD)

    def test_gamma_gamma_cdnow(self):
        "Gamma-Gamma on the repeat customers of CDNOW"
        repeat = self.x > 0
        params = fit_gamma_gamma(self.x[repeat], self.zbar[repeat])
        self.assertWithinPercent(params, PAPER_GAMMA_GAMMA)

    def test_gamma_gamma_weights(self):
        "Weighted distinct (x, m) fit as the repeated customers"
        repeat = self.x > 0
        rows = np.stack([self.x[repeat], self.zbar[repeat]], axis=1)
        distinct, counts = np.unique(rows, axis=0, return_counts=True)
        self.assertLess(len(distinct), len(rows))
        params = fit_gamma_gamma(*distinct.T, weights=counts)
        self.assertWithinPercent(params, PAPER_GAMMA_GAMMA)

    def assertGradient(self, function, params):
        "The gradient in the logarithms is the finite difference one"
        log_params = np.log(params)
        _, gradient = function(log_params)
        numeric = optimize.approx_fprime(
            log_params, lambda p: function(p)[0], 1e-7)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-2)

    def test_bgnbd_gradient(self):
        "The analytic gradient of the BG/NBD log-likelihood"
        data = _Customers(self.x, self.t_x, self.T)
        self.assertGradient(
            lambda p: _bgnbd_gradient(np.exp(p), data), [0.5, 8, 1.5, 4])

    def test_gamma_gamma_gradient(self):
        "The analytic gradient of the Gamma-Gamma log-likelihood"
        repeat = self.x > 0
        x, m = self.x[repeat], self.zbar[repeat]
        weights = np.ones_like(x)
        self.assertGradient(
            lambda p: _gamma_gamma_gradient(np.exp(p), x, m, weights),
            [3, 2, 30])

    def test_bgnbd_ridge(self):
        """Without dropout the fit ends at a bound, without overflow

        Every customer buys every 8 to 14 days until T: the likelihood
        grows as the dropout probability a / (a + b) falls."""
        number = np.arange(1, 3001)
        interval = 8.0 + number % 7
        T = 100.0 + number % 600
        x = np.floor(T / interval)
        t_x = x * interval
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            params = fit_bgnbd(x, t_x, T)
            alive = probability_alive(params, x, t_x, T)
            orders = expected_purchases(params, 365, x, t_x, T)
        # within 10^6 times or 10^-6 times the start, at one of them
        ratios = np.log(np.array(params) / [1, np.mean(T), 1, 1])
        self.assertTrue(np.all(np.abs(ratios) <= np.log(1e6) + 1e-9))
        self.assertAlmostEqual(np.abs(ratios).max(), np.log(1e6))
        self.assertGreater(alive.min(), 0.999)
        # the NBD limit: the posterior mean rate over the horizon
        np.testing.assert_allclose(
            orders, 365 * (params.r + x) / (params.alpha + T), rtol=1e-3)

    def test_expected_purchases_paper(self):
        "Customer 1 of the paper: 1.226 expected purchases in 39 weeks"
        value, = expected_purchases(
            PAPER_BGNBD, 39, [2], [30.43], [38.86])
        self.assertAlmostEqual(value, 1.226, places=3)

    def test_probability_alive_edges(self):
        "P(alive): 1 without repeat, 1 with the last purchase at T"
        alive = probability_alive(
            PAPER_BGNBD, [0, 0, 3, 3, 3], [0, 0, 38, 20, 1], [38, 5, 38, 38, 38])
        self.assertEqual(alive[0], 1.0)
        self.assertEqual(alive[1], 1.0)
        # last purchase at T: a / (b + x - 1) odds only
        self.assertAlmostEqual(alive[2], 1 / (1 + 0.793 / (2.426 + 2)))
        # the longer since the last purchase, the less alive
        self.assertGreater(alive[2], alive[3])
        self.assertGreater(alive[3], alive[4])
        self.assertGreater(alive[4], 0.0)

    def test_probability_no_purchase(self):
        "P(no purchase in tau): 1 at tau 0, falls with tau, exact form"
        x, t_x, T = [2], [30.43], [38.86]
        self.assertAlmostEqual(
            probability_no_purchase(PAPER_BGNBD, 0, x, t_x, T)[0], 1.0)
        alive = probability_alive(PAPER_BGNBD, x, t_x, T)[0]
        quiet = ((4.414 + 38.86) / (4.414 + 38.86 + 13)) ** (0.243 + 2)
        self.assertAlmostEqual(
            probability_no_purchase(PAPER_BGNBD, 13, x, t_x, T)[0],
            1 - alive + alive * quiet)
        values = probability_no_purchase(PAPER_BGNBD, [4, 13, 52], x, t_x, T)
        self.assertTrue(np.all(np.diff(values) < 0))
        # never below the probability of having dropped out
        self.assertGreater(values[-1], 1 - alive)

    def test_conditional_expected_value(self):
        "The population mean without repeat, the own mean in the limit"
        p, q, gamma = PAPER_GAMMA_GAMMA
        value, = conditional_expected_value(PAPER_GAMMA_GAMMA, [0], [99])
        self.assertAlmostEqual(value, p * gamma / (q - 1))
        value, = conditional_expected_value(PAPER_GAMMA_GAMMA, [2], [22.35])
        self.assertAlmostEqual(
            value, p * (gamma + 2 * 22.35) / (p * 2 + q - 1))
        value, = conditional_expected_value(
            PAPER_GAMMA_GAMMA, [10 ** 6], [50])
        self.assertAlmostEqual(value, 50, places=3)
