# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The forecasting methods on short known series."""
import random
import unittest

from trytond.modules.shop_sale_insight.forecast_methods import (
    backtest, candidates, croston, exponential_smoothing, fit_ses_alpha,
    holt_winters, moving_average, select, select_many, zero_share)

PATTERN = [-20, -10, 0, 10, 20, 30, 20, 10, 0, -10, -20, -30]
SEASONAL = [100 + 2 * t + PATTERN[t % 12] for t in range(48)]
INTERMITTENT = [
    0, 0, 3, 0, 0, 0, 2, 0, 0, 4, 0, 0, 0, 0, 3, 0, 0, 2, 0, 0, 0, 3, 0, 0]


class ForecastMethodsTestCase(unittest.TestCase):
    "Test the forecasting methods"

    def test_moving_average(self):
        "The mean of the last 3 periods, flat"
        self.assertEqual(moving_average([1, 2, 3, 4, 5, 6], 2), [5.0, 5.0])
        self.assertEqual(moving_average([4, 8], 1), [6.0])
        self.assertEqual(moving_average([], 1), [0.0])

    def test_ses_fixed_alpha(self):
        "SES with alpha 0.5: 10, 15, 22.5"
        self.assertEqual(
            exponential_smoothing([10, 20, 30], 2, alpha=0.5), [22.5, 22.5])

    def test_ses_fitted_alpha(self):
        "Alpha is fitted on the one-step errors"
        self.assertEqual(fit_ses_alpha([0, 10, 20, 30]), 0.95)
        # a flat history fits every alpha: the first of the grid
        self.assertEqual(fit_ses_alpha([5, 5, 5]), 0.05)

    def test_croston_sba(self):
        "Croston with and without SBA on an intermittent series"
        # sizes 4 then 2, intervals 3 then 4, alpha 0.1:
        # z = 0.1 * 2 + 0.9 * 4 = 3.8, p = 0.1 * 4 + 0.9 * 3 = 3.1
        history = [0, 0, 4, 0, 0, 0, 2, 0]
        value, = croston(history, 1, sba=False)
        self.assertAlmostEqual(value, 3.8 / 3.1)
        value, = croston(history, 1)
        self.assertAlmostEqual(value, 3.8 / 3.1 * 0.95)
        self.assertEqual(croston([0, 0, 0], 2), [0.0, 0.0])

    def test_holt_winters_exact(self):
        "Holt-Winters reproduces a noiseless trend and season"
        forecasts = holt_winters(SEASONAL[:36], 12, season=12)
        for forecast, actual in zip(forecasts, SEASONAL[36:]):
            self.assertAlmostEqual(forecast, actual)

    def test_holt_winters_noise(self):
        "Holt-Winters on a noisy seasonal series within 5 %"
        rng = random.Random(3)
        noisy = [v + rng.uniform(-5, 5) for v in SEASONAL]
        forecasts = holt_winters(noisy[:36], 12, season=12)
        for forecast, actual in zip(forecasts, SEASONAL[36:]):
            self.assertLess(abs(forecast - actual) / actual, 0.05)

    def test_holt_winters_two_seasons(self):
        "Holt-Winters needs 24 periods"
        with self.assertRaises(ValueError):
            holt_winters(SEASONAL[:23], 1, season=12)

    def test_candidates(self):
        "Holt-Winters from 24 periods, Croston on many zero periods"
        self.assertEqual(candidates(SEASONAL[:23]),
            ['moving_average', 'exponential_smoothing'])
        self.assertEqual(candidates(SEASONAL[:24]),
            ['moving_average', 'exponential_smoothing', 'holt_winters'])
        self.assertEqual(zero_share([0, 1, 0, 2]), 0.5)
        self.assertIn('croston', candidates(INTERMITTENT))

    def test_backtest(self):
        "Rolling origin: MAE and sMAPE of the one-step forecasts"
        # moving average of [1..t] forecasts t - 1 for t + 1: error 2
        mae, smape = backtest('moving_average', [1, 2, 3, 4, 5, 6], k=2)
        self.assertEqual(mae, 2.0)
        # 2 * 2 / (5 + 3) and 2 * 2 / (6 + 4)
        self.assertAlmostEqual(smape, (0.5 + 0.4) / 2)

    def test_select_lower_error(self):
        "The method with the lower backtest MAE is selected"
        result = select(list(range(1, 21)))
        self.assertEqual(result['method'], 'exponential_smoothing')
        self.assertEqual(result['errors']['moving_average'], 2.0)
        self.assertLess(result['mae'], 2.0)
        self.assertEqual(result['mae'], min(result['errors'].values()))

    def test_select_seasonal(self):
        "Holt-Winters is selected on a seasonal series"
        result = select(SEASONAL[:36], horizon=3)
        self.assertEqual(result['method'], 'holt_winters')
        self.assertEqual(len(result['forecasts']), 3)
        self.assertAlmostEqual(result['mae'], 0)

    def test_select_intermittent(self):
        "Every candidate is backtested on an intermittent series"
        result = select(INTERMITTENT)
        self.assertEqual(set(result['errors']),
            {'moving_average', 'exponential_smoothing', 'croston'})
        self.assertEqual(result['mae'], min(result['errors'].values()))
        result = select(INTERMITTENT, methods=['croston'])
        self.assertEqual(result['method'], 'croston')

    def test_select_short(self):
        "A single period falls back to the moving average"
        result = select([3])
        self.assertEqual(result['method'], 'moving_average')
        self.assertIsNone(result['mae'])
        self.assertEqual(result['forecasts'], [3.0])

    def test_select_many_same_as_select(self):
        "The batched selection gives the floats of select, series by series"
        rng = random.Random(11)
        for length in [1, 2, 5, 24, 29, 30, 36, 48]:
            histories = [
                [float(rng.choice([0, 0, 0, 1, 2, 5])) for _ in range(length)],
                [float(rng.randint(0, 50)) for _ in range(length)],
                [v + rng.random() for v in SEASONAL[:length]],
                [float(v) for v in (INTERMITTENT * 2)[:length]],
                ]
            for k in [1, 6]:
                expected = [select(h, horizon=3, k=k) for h in histories]
                self.assertEqual(
                    select_many(histories, horizon=3, k=k), expected)

    def test_select_many_returns_and_short_seasons(self):
        "The batched selection with returns, no demand and short seasons"
        rng = random.Random(5)
        tested = set()
        for length in [1, 3, 8, 9, 13]:
            histories = [
                [0.0] * length,
                [rng.choice([0.0, 0.0, -1.0, 2.5, 7.0])
                    for _ in range(length)],
                [rng.uniform(-3, 40) for _ in range(length)],
                ]
            for k in [2, 5, 20]:
                expected = [
                    select(h, horizon=4, k=k, season=4) for h in histories]
                results = select_many(histories, horizon=4, k=k, season=4)
                self.assertEqual(results, expected)
                tested.update(*(r['errors'] for r in results))
        self.assertEqual(tested, {
                'moving_average', 'exponential_smoothing', 'holt_winters',
                'croston'})
