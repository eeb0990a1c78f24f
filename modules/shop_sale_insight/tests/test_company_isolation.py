# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Two companies with data in each and a user of company A with every
group: called with the context company B, nothing returns B's data and
nothing writes in B."""
import datetime as dt
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model import ModelSQL, fields
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.currency.tests import add_currency_rate, create_currency
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_module import create_service_sale
from trytond.modules.shop_crm.tests.users import (
    EVERY_GROUP, ShopDBTestCase, as_user, create_user, savepoint)

PERIOD = {
    'from_date': dt.date(2025, 1, 1),
    'to_date': dt.date(2025, 12, 31),
    'period': 'month',
    }
PARTY_FIELDS = [
    'engagement_score', 'rfm_segment', 'lifetime_value',
    'expected_next_sale', 'average_rating']
# Fixed in parallel on other branches of the models' SQL
RETENTION_MODELS = [
    'sale.insight.retention',
    'sale.insight.cohort',
    'sale.insight.segment_channel',
    ]


def _company(name, code):
    currency = create_currency(code)
    currency.digits = 0
    currency.rounding = Decimal(1)
    currency.save()
    add_currency_rate(currency, Decimal(1))
    return create_company(name=name, currency=currency)


class CompanyIsolationTestCase(ShopDBTestCase):
    "Test nothing crosses from company B to a user of company A"
    module = 'shop_sale_insight'

    def _setup(self):
        """Create companies A and B with a sale, a rating, an inquiry, an
        engagement, a forecast and a LINE channel each; return A, B, the
        user of A and B's customer"""
        pool = Pool()
        Rating = pool.get('party.crm.rating')
        Inquiry = pool.get('party.crm.inquiry')
        Engagement = pool.get('party.crm.engagement')
        Forecast = pool.get('sale.insight.forecast')
        Location = pool.get('stock.location')
        Channel = pool.get('party.crm.line.channel')
        self.data = {}
        companies = []
        for name, code in [("Shop A", 'JPA'), ("Shop B", 'JPB')]:
            company = _company(name, code)
            companies.append(company)
            with set_company(company), \
                    Transaction().set_context(date=dt.date(2025, 6, 30)):
                sale = create_service_sale(company)
                product = sale.lines[0].product
                rating, = Rating.create([{
                            'party': sale.party.id, 'score': 5,
                            'product': product.id, 'sale': sale.id,
                            }])
                inquiry, = Inquiry.create([{
                            'party': sale.party.id, 'subject': "Size?",
                            }])
                Engagement.compute()
                warehouse, = Location.search([('type', '=', 'warehouse')])
                Forecast.create([{
                            'company': company.id, 'product': product.id,
                            'warehouse': warehouse.id, 'period': 'month',
                            'date': dt.date(2025, 7, 1), 'quantity': 3,
                            }])
                channel, = Channel.create([{
                            'name': name, 'company': company.id,
                            'channel_secret': 'secret-%s' % code,
                            'access_token': 'token-%s' % code,
                            }])
                self.data[name] = {
                    'sale': sale, 'party': sale.party, 'product': product,
                    'inquiry': inquiry, 'channel': channel,
                    }
        company_a, company_b = companies
        user = create_user('isolation', EVERY_GROUP, [company_a])
        return company_a, company_b, user, self.data["Shop B"]

    def _rows_of(self, company):
        "Return the ids and write dates of the rows of company per model"
        pool = Pool()
        IrModel = pool.get('ir.model')
        cursor = Transaction().connection.cursor()
        rows = {}
        for model in IrModel.search([
                    ('module', 'in', ['shop_crm', 'shop_sale_insight']),
                    ]):
            Model = pool.get(model.name)
            if (not issubclass(Model, ModelSQL) or Model._is_table_query()
                    or not isinstance(
                        Model._fields.get('company'), fields.Many2One)):
                continue
            table = Model.__table__()
            cursor.execute(*table.select(
                    table.id, table.write_date,
                    where=table.company == company.id,
                    order_by=[table.id]))
            rows[model.name] = list(cursor)
        return rows

    def _assert_nothing_written(self, company, before):
        self.assertEqual(self._rows_of(company), before)

    def _insight_models(self):
        pool = Pool()
        IrModel = pool.get('ir.model')
        return [m.name for m in IrModel.search([
                    ('name', 'like', 'sale.insight.%'),
                    ])
            if issubclass(pool.get(m.name), ModelSQL)]

    def _check_model_empty(self, name, user, company_b):
        pool = Pool()
        Model = pool.get(name)
        with as_user(user, company=company_b.id, **PERIOD):
            try:
                records = Model.search([])
            except AccessError:
                records = []
            self.assertEqual(
                [r.id for r in records if r.company == company_b], [],
                msg=name)
            self.assertEqual(records, [], msg=name)

    @with_transaction()
    def test_insight_models(self):
        "Test the insight models with company B return nothing"
        company_a, company_b, user, _ = self._setup()
        for name in self._insight_models():
            if name in RETENTION_MODELS:
                continue
            with self.subTest(model=name):
                self._check_model_empty(name, user, company_b)

    def _check_retention_model(self, name):
        company_a, company_b, user, _ = self._setup()
        self._check_model_empty(name, user, company_b)

    @with_transaction()
    def test_retention(self):
        "Test the retention with company B returns nothing"
        self._check_retention_model('sale.insight.retention')

    @with_transaction()
    def test_cohort(self):
        "Test the cohorts with company B return nothing"
        self._check_retention_model('sale.insight.cohort')

    @with_transaction()
    def test_segment_channel(self):
        "Test the segments per channel with company B return nothing"
        self._check_retention_model('sale.insight.segment_channel')

    @with_transaction()
    def test_own_company(self):
        "Test the same calls with company A do return A's figures"
        pool = Pool()
        Customer = pool.get('sale.insight.customer')
        Party = pool.get('party.party')
        company_a, company_b, user, _ = self._setup()
        party_a = self.data["Shop A"]['party']
        with as_user(user, company=company_a.id, **PERIOD):
            customer, = Customer.search([])
            self.assertEqual(customer.customer, party_a)
            self.assertEqual(customer.revenue, Decimal(900))
            party, = Party.read([party_a.id], PARTY_FIELDS)
            self.assertEqual(party['average_rating'], Decimal('5.00'))
            # The only customer of A scores 1, 1, 1
            self.assertEqual(party['rfm_segment'], 'lost')

    @with_transaction()
    def test_party_fields(self):
        "Test the party function fields with company B are empty"
        pool = Pool()
        Party = pool.get('party.party')
        Product = pool.get('product.product')
        company_a, company_b, user, data_b = self._setup()
        party_b = data_b['party']
        with as_user(user, company=company_b.id, **PERIOD):
            values, = Party.read([party_b.id], PARTY_FIELDS)
            for name in PARTY_FIELDS:
                with self.subTest(field=name):
                    self.assertIsNone(values[name])
                    self.assertEqual(
                        Party.search([(name, '!=', None)]), [])
            self.assertEqual(
                Party.search([('average_rating', '>=', 1)]), [])
            product, = Product.read(
                [data_b['product'].id], ['average_rating'])
            self.assertIsNone(product['average_rating'])

    @with_transaction()
    def test_recompute_engagement(self):
        "Test Recompute Engagement and its cron with company B are refused"
        pool = Pool()
        Configuration = pool.get('party.crm.configuration')
        Engagement = pool.get('party.crm.engagement')
        company_a, company_b, user, _ = self._setup()
        before = self._rows_of(company_b)
        with as_user(user, company=company_b.id):
            with self.assertRaises(AccessError):
                Configuration.recompute_engagement([Configuration(1)])
            with self.assertRaises(AccessError):
                Engagement.compute()
        self._assert_nothing_written(company_b, before)

    @with_transaction()
    def test_forecast_wizard(self):
        "Test the forecast wizard for company B or 999 is refused"
        pool = Pool()
        Compute = pool.get('sale.insight.forecast.compute', type='wizard')
        Forecast = pool.get('sale.insight.forecast')
        company_a, company_b, user, _ = self._setup()
        before = self._rows_of(company_b)
        for company in [company_b.id, 999]:
            with self.subTest(company=company), as_user(user):
                session_id, _, _ = Compute.create()
                with self.assertRaises(AccessError):
                    Compute.execute(session_id, {
                            'start': {
                                'company': company,
                                'period': 'month',
                                'history': 12,
                                'horizon': 3,
                                'backtest': 3,
                                'date': dt.date(2025, 7, 1),
                                'warehouse': None,
                                },
                            }, 'compute')
                Compute.delete(session_id)
        with as_user(user, company=company_b.id):
            with self.assertRaises(AccessError):
                Forecast.compute()
        self._assert_nothing_written(company_b, before)

    @with_transaction()
    def test_crons(self):
        "Test every cron method of both modules writes nothing in B"
        pool = Pool()
        Cron = pool.get('ir.cron')
        company_a, company_b, user, _ = self._setup()
        methods = [m for m, _ in Cron.fields_get(['method'])['method'][
                'selection']
            if m and m.split('|')[0].startswith(('party.crm', 'sale.insight'))]
        self.assertGreaterEqual(len(methods), 3)
        before = self._rows_of(company_b)
        for method in methods:
            model, name = method.split('|')
            with self.subTest(method=method):
                with as_user(user, company=company_b.id):
                    try:
                        getattr(pool.get(model), name)()
                    except AccessError:
                        pass
                self._assert_nothing_written(company_b, before)

    @with_transaction()
    def test_interaction_origin(self):
        "Test an interaction cannot take B's inquiry or sale as origin"
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        company_a, company_b, user, data_b = self._setup()
        for origin in [data_b['inquiry'], data_b['sale']]:
            with self.subTest(origin=origin.__name__):
                with self.assertRaises(UserError), set_company(company_a):
                    Interaction.create([{
                                'company': company_a.id,
                                'party': data_b['party'].id,
                                'type': 'note',
                                'origin': str(origin),
                                }])

    @with_transaction()
    def test_create_in_company_b(self):
        "Test records of company B cannot be created by the user of A"
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        company_a, company_b, user, data_b = self._setup()
        before = self._rows_of(company_b)
        with as_user(user, company=company_b.id), savepoint():
            with self.assertRaises(AccessError):
                Inquiry.create([{
                            'company': company_b.id,
                            'party': data_b['party'].id,
                            'subject': "Forged",
                            }])
        self._assert_nothing_written(company_b, before)

    @with_transaction()
    def test_line_push(self):
        "Test the LINE push wizard cannot send through B's channel"
        pool = Pool()
        Push = pool.get('party.crm.line.push', type='wizard')
        ContactMechanism = pool.get('party.contact_mechanism')
        Party = pool.get('party.party')
        company_a, company_b, user, data_b = self._setup()
        party = data_b['party']
        ContactMechanism.create([{
                    'party': party.id, 'type': 'line',
                    'value': 'U' + '0' * 32,
                    }])
        Party.write([party], {'marketing_consent': True})
        before = self._rows_of(company_b)
        with as_user(user, active_model='party.party',
                active_ids=[party.id], active_id=party.id):
            session_id, _, _ = Push.create()
            try:
                Push.execute(session_id, {
                        'start': {
                            'company': company_b.id,
                            'channel': data_b['channel'].id,
                            'text': "Sale!",
                            'recipients': [party.id],
                            'excluded': 0,
                            },
                        }, 'send')
            except AccessError:
                pass
        self._assert_nothing_written(company_b, before)

    @with_transaction()
    def test_line_link_code(self):
        "Test a link code cannot be created in company B"
        pool = Pool()
        Create = pool.get('party.crm.line.link_code.create', type='wizard')
        company_a, company_b, user, data_b = self._setup()
        before = self._rows_of(company_b)
        with as_user(user, company=company_b.id,
                active_model='party.party',
                active_ids=[data_b['party'].id],
                active_id=data_b['party'].id):
            session_id, _, _ = Create.create()
            try:
                Create.execute(session_id, {}, 'start')
            except AccessError:
                pass
        self._assert_nothing_written(company_b, before)
