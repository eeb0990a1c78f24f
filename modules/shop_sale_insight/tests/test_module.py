# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import datetime as dt
import io
import unittest
import zipfile
from decimal import Decimal
from unittest.mock import patch

from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.modules.currency.tests import add_currency_rate, create_currency
from trytond.modules.shop_sale_insight import report as report_module
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

INSIGHT_MODELS = [
    'sale.insight.customer',
    'sale.insight.customer.time_series',
    'sale.insight.channel',
    'sale.insight.channel.time_series',
    'sale.insight.product',
    'sale.insight.product.time_series',
    'sale.insight.category',
    'sale.insight.category.time_series',
    ]


def create_service_sale(company):
    "Create a confirmed sale of a service dated 2025-01-15"
    pool = Pool()
    Party = pool.get('party.party')
    Uom = pool.get('product.uom')
    Template = pool.get('product.template')
    Channel = pool.get('sale.channel')
    Sale = pool.get('sale.sale')

    unit, = Uom.search([('name', '=', 'Unit')])
    template, = Template.create([{
                'name': "Gift Wrapping",
                'type': 'service',
                'default_uom': unit.id,
                'salable': True,
                'sale_uom': unit.id,
                'products': [('create', [{}])],
                'list_price': Decimal('300'),
                }])
    product, = template.products
    product.cost_price = Decimal('100')
    product.save()
    customer, = Party.create([{
                'name': "Alice",
                'addresses': [('create', [{}])],
                }])
    channel, = Channel.create([{
                'name': "LINE", 'code': 'LINE', 'company': company.id}])
    sale, = Sale.create([{
                'company': company.id,
                'currency': company.currency.id,
                'party': customer.id,
                'invoice_address': customer.addresses[0].id,
                'channel': channel.id,
                'sale_date': dt.date(2025, 1, 15),
                'invoice_method': 'manual',
                'lines': [('create', [{
                                'type': 'line',
                                'product': product.id,
                                'unit': unit.id,
                                'quantity': 3,
                                'unit_price': Decimal('300'),
                                }])],
                }])
    # Only the state matters to the reports: skip the workflow
    Sale.write([sale], {'state': 'confirmed'})
    return sale


