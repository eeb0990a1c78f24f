# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The predicted customer value stored by the engagement computation."""
import datetime as dt
import math
import unittest
from decimal import Decimal

import numpy as np

from trytond import backend
from trytond.exceptions import UserError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.currency.tests import add_currency_rate, create_currency
from trytond.modules.shop_sale_insight.predictive import PREDICTION_FIELDS
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

TODAY = dt.date(2025, 12, 31)
# Service sales of 1 at the price, cost 400 (profit = price − 400)
HISTORY = {
    "Aiko": [('2025-09-01', 1000), ('2025-10-01', 1000),
        ('2025-11-01', 1000), ('2025-12-01', 1000)],
    "Ben": [('2025-06-01', 1000), ('2025-12-15', 1000)],
    "Chie": [('2025-03-01', 5000)],
    "Dai": [('2024-06-01', 1000), ('2024-07-01', 1000)],
    "Fumi": [('2025-01-10', 1000), ('2025-02-10', 1000),
        ('2025-03-10', 1000)],
    # a return is not an order
    "Gen": [('2025-12-01', 1000), ('2025-12-10', -1000)],
    }


def jpy_company():
    jpy = create_currency('JPY')
    jpy.digits = 0
    jpy.rounding = Decimal(1)
    jpy.save()
    add_currency_rate(jpy, Decimal(1))
    return create_company(currency=jpy)


def service_product():
    pool = Pool()
    Uom = pool.get('product.uom')
    Template = pool.get('product.template')
    unit, = Uom.search([('name', '=', 'Unit')])
    template, = Template.create([{
                'name': "Treatment",
                'type': 'service',
                'default_uom': unit.id,
                'salable': True,
                'sale_uom': unit.id,
                'products': [('create', [{}])],
                'list_price': Decimal(1000),
                }])
    product, = template.products
    product.cost_price = Decimal(400)
    product.save()
    return product


def create_history(company, history):
    "Create the confirmed service sales of the history"
    pool = Pool()
    Party = pool.get('party.party')
    Sale = pool.get('sale.sale')
    product = service_product()
    parties = {}
    sales = []
    for name, orders in history.items():
        party, = Party.create([{
                    'name': name, 'addresses': [('create', [{}])]}])
        parties[name] = party
        for date, price in orders:
            sales.append({
                    'company': company.id,
                    'currency': company.currency.id,
                    'party': party.id,
                    'invoice_address': party.addresses[0].id,
                    'sale_date': dt.date.fromisoformat(date),
                    'invoice_method': 'manual',
                    'lines': [('create', [{
                                    'type': 'line',
                                    'product': product.id,
                                    'unit': product.default_uom.id,
                                    'quantity': 1 if price > 0 else -1,
                                    'unit_price': Decimal(abs(price)),
                                    }])],
                    })
    Sale.write(Sale.create(sales), {'state': 'confirmed'})
    return parties, product


def generate_history(company, product, customers):
    """Generate customers parties and their sales in three statements

    Customer k buys every 15 + (k mod 40) days from day 3k mod 300 of
    2024, at 1000 to 1800, until 2025-12-31 when k is a multiple of 3, else
    1 + (7k mod 6) times (then gone)."""
    cursor = Transaction().connection.cursor()
    # integers of the test only: formatted, as the backends differ in
    # their parameter style
    numbers = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
        "SELECT i + 1 FROM n WHERE i < %d) ")
    offset = "((p.k * 3) % 300 + (n.i - 1) * (15 + p.k % 40))"
    if backend.name == 'sqlite':
        date = "DATE('2024-01-01', '+' || " + offset + " || ' days')"
    else:
        date = "DATE '2024-01-01' + " + offset
    cursor.execute(numbers % customers + (
            "INSERT INTO party_party (code, name, active, create_uid, "
            "create_date) SELECT 'SYN' || i, 'Synthetic ' || i, "
            "(1 = 1), 0, CURRENT_TIMESTAMP FROM n"))
    cursor.execute(numbers % 50 + (
            "INSERT INTO sale_sale (company, currency, party, reference, "
            "state, sale_date, invoice_method, invoice_state, "
            "shipment_method, shipment_state, create_uid, create_date) "
            "SELECT %d, %d, p.id, 'syn', 'confirmed', " % (
                company.id, company.currency.id) + date + ", "
            "'manual', 'none', 'manual', 'none', 0, CURRENT_TIMESTAMP "
            "FROM (SELECT id, CAST(SUBSTR(code, 4) AS INTEGER) AS k "
            "FROM party_party WHERE code LIKE 'SYN%') AS p "
            "JOIN n ON n.i <= CASE WHEN p.k % 3 = 0 THEN 50 "
            "ELSE 1 + (p.k * 7) % 6 END "
            "WHERE " + offset + " <= 730"))
    cursor.execute(
        "INSERT INTO sale_line (sale, type, product, quantity, unit, "
        "unit_price, create_uid, create_date) "
        "SELECT id, 'line', %d, 1, %d, 1000 + ((id * 31) %% 9) * 100, 0, "
        "CURRENT_TIMESTAMP FROM sale_sale WHERE reference = 'syn'" % (
            product.id, product.default_uom.id))
    # Written in SQL, the sales are not seen by the facts' events
    Pool().get('sale.insight.fact').fill([company.id])


