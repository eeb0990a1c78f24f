# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The context of the reports and the parameters of the forecast are
validated on the server."""
import datetime as dt

from trytond.exceptions import UserError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.shop_crm.tests.users import ShopDBTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

SALES_REPORTS = [
    'sale.insight.customer',
    'sale.insight.customer.time_series',
    'sale.insight.channel',
    'sale.insight.product',
    'sale.insight.category',
    'sale.insight.retention',
    'sale.insight.cohort',
    'sale.insight.segment_channel',
    ]
INVENTORY_REPORTS = [
    'sale.insight.inventory',
    'sale.insight.inventory.category',
    'sale.insight.inventory.overstock',
    ]
BAD_DATES = [
    {'from_date': '2025-01-01'},
    {'to_date': 20251231},
    {'from_date': dt.datetime(2025, 1, 1, 12)},
    {'from_date': dt.date(2025, 12, 31), 'to_date': dt.date(2025, 1, 1)},
    ]


class ValidationTestCase(ShopDBTestCase):
    "Test the validation of the insight input"
    module = 'shop_sale_insight'

    def _assert_refused(self, message, call):
        with self.assertRaises(UserError) as cm:
            call()
        self.assertIn(message, cm.exception.message)

    def _check_context(self, models, context, message):
        pool = Pool()
        company = create_company()
        with set_company(company):
            for name in models:
                Model = pool.get(name)
                with self.subTest(model=name, context=context), \
                        Transaction().set_context(context):
                    self._assert_refused(message, lambda: Model.search([]))

    def _check_dates(self, models):
        for context in BAD_DATES:
            message = (
                "must not be after" if len(context) == 2 else "must be a date")
            self._check_context(models, context, message)

    @with_transaction()
    def test_sales_context_dates(self):
        "Test dates that are strings, numbers or not in order are refused"
        self._check_dates(SALES_REPORTS)

    @with_transaction()
    def test_sales_context_period(self):
        "Test a period that is not a year, a month or a day is refused"
        self._check_context(
            ['sale.insight.customer.time_series'],
            {'period': "month'; --"}, "is not a year")

    @with_transaction()
    def test_inventory_context_dates(self):
        "Test the inventory refuses the same dates"
        self._check_dates(INVENTORY_REPORTS)

    @with_transaction()
    def test_abc_range(self):
        "Test ABC thresholds outside (0, 1] are refused"
        for context in [
                {'abc_a': 0.0}, {'abc_a': -0.2}, {'abc_b': 1.5},
                {'abc_a': '0.8'}]:
            self._check_context(
                INVENTORY_REPORTS, context, "above 0 and at most 1")

    @with_transaction()
    def test_abc_order(self):
        "Test a class A threshold not below class B is refused"
        for context in [
                {'abc_a': 0.9, 'abc_b': 0.9}, {'abc_a': 0.95, 'abc_b': 0.8}]:
            self._check_context(
                INVENTORY_REPORTS, context, "must be below the class B")

    @with_transaction()
    def test_inventory_days(self):
        "Test recent and overstock days out of range are refused"
        for context in [
                {'recent_days': 0}, {'overstock_days': -1},
                {'overstock_days': 10 ** 30}, {'recent_days': '30'}]:
            self._check_context(
                INVENTORY_REPORTS, context, "whole number of days")

    def _check_forecast(self, message, **parameters):
        pool = Pool()
        Forecast = pool.get('sale.insight.forecast')
        Compute = pool.get('sale.insight.forecast.compute', type='wizard')
        company = create_company()
        values = {
            'period': 'month', 'history': 36, 'horizon': 3, 'backtest': 6}
        values.update(parameters)
        with set_company(company):
            self._assert_refused(message, lambda: Forecast.compute(**values))
            session_id, _, _ = Compute.create()
            self._assert_refused(message, lambda: Compute.execute(
                    session_id, {'start': dict(values,
                            company=company.id, warehouse=None,
                            date=dt.date(2025, 7, 1))}, 'compute'))
            self.assertEqual(Forecast.search([]), [])

    @with_transaction()
    def test_forecast_history(self):
        "Test a history of fewer than 2 or absurdly many periods is refused"
        for history in [0, 1, -5, 10 ** 30, 241]:
            with self.subTest(history=history):
                self._check_forecast(
                    "must be a whole number", history=history, backtest=1)

    @with_transaction()
    def test_forecast_horizon(self):
        "Test a horizon of no or absurdly many periods is refused"
        for horizon in [0, -1, 10 ** 30]:
            with self.subTest(horizon=horizon):
                self._check_forecast("must be a whole number", horizon=horizon)

    @with_transaction()
    def test_forecast_backtest(self):
        "Test a backtest of no or absurdly many periods is refused"
        for backtest in [0, -1, 10 ** 30]:
            with self.subTest(backtest=backtest):
                self._check_forecast(
                    "must be a whole number", backtest=backtest)

    @with_transaction()
    def test_forecast_period(self):
        "Test a forecast period that is not a month or a week is refused"
        self._check_forecast("is not a month or a week", period='day')