class ShopSaleInsightTestCase(CompanyTestMixin, ModuleTestCase):
    "Test Shop Sale Insight module"
    module = 'shop_sale_insight'

    def _create_company(self):
        jpy = create_currency('JPY')
        jpy.digits = 0
        jpy.rounding = Decimal(1)
        jpy.save()
        add_currency_rate(jpy, Decimal(1))
        return create_company(currency=jpy)

    @with_transaction()
    def test_views(self):
        "Test every view of the insight models renders"
        pool = Pool()
        View = pool.get('ir.ui.view')
        for model in INSIGHT_MODELS + ['sale.insight.context']:
            Model = pool.get(model)
            types = ['form']
            if model != 'sale.insight.context':
                types += ['tree', 'graph']
            for type_ in types:
                with self.subTest(model=model, type=type_):
                    result = Model.fields_view_get(view_type=type_)
                    self.assertEqual(result['type'], type_)
                    self.assertTrue(result['arch'])
                    self.assertTrue(result['fields'])
            for view in View.search([('model', '=', model)]):
                with self.subTest(model=model, view=view.name):
                    result = Model.fields_view_get(view_id=view.id)
                    self.assertTrue(result['arch'])
                    self.assertIn(result['type'], {'tree', 'form', 'graph'})

    @with_transaction()
    def test_service_line(self):
        "Test a service line counts at the sale date with its product cost"
        pool = Pool()
        Customer = pool.get('sale.insight.customer')
        CustomerTimeseries = pool.get('sale.insight.customer.time_series')
        Product = pool.get('sale.insight.product')

        company = self._create_company()
        with set_company(company):
            sale = create_service_sale(company)
            with Transaction().set_context(
                    from_date=dt.date(2025, 1, 1),
                    to_date=dt.date(2025, 12, 31),
                    period='month'):
                customer, = Customer.search([])
                time_series, = CustomerTimeseries.search([])
                product, = Product.search([])

            self.assertEqual(customer.customer, sale.party)
            self.assertEqual(
                (customer.revenue, customer.cost, customer.profit,
                    customer.margin, customer.markup, customer.number,
                    customer.average_order),
                (Decimal(900), Decimal(300), Decimal(600),
                    Decimal('0.6667'), Decimal('2.0000'), 1, Decimal(900)))
            self.assertEqual(time_series.date, dt.date(2025, 1, 1))
            self.assertEqual(time_series.revenue, Decimal(900))
            self.assertEqual(product.quantity, 3)
            self.assertEqual(product.product, sale.lines[0].product)

            with Transaction().set_context(
                    from_date=dt.date(2025, 2, 1), period='month'):
                self.assertEqual(Customer.search([]), [])

    @with_transaction()
    def test_customer_time_series_read_by_id(self):
        "Test a customer time series row read alone gives its own figures"
        pool = Pool()
        Sale = pool.get('sale.sale')
        SaleLine = pool.get('sale.line')
        CustomerTimeseries = pool.get('sale.insight.customer.time_series')

        company = self._create_company()
        with set_company(company):
            sale = create_service_sale(company)
            later, = Sale.copy([sale], {'sale_date': dt.date(2025, 3, 2)})
            SaleLine.write(list(later.lines), {'quantity': 1})
            Sale.write([later], {'state': 'confirmed'})
            with Transaction().set_context(
                    from_date=dt.date(2025, 1, 1),
                    to_date=dt.date(2025, 12, 31),
                    period='month'):
                rows = CustomerTimeseries.search([])
                read = [
                    CustomerTimeseries.read(
                        [r.id], ['customer', 'date', 'revenue', 'number'])[0]
                    for r in reversed(rows)]

        self.assertEqual(
            [(r['customer'], r['date'], r['revenue'], r['number'])
                for r in read], [
                (sale.party.id, dt.date(2025, 3, 1), Decimal(300), 1),
                (sale.party.id, dt.date(2025, 1, 1), Decimal(900), 1),
                ])

    @with_transaction()
    def test_realised_lines(self):
        "Test the line-level realised query can be executed on its own"
        pool = Pool()
        Customer = pool.get('sale.insight.customer')
        cursor = Transaction().connection.cursor()

        company = self._create_company()
        with set_company(company):
            sale = create_service_sale(company)
            query = Customer._realised_lines()
            cursor.execute(*query.select(
                    query.sale, query.quantity, query.revenue, query.cost))
            (sale_id, quantity, revenue, cost), = cursor
        self.assertEqual(sale_id, sale.id)
        self.assertEqual(quantity, 3)
        self.assertEqual(Decimal(str(revenue)), Decimal(900))
        self.assertEqual(Decimal(str(cost)), Decimal(300))

    def _execute_customer_profitability(self):
        "Print the report of a service sale, return it and the sale"
        pool = Pool()
        Customer = pool.get('sale.insight.customer')
        Report = pool.get('sale.insight.customer.report', type='report')

        company = self._create_company()
        with set_company(company):
            sale = create_service_sale(company)
            with Transaction().set_context(
                    from_date=dt.date(2025, 1, 1),
                    to_date=dt.date(2025, 12, 31),
                    period='month'):
                customers = Customer.search([])
                return Report.execute([c.id for c in customers], {}), sale

    @with_transaction()
    def test_customer_profitability_report(self):
        "Test the customer profitability report renders (as ODT)"
        with patch.object(report_module, 'converter_available',
                return_value=False):
            (oext, content, _, name), sale = (
                self._execute_customer_profitability())

        self.assertEqual(oext, 'odt')
        self.assertEqual(name, 'Customer Profitability-Alice')
        with zipfile.ZipFile(io.BytesIO(content)) as odt:
            content = odt.read('content.xml').decode('utf-8')
        self.assertIn("Customer Profitability", content)
        self.assertIn(sale.party.rec_name, content)
        self.assertIn("600", content)
        self.assertIn("66.67 %", content)
        self.assertIn("200.00 %", content)
        self.assertNotIn("&lt;for", content)

    @unittest.skipUnless(
        report_module.converter_available(), "LibreOffice is not installed")
    @with_transaction()
    def test_customer_profitability_report_pdf(self):
        "Test the customer profitability report comes out as PDF"
        (oext, content, _, name), _ = self._execute_customer_profitability()
        self.assertEqual(oext, 'pdf')
        self.assertEqual(content[:5], b'%PDF-')
        self.assertEqual(name, 'Customer Profitability-Alice')


del ModuleTestCase