class PredictiveTestCase(unittest.TestCase):
    "Test the predicted customer value"

    @classmethod
    def setUpClass(cls):
        activate_module('shop_sale_insight')

    def compute(self, company):
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        with Transaction().set_context(date=TODAY):
            Engagement.compute()
        return {e.party.name: e for e in Engagement.search([
                    ('company', '=', company.id)])}

    @with_transaction()
    def test_median_interval_fallback(self):
        "A small shop gets the median interval estimate, labelled"
        company = jpy_company()
        with set_company(company):
            parties, _ = create_history(company, HISTORY)
            rows = self.compute(company)

            self.assertEqual(
                {n: r.prediction_method for n, r in rows.items()},
                dict.fromkeys(HISTORY, 'median_interval'))
            # Aiko: gaps 30, 31, 30 days: I = 30, 30 days since the last
            aiko = rows["Aiko"]
            self.assertEqual(aiko.probability_alive, 1.0)
            self.assertEqual(aiko.expected_orders, round(365 / 30, 2))
            self.assertEqual(aiko.churn_risk, round(math.exp(-90 / 30), 4))
            self.assertEqual(aiko.churn_band, 'low')
            self.assertEqual(aiko.predicted_profit, Decimal(7300))
            self.assertEqual(aiko.predicted_revenue, Decimal(12167))
            # Ben: one gap of 197 days, 16 days since the last
            ben = rows["Ben"]
            self.assertEqual(ben.expected_orders, round(365 / 197, 2))
            self.assertEqual(ben.churn_risk, round(math.exp(-90 / 197), 4))
            self.assertEqual(ben.churn_band, 'medium')
            self.assertEqual(ben.predicted_profit, Decimal(1112))
            # Chie, one-time buyer 305 days ago: I = median of 30, 197, 30
            # and 29.5 = 30; alive 90 / 305 past the 90 one-time days
            chie = rows["Chie"]
            alive = 90 / 305
            self.assertEqual(chie.probability_alive, round(alive, 4))
            self.assertEqual(chie.expected_orders, round(alive * 365 / 30, 2))
            self.assertEqual(
                chie.churn_risk, round(1 - alive * (1 - math.exp(-90 / 30)), 4))
            self.assertEqual(chie.churn_band, 'high')
            self.assertEqual(
                chie.predicted_profit,
                Decimal(alive * 365 / 30 * 4600).quantize(Decimal(1)))
            # Dai: I = 30, 548 days since the last: alive 60 / 548
            dai = rows["Dai"]
            self.assertEqual(dai.probability_alive, round(60 / 548, 4))
            # Gen's return is not an order: a one-time buyer 30 days ago
            gen = rows["Gen"]
            self.assertEqual(gen.probability_alive, 1.0)
            self.assertEqual(gen.expected_orders, round(365 / 30, 2))

    @with_transaction()
    def test_prediction_fields(self):
        "The party and the profitability rows read and search them"
        pool = Pool()
        Party = pool.get('party.party')
        Customer = pool.get('sale.insight.customer')
        company = jpy_company()
        with set_company(company):
            parties, _ = create_history(company, HISTORY)
            self.compute(company)
            aiko = Party(parties["Aiko"].id)
            self.assertEqual(aiko.churn_band, 'low')
            self.assertEqual(aiko.prediction_method, 'median_interval')
            self.assertEqual(aiko.predicted_profit, Decimal(7300))
            self.assertEqual(
                {p.name for p in Party.search([('churn_band', '=', 'high')])},
                {"Chie", "Dai", "Fumi"})
            with Transaction().set_context(
                    from_date=dt.date(2024, 1, 1), to_date=TODAY):
                customers = Customer.search(
                    [('expected_orders', '>', 5)], order=[('id', 'ASC')])
                self.assertEqual(
                    {c.customer.name for c in customers}, {"Aiko", "Gen"})
                self.assertEqual(
                    [c.churn_band for c in Customer.browse(
                            [parties["Ben"].id])], ['medium'])
            # another company's context reads nothing
            with Transaction().set_context(company=-1):
                self.assertIsNone(Party(parties["Aiko"].id).churn_band)

    @with_transaction()
    def test_store_prediction(self):
        "The stored prediction replaces the previous one, rounded"
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        company = jpy_company()
        with set_company(company):
            parties, _ = create_history(company, HISTORY)
            self.compute(company)
            prediction = {
                'method': 'bgnbd',
                'probability_alive': np.array([0.123456, 1.0]),
                'expected_orders': np.array([2.3456, 0.5]),
                'predicted_profit': np.array([1234.6, -20.4]),
                'predicted_revenue': np.array([2000.49, 0.0]),
                'churn_risk': np.array([0.7, 0.33]),
                }
            names = ["Aiko", "Ben"]
            for _ in range(2):
                Engagement._store_prediction(
                    company.id, np.array([parties[n].id for n in names]),
                    prediction, 0)
            rows = {e.party.name: e for e in Engagement.search([
                        ('company', '=', company.id)])}
            self.assertEqual(
                {n: tuple(getattr(r, f) for f in PREDICTION_FIELDS)
                    for n, r in rows.items()},
                dict.fromkeys(HISTORY, (None,) * 7) | {
                    "Aiko": (0.1235, 2.35, Decimal(1235), Decimal(2000),
                        0.7, 'high', 'bgnbd'),
                    "Ben": (1.0, 0.5, Decimal(-20), Decimal(0), 0.33,
                        'medium', 'bgnbd'),
                    })

    @with_transaction()
    def test_backtest_fallback(self):
        "The backtest of the small shop predicts its last 180 days"
        pool = Pool()
        Backtest = pool.get('sale.insight.customer_value.backtest')
        company = jpy_company()
        with set_company(company):
            create_history(company, HISTORY)
            self.compute(company)
            backtest, = Backtest.search([])
            self.assertEqual(backtest.calibration_date, dt.date(2025, 7, 4))
            self.assertEqual(backtest.method, 'median_interval')
            # Ben, Chie, Dai and Fumi had ordered by 2025-07-04; after it
            # only Ben orders, once, on 12-15: after the 90 churn days
            self.assertEqual(backtest.customers, 4)
            self.assertEqual(backtest.actual_orders, 1)
            self.assertAlmostEqual(
                backtest.aggregate_error, backtest.predicted_orders - 1,
                places=2)
            self.assertEqual(
                [(d.customers, d.actual_churn) for d in backtest.deciles],
                [(1, 1.0)] * 4)

    @with_transaction()
    def test_fitted(self):
        "Above the minimum of repeat customers, BG/NBD is fitted"
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        Backtest = pool.get('sale.insight.customer_value.backtest')
        company = jpy_company()
        with set_company(company):
            product = service_product()
            generate_history(company, product, 300)
            self.compute(company)
            rows = Engagement.search([('company', '=', company.id)])
            self.assertEqual(len(rows), 300)
            self.assertEqual(
                {r.prediction_method for r in rows}, {'bgnbd_gamma_gamma'})
            for row in rows:
                self.assertTrue(0 <= row.probability_alive <= 1)
                self.assertTrue(0 <= row.churn_risk <= 1)
                self.assertGreaterEqual(row.expected_orders, 0)
                self.assertEqual(
                    row.churn_band,
                    'low' if row.churn_risk < 0.33 else
                    'high' if row.churn_risk > 0.66 else 'medium')
            one_time = [r for r in rows if r.orders == 1]
            self.assertTrue(all(r.probability_alive == 1 for r in one_time))
            backtest, = Backtest.search([])
            self.assertEqual(backtest.method, 'bgnbd_gamma_gamma')
            self.assertEqual(len(backtest.deciles), 10)

    @with_transaction()
    def test_views(self):
        "The views showing the predictions render"
        pool = Pool()
        for model, types in [
                ('party.party', ['form']),
                ('party.crm.engagement', ['form', 'tree']),
                ('party.crm.configuration', ['form']),
                ('sale.insight.customer', ['form', 'tree']),
                ('sale.insight.customer_value.backtest', ['form', 'tree']),
                ('sale.insight.customer_value.backtest.decile', ['tree']),
                ]:
            Model = pool.get(model)
            for type_ in types:
                with self.subTest(model=model, type=type_):
                    result = Model.fields_view_get(view_type=type_)
                    if model != 'party.crm.configuration':
                        self.assertIn(
                            'churn_risk' if 'backtest' not in model
                            else 'customers', result['fields'])
                    if model == 'party.crm.configuration':
                        self.assertIn('prediction_horizon', result['fields'])

    @with_transaction()
    def test_horizon_positive(self):
        "A horizon of 0 days is refused"
        pool = Pool()
        Configuration = pool.get('party.crm.configuration')
        configuration = Configuration(1)
        configuration.prediction_horizon = 0
        with self.assertRaises(UserError):
            configuration.save()
