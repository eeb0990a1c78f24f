# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import datetime as dt
from decimal import Decimal
from unittest.mock import patch

from trytond import config
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.currency.tests import add_currency_rate, create_currency
from trytond.modules.shop_sale_insight import forecast_methods
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

NO_DIFFERENCE = {'missing': [], 'extra': [], 'changed': []}


class ShopSaleInsightFactsTestCase(ModuleTestCase):
    "Test the sales facts stay equal to the on-the-fly realised lines"
    module = 'shop_sale_insight'

    def create_company(self):
        jpy = create_currency('JPY')
        jpy.digits = 0
        jpy.rounding = Decimal(1)
        jpy.save()
        add_currency_rate(jpy, Decimal(1))
        usd = create_currency('USD')
        add_currency_rate(usd, Decimal('0.01'))
        return create_company(currency=jpy)

    def setup_shop(self, company):
        "Return the records of a shop of the context company"
        pool = Pool()
        Currency = pool.get('currency.currency')
        Party = pool.get('party.party')
        Uom = pool.get('product.uom')
        Template = pool.get('product.template')
        Channel = pool.get('sale.channel')
        Location = pool.get('stock.location')

        jpy, = Currency.search([('code', '=', 'JPY')])
        usd, = Currency.search([('code', '=', 'USD')])
        unit, = Uom.search([('name', '=', 'Unit')])
        tea, wrapping = Template.create([{
                    'name': "Tea", 'type': 'goods',
                    'cost_price_method': 'average',
                    'default_uom': unit.id, 'salable': True,
                    'sale_uom': unit.id, 'list_price': Decimal(1000),
                    'products': [('create', [{}])],
                    }, {
                    'name': "Wrapping", 'type': 'service',
                    'default_uom': unit.id, 'salable': True,
                    'sale_uom': unit.id, 'list_price': Decimal(300),
                    'products': [('create', [{}])],
                    }])
        alice, bob = Party.create([
                {'name': "Alice", 'addresses': [('create', [{}])]},
                {'name': "Alice", 'addresses': [('create', [{}])]},
                ])
        store, line = Channel.create([
                {'name': "Store", 'code': 'STORE', 'company': company.id},
                {'name': "LINE", 'code': 'LINE', 'company': company.id},
                ])
        storage, = Location.search([('code', '=', 'STO')])
        customer, = Location.search([('code', '=', 'CUS')])
        supplier, = Location.search([('code', '=', 'SUP')])
        return {
            'company': company, 'jpy': jpy, 'usd': usd, 'unit': unit,
            'tea': tea.products[0], 'wrapping': wrapping.products[0],
            'alice': alice, 'bob': bob, 'store': store, 'line': line,
            'storage': storage, 'customer': customer, 'supplier': supplier,
            }

    def create_sale(self, shop, party, currency, lines, channel=None):
        pool = Pool()
        Sale = pool.get('sale.sale')
        sale, = Sale.create([{
                    'company': shop['company'].id,
                    'currency': currency.id,
                    'party': party.id,
                    'invoice_address': party.addresses[0].id,
                    'channel': channel.id if channel else None,
                    'sale_date': dt.date(2025, 1, 15),
                    'invoice_method': 'manual',
                    'shipment_method': 'manual',
                    'lines': [('create', [{
                                    'type': 'line',
                                    'product': product.id,
                                    'unit': shop['unit'].id,
                                    'quantity': quantity,
                                    'unit_price': price,
                                    } for product, quantity, price in lines])],
                    }])
        Sale.write([sale], {'state': 'processing'})
        return sale

    def create_move(self, shop, from_, to, quantity, date, unit_price,
            origin=None, currency=None):
        pool = Pool()
        Move = pool.get('stock.move')
        move, = Move.create([{
                    'product': shop['tea'].id,
                    'unit': shop['unit'].id,
                    'quantity': quantity,
                    'from_location': from_.id,
                    'to_location': to.id,
                    'effective_date': date,
                    'company': shop['company'].id,
                    'unit_price': unit_price,
                    'currency': (currency or shop['jpy']).id,
                    'origin': str(origin) if origin else None,
                    }])
        return move

    def ship_tea_and_wrapping(self, shop, quantities):
        "Sell tea and wrapping to Alice, ship the tea and return the moves"
        pool = Pool()
        Move = pool.get('stock.move')
        sale = self.create_sale(shop, shop['alice'], shop['jpy'], [
                (shop['tea'], sum(quantities), Decimal(1000)),
                (shop['wrapping'], 1, Decimal(300)),
                ])
        moves = [self.create_move(shop, shop['storage'], shop['customer'],
                q, dt.date(2025, 1, 20), Decimal(1000), origin=sale.lines[0])
            for q in quantities]
        Move.do(moves)
        return moves

    def assertExact(self, company):
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        self.assertEqual(Fact.differences(company.id), NO_DIFFERENCE)

    def facts(self, **domain):
        "Return (quantity, revenue, cost) of the facts with the values"
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        table = Fact.__table__()
        cursor = Transaction().connection.cursor()
        where = None
        for name, value in domain.items():
            condition = getattr(table, name) == value
            where = condition if where is None else where & condition
        cursor.execute(*table.select(
                table.quantity, table.revenue, table.cost, where=where,
                order_by=[table.id]))
        return [(q, round(Decimal(str(r)), 2), round(Decimal(str(c)), 2))
            for q, r, c in cursor]

    @with_transaction()
    def test_event_sequence(self):
        "Test the facts after done, cancel, return, costs, rates and merges"
        pool = Pool()
        Move = pool.get('stock.move')
        Sale = pool.get('sale.sale')
        Product = pool.get('product.product')
        Rate = pool.get('currency.currency.rate')
        Replace = pool.get('party.replace', type='wizard')

        company = self.create_company()
        with set_company(company):
            shop = self.setup_shop(company)
            # stock received at 400
            incoming = self.create_move(shop, shop['supplier'],
                shop['storage'], 10, dt.date(2025, 1, 2), Decimal(400))
            Move.do([incoming])

            sale = self.create_sale(shop, shop['alice'], shop['jpy'], [
                    (shop['tea'], 3, Decimal(1000)),
                    (shop['wrapping'], 1, Decimal(300)),
                    ], channel=shop['store'])
            goods, service = sale.lines
            self.assertExact(company)
            self.assertEqual(self.facts(sale_line=service.id),
                [(1, Decimal(300), Decimal(0))])

            # done
            shipped = self.create_move(shop, shop['storage'],
                shop['customer'], 3, dt.date(2025, 1, 20), Decimal(1000),
                origin=goods)
            self.assertEqual(self.facts(move=shipped.id), [])
            Move.do([shipped])
            self.assertExact(company)
            self.assertEqual(self.facts(move=shipped.id),
                [(3, Decimal(3000), Decimal(1200))])

            # cancel: a move not shipped, and the services of a sale
            unshipped = self.create_move(shop, shop['storage'],
                shop['customer'], 1, dt.date(2025, 1, 21), Decimal(1000),
                origin=goods)
            Move.cancel([unshipped])
            self.assertExact(company)
            cancelled = self.create_sale(shop, shop['bob'], shop['jpy'], [
                    (shop['wrapping'], 2, Decimal(300))])
            self.assertEqual(len(self.facts(sale=cancelled.id)), 1)
            Sale.write([cancelled], {'state': 'cancelled'})
            self.assertExact(company)
            self.assertEqual(self.facts(sale=cancelled.id), [])

            # return
            returned = self.create_move(shop, shop['customer'],
                shop['storage'], 1, dt.date(2025, 2, 3), Decimal(1000),
                origin=goods)
            Move.do([returned])
            self.assertExact(company)
            self.assertEqual(self.facts(move=returned.id),
                [(-1, Decimal(-1000), Decimal(-400))])

            # cancel of a done move
            mistake = self.create_move(shop, shop['storage'],
                shop['customer'], 2, dt.date(2025, 2, 4), Decimal(1000),
                origin=goods)
            Move.do([mistake])
            self.assertEqual(len(self.facts(move=mistake.id)), 1)
            Move.cancel([mistake])
            self.assertExact(company)
            self.assertEqual(self.facts(move=mistake.id), [])

            # cost recompute: the receipt was at 500, not 400
            Move.write([incoming], {
                    'unit_price': Decimal(500),
                    'unit_price_updated': True,
                    })
            Product.recompute_cost_price(
                [shop['tea']], start=dt.date(2025, 1, 1))
            self.assertExact(company)
            self.assertEqual(self.facts(move=shipped.id),
                [(3, Decimal(3000), Decimal(1500))])

            # landed cost: account_stock_landed_cost adds to the unit price
            # of the done receipt with Move.save, then the cost is
            # recomputed, which writes the done moves' cost_price
            incoming = Move(incoming.id)
            incoming.unit_price += Decimal(50)
            incoming.unit_price_updated = True
            Move.save([incoming])
            Product.recompute_cost_price(
                [shop['tea']], start=dt.date(2025, 1, 1))
            self.assertExact(company)
            self.assertEqual(self.facts(move=shipped.id),
                [(3, Decimal(3000), Decimal(1650))])

            # rate change: a USD sale shipped in February
            usd_sale = self.create_sale(shop, shop['bob'], shop['usd'], [
                    (shop['tea'], 1, Decimal(20))], channel=shop['line'])
            usd_move = self.create_move(shop, shop['storage'],
                shop['customer'], 1, dt.date(2025, 2, 10), Decimal(20),
                origin=usd_sale.lines[0], currency=shop['usd'])
            Move.do([usd_move])
            self.assertEqual(self.facts(move=usd_move.id)[0][1],
                Decimal(2000))
            rate, = Rate.create([{
                        'currency': shop['usd'].id,
                        'date': dt.date(2025, 2, 1),
                        'rate': Decimal('0.008'),
                        }])
            self.assertExact(company)
            self.assertEqual(self.facts(move=usd_move.id)[0][1],
                Decimal(2500))
            Rate.write([rate], {'date': dt.date(2025, 3, 1)})
            self.assertExact(company)
            self.assertEqual(self.facts(move=usd_move.id)[0][1],
                Decimal(2000))
            Rate.write([rate], {'date': dt.date(2025, 2, 1)})
            Rate.delete([rate])
            self.assertExact(company)
            self.assertEqual(self.facts(move=usd_move.id)[0][1],
                Decimal(2000))

            # channel change
            Sale.write([sale], {'channel': shop['line'].id})
            self.assertExact(company)
            self.assertEqual(len(self.facts(channel=shop['line'].id)), 4)

            # party merge: Bob's sales become Alice's
            session_id, _, _ = Replace.create()
            replace = Replace(session_id)
            replace.ask.source = shop['bob']
            replace.ask.destination = shop['alice']
            replace.transition_replace()
            self.assertExact(company)
            self.assertEqual(self.facts(customer=shop['bob'].id), [])
            self.assertEqual(len(self.facts(customer=shop['alice'].id)), 4)

    @with_transaction()
    def test_check_reports_differences(self):
        "Test the check finds rows missing, extra and changed"
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        table = Fact.__table__()
        cursor = Transaction().connection.cursor()

        company = self.create_company()
        with set_company(company):
            shop = self.setup_shop(company)
            moves = self.ship_tea_and_wrapping(shop, [1, 1])
            self.assertExact(company)

            cursor.execute(*table.select(table.id, table.move,
                    order_by=[table.id]))
            ids = {move: id_ for id_, move in cursor}
            cursor.execute(*table.delete(where=table.move == moves[0].id))
            cursor.execute(*table.update([table.cost], [Decimal(1)],
                    where=table.move == moves[1].id))
            cursor.execute(*table.insert(
                    [table.id, table.company, table.date, table.revenue],
                    [[1, company.id, dt.date(2025, 1, 1), Decimal(5)]]))
            self.assertEqual(Fact.differences(company.id), {
                    'missing': [ids[moves[0].id]],
                    'extra': [1],
                    'changed': [ids[moves[1].id]],
                    })

            pool.get('company.company').rebuild_sales_facts([company])
            self.assertExact(company)

    @with_transaction()
    def test_rebuild_wizard_queued(self):
        "Test the rebuild wizard queues one task of the company with a worker"
        pool = Pool()
        Queue = pool.get('ir.queue')
        Rebuild = pool.get('sale.insight.fact.rebuild', type='wizard')

        company = self.create_company()
        with set_company(company):
            session_id, _, _ = Rebuild.create()
            rebuild = Rebuild(session_id)
            rebuild.start.company = company
            worker = {('queue', 'worker'): True}
            getboolean = config.getboolean
            with patch.object(config, 'getboolean',
                    lambda section, option, default=None: worker.get(
                        (section, option),
                        getboolean(section, option, default=default))):
                self.assertEqual(rebuild.transition_rebuild(), 'end')
        task, = Queue.search([])
        self.assertEqual(task.data['model'], 'company.company')
        self.assertEqual(task.data['method'], 'rebuild_sales_facts')
        self.assertEqual(list(task.data['instances']), [company.id])

    @with_transaction()
    def test_fill_on_update(self):
        "Test the table is filled once when it is created, not twice"
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        table = Fact.__table__()
        cursor = Transaction().connection.cursor()

        company = self.create_company()
        with set_company(company):
            shop = self.setup_shop(company)
            self.ship_tea_and_wrapping(shop, [2])

        def rows():
            cursor.execute(*table.select(
                    table.id, table.move, table.sale_line, table.quantity,
                    order_by=[table.id]))
            return list(cursor)

        before = rows()
        self.assertEqual(len(before), 2)
        # a database of before the table
        cursor.execute('DROP TABLE "%s"' % Fact._table)
        Fact.__register__('shop_sale_insight')
        self.assertEqual(rows(), before)
        # a second update changes nothing
        Fact.__register__('shop_sale_insight')
        self.assertEqual(rows(), before)
        with set_company(company):
            self.assertExact(company)

    @with_transaction()
    def test_forecast_history_starts_at_first_move(self):
        "Test a product sold for one year is forecast on one year"
        pool = Pool()
        Move = pool.get('stock.move')
        Forecast = pool.get('sale.insight.forecast')

        company = self.create_company()
        with set_company(company):
            shop = self.setup_shop(company)
            receipt = self.create_move(shop, shop['supplier'],
                shop['storage'], 100, dt.date(2025, 1, 5), Decimal(400))
            Move.do([receipt])
            sale = self.create_sale(shop, shop['alice'], shop['jpy'], [
                    (shop['tea'], 100, Decimal(1000))])
            quantities = [4, 0, 0, 6, 0, 0, 5, 0, 0, 3, 0, 2]
            moves = [self.create_move(shop, shop['storage'],
                    shop['customer'], q, dt.date(2025, m, 20),
                    Decimal(1000), origin=sale.lines[0])
                for m, q in enumerate(quantities, 1) if q]
            Move.do(moves)
            Forecast.compute(history=36, horizon=3, backtest=6,
                date=dt.date(2026, 1, 1))

            history = Forecast.search([
                    ('product', '=', shop['tea'].id),
                    ('actual', '!=', None),
                    ], order=[('date', 'ASC')])
            forecasts = Forecast.search([
                    ('product', '=', shop['tea'].id),
                    ('quantity', '!=', None),
                    ], order=[('date', 'ASC')])
        self.assertEqual(history[0].date, dt.date(2025, 1, 1))
        self.assertEqual([h.actual for h in history], quantities)
        expected = forecast_methods.select(
            [float(q) for q in quantities], horizon=3, k=6, season=12)
        self.assertEqual(len(history), 12)
        self.assertAlmostEqual(
            float(forecasts[0].error), expected['mae'], places=3)
        self.assertEqual(forecasts[0].method, expected['method'])
        self.assertAlmostEqual(
            float(forecasts[0].quantity), expected['forecasts'][0], places=3)

    @with_transaction()
    def test_return_is_not_an_order(self):
        "Test a return refreshes no recency, frequency or retention"
        pool = Pool()
        Move = pool.get('stock.move')
        Engagement = pool.get('party.crm.engagement')
        Retention = pool.get('sale.insight.retention')

        company = self.create_company()
        with set_company(company):
            shop = self.setup_shop(company)
            sale = self.create_sale(shop, shop['alice'], shop['jpy'], [
                    (shop['tea'], 2, Decimal(1000))])
            shipped = self.create_move(shop, shop['storage'],
                shop['customer'], 2, dt.date(2025, 1, 10), Decimal(1000),
                origin=sale.lines[0])
            refund = self.create_sale(shop, shop['alice'], shop['jpy'], [
                    (shop['tea'], 1, Decimal(1000))])
            returned = self.create_move(shop, shop['customer'],
                shop['storage'], 1, dt.date(2025, 3, 10), Decimal(1000),
                origin=refund.lines[0])
            Move.do([shipped, returned])

            with Transaction().set_context(date=dt.date(2025, 4, 1)):
                Engagement.compute()
            engagement, = Engagement.search([
                    ('party', '=', shop['alice'].id)])
            with Transaction().set_context(
                    from_date=dt.date(2025, 1, 1),
                    to_date=dt.date(2025, 3, 31)):
                months = Retention.search([])

        self.assertEqual(engagement.orders, 1)
        self.assertEqual(engagement.frequency, 1)
        self.assertEqual(engagement.last_sale_date, dt.date(2025, 1, 10))
        self.assertEqual(engagement.recency_days, 81)
        self.assertEqual(engagement.usual_interval, None)
        self.assertEqual(engagement.monetary, Decimal(1000))
        self.assertEqual(
            [(m.date, m.active_customers, m.repeat_customers)
                for m in months],
            [(dt.date(2025, 1, 1), 1, 0)])


del ModuleTestCase
