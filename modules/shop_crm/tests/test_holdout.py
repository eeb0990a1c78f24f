# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The customers held out of LINE pushes and scenarios."""
import datetime as dt
from decimal import Decimal

from trytond.model.exceptions import ValidationError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.shop_crm.holdout import (
    PUSH_SEED, SCENARIO_SEED, is_held_out, seed)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_line import SECRET, TOKEN, FakeMessagingAPITestMixin, user_id
from .users import ShopDBTestCase, as_user, create_user


class HoldoutTestCase(FakeMessagingAPITestMixin, ShopDBTestCase):
    "Test the holdouts of LINE pushes and scenarios"

    def _setup(self, count):
        pool = Pool()
        Channel = pool.get('party.crm.line.channel')
        Party = pool.get('party.party')
        company = create_company()
        channel, = Channel.create([{
                    'name': "Shop", 'company': company.id,
                    'channel_secret': SECRET, 'access_token': TOKEN,
                    'api_url': self.api.url,
                    }])
        parties = Party.create([{
                    'name': "Customer %s" % i,
                    'marketing_consent': True,
                    'addresses': [('create', [{}])],
                    'contact_mechanisms': [('create', [{
                                    'type': 'line', 'value': user_id()}])],
                    } for i in range(count)])
        return company, channel, parties

    def _push(self, company, channel, parties, share):
        pool = Pool()
        Push = pool.get('party.crm.line.push', type='wizard')
        SegmentPush = pool.get('party.crm.line.segment_push')
        with set_company(company), Transaction().set_context(
                active_model='party.party',
                active_ids=[p.id for p in parties],
                active_id=parties[0].id):
            session_id, _, _ = Push.create()
            push = Push(session_id)
            push.start.company = company
            push.start.channel = channel
            push.start.text = "Sale"
            push.start.holdout_share = share
            push.transition_send()
        record, = SegmentPush.search([], order=[('id', 'DESC')], limit=1)
        return record

    def _sent_user_ids(self):
        "Return the LINE user ids the fake API was sent messages to"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        Message.send(Message.search([('state', '=', 'queued')]))
        sent = set()
        for request in self.api.posts():
            to = request['body']['to']
            sent.update([to] if isinstance(to, str) else to)
        return sent

    def test_hash_reproducible(self):
        "Test the choice depends only on the seed, the party and the share"
        parties = range(1, 5001)
        first = {p for p in parties if is_held_out(seed(PUSH_SEED, 7), p,
                Decimal('0.1'))}
        again = {p for p in parties if is_held_out(seed(PUSH_SEED, 7), p,
                Decimal('0.1'))}
        other = {p for p in parties if is_held_out(seed(PUSH_SEED, 8), p,
                Decimal('0.1'))}
        scenario = {p for p in parties if is_held_out(
                    seed(SCENARIO_SEED, 7), p, Decimal('0.1'))}
        self.assertEqual(first, again)
        # 10 % of 5,000 is 500, with a binomial deviation of about 21
        self.assertTrue(430 <= len(first) <= 570, len(first))
        self.assertTrue(430 <= len(other) <= 570, len(other))
        # Another seed chooses other parties: about 10 % in common
        self.assertLess(len(first & other), 100)
        self.assertLess(len(first & scenario), 100)
        self.assertEqual({p for p in parties if is_held_out(
                        seed(PUSH_SEED, 7), p, 0)}, set())

    @with_transaction()
    def test_push_holdout(self):
        "Test the push holds out 10 %, sends them nothing, as the hash says"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        Holdout = pool.get('party.crm.line.holdout')
        company, channel, parties = self._setup(60)
        push = self._push(company, channel, parties, Decimal('0.1'))
        expected = {p.id for p in parties if is_held_out(
                seed(PUSH_SEED, push.id), p.id, Decimal('0.1'))}
        holdouts = Holdout.search([('push', '=', push.id)])
        self.assertEqual({h.party.id for h in holdouts}, expected)
        self.assertTrue(1 <= len(expected) <= 15, len(expected))
        self.assertEqual({h.reason for h in holdouts}, {'random'})
        self.assertEqual({h.date for h in holdouts}, {push.date})
        self.assertEqual(
            {r.party.id for r in push.recipients},
            {p.id for p in parties} - expected)
        messages = Message.search([('party', 'in', list(expected))])
        self.assertEqual(messages, [])
        line_ids = {p.id: p.contact_mechanisms[0].value for p in parties}
        self.assertEqual(
            self._sent_user_ids(),
            {line_ids[p.id] for p in parties} - {
                line_ids[p] for p in expected})

        # Merging parties moves their holdouts and recipients
        Party = pool.get('party.party')
        Recipient = pool.get('party.crm.line.segment_push.recipient')
        Replace = pool.get('party.replace', type='wizard')
        held = [p for p in parties if p.id in expected][0]
        sent = [p for p in parties if p.id not in expected][0]
        for source, counts in [(held, (1, 0)), (sent, (0, 1))]:
            destination, = Party.create([{'name': source.name}])
            session_id, _, _ = Replace.create()
            replace = Replace(session_id)
            replace.ask.source = source
            replace.ask.destination = destination
            replace.transition_replace()
            self.assertEqual((
                    Holdout.search([('party', '=', destination.id)],
                        count=True),
                    Recipient.search([('party', '=', destination.id)],
                        count=True)), counts)

    @with_transaction()
    def test_push_holdout_zero(self):
        "Test a share of 0 holds out nobody"
        pool = Pool()
        Holdout = pool.get('party.crm.line.holdout')
        company, channel, parties = self._setup(20)
        push = self._push(company, channel, parties, Decimal(0))
        self.assertEqual(Holdout.search([('push', '=', push.id)]), [])
        self.assertEqual(len(push.recipients), 20)
        self.assertEqual(len(self._sent_user_ids()), 20)

    @with_transaction()
    def test_push_share_validated(self):
        "Test the wizard refuses a share out of [0, 1)"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        company, channel, parties = self._setup(2)
        for share in [Decimal('-0.1'), Decimal(1), None]:
            with self.subTest(share=share), \
                    self.assertRaises(ValidationError):
                self._push(company, channel, parties, share)
        self.assertEqual(Message.search([]), [])

    def _scenario(self, company, channel, trigger='follow', **values):
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        scenario, = Scenario.create([{
                    'name': "Welcome", 'company': company.id,
                    'channel': channel.id, 'trigger': trigger,
                    'steps': [('create', [{
                                    'delay': dt.timedelta(0),
                                    'text': "Welcome {name}!"}])],
                    **values}])
        Scenario.start([scenario])
        return scenario

    @with_transaction()
    def test_scenario_holdout(self):
        "Test a scenario holds out by default, held out get no steps"
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        Holdout = pool.get('party.crm.line.holdout')
        Message = pool.get('party.crm.line.message')
        company, channel, parties = self._setup(60)
        scenario = self._scenario(company, channel)
        self.assertEqual(scenario.holdout_share, Decimal('0.1'))
        expected = {p.id for p in parties if is_held_out(
                seed(SCENARIO_SEED, scenario.id), p.id, Decimal('0.1'))}
        self.assertTrue(expected)
        Scenario.enroll('follow', parties[:30], company)
        Scenario.enroll('follow', parties, company)
        # Enrolling again changes nothing
        Scenario.enroll('follow', parties, company)
        self.assertEqual(
            sorted(h.party.id for h in Holdout.search(
                    [('scenario', '=', scenario.id)])),
            sorted(expected))
        enrollments = Enrollment.search([('scenario', '=', scenario.id)])
        self.assertEqual(
            {e.party.id for e in enrollments},
            {p.id for p in parties} - expected)
        Enrollment.send_due(enrollments)
        self.assertEqual(
            Message.search([('party', 'in', list(expected))]), [])
        self.assertEqual(
            len(Message.search([])), len(parties) - len(expected))

    @with_transaction()
    def test_scenario_share_validated(self):
        "Test a scenario refuses a share out of [0, 1)"
        company, channel, _ = self._setup(0)
        for share in [Decimal('-0.01'), Decimal('1.5')]:
            with self.subTest(share=share), \
                    self.assertRaises(ValidationError):
                self._scenario(company, channel, holdout_share=share)

    @with_transaction()
    def test_sale_user_confirms_with_scenario(self):
        "Test a Sales user confirms a sale that enrolls the buyer"
        pool = Pool()
        Sale = pool.get('sale.sale')
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        Category = pool.get('product.category')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        company, channel, (party,) = self._setup(1)
        tea, = Category.create([{'name': "Tea"}])
        first = self._scenario(
            company, channel, 'first_sale', holdout_share=0)
        category = self._scenario(
            company, channel, 'category_sale', holdout_share=0,
            category=tea.id)
        unit, = Uom.search([('name', '=', 'Unit')])
        template, = Template.create([{
                    'name': "Tasting", 'type': 'service', 'salable': True,
                    'default_uom': unit.id, 'sale_uom': unit.id,
                    'categories': [('add', [tea.id])],
                    'products': [('create', [{}])]}])
        product, = template.products
        sale, = Sale.create([{
                    'company': company.id, 'party': party.id,
                    'currency': company.currency.id,
                    'invoice_address': party.addresses[0].id,
                    'invoice_method': 'manual',
                    'shipment_method': 'manual',
                    'lines': [('create', [{
                                    'product': product.id, 'quantity': 1,
                                    'unit': unit.id,
                                    'unit_price': Decimal(1000)}])],
                    }])
        user = create_user('seller', [('sale', 'group_sale')], [company])
        with as_user(user):
            Sale.quote([Sale(sale.id)])
            Sale.confirm([Sale(sale.id)])
        self.assertEqual(Sale(sale.id).state, 'confirmed')
        self.assertEqual(
            {e.scenario for e in Enrollment.search(
                    [('party', '=', party.id)])},
            {first, category})
