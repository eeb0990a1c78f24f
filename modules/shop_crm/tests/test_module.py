# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import datetime as dt
from decimal import Decimal

from sql import Column, Values

from trytond.exceptions import UserError
from trytond.modules.company.tests import (
    CompanyTestMixin, PartyCompanyCheckEraseMixin, create_company,
    set_company)
from trytond.modules.party.tests import PartyCheckReplaceMixin
from trytond.modules.shop_crm.engagement import (
    SEGMENTS, quintile, segment_case)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction


class ShopCrmTestCase(
        PartyCompanyCheckEraseMixin, PartyCheckReplaceMixin,
        CompanyTestMixin, ModuleTestCase):
    "Test Shop CRM module"
    module = 'shop_crm'

    @with_transaction()
    def test_age(self):
        "Test age counts full years at the context date"
        pool = Pool()
        Party = pool.get('party.party')
        party = Party(name="Customer", birthday=dt.date(1990, 6, 15))
        party.save()
        for date, age in [
                (dt.date(2025, 6, 14), 34),
                (dt.date(2025, 6, 15), 35),
                (dt.date(2025, 12, 31), 35),
                ]:
            with Transaction().set_context(date=date):
                self.assertEqual(Party(party.id).age, age)

    @with_transaction()
    def test_referred_by_itself(self):
        "Test a party cannot refer itself"
        pool = Pool()
        Party = pool.get('party.party')
        party = Party(name="Customer")
        party.save()
        party.referred_by = party
        with self.assertRaises(UserError):
            party.save()

    @with_transaction()
    def test_marketing_consent_date(self):
        "Test the consent date follows the consent"
        pool = Pool()
        Party = pool.get('party.party')
        Date = pool.get('ir.date')
        party, = Party.create([{'name': "Customer",
                    'marketing_consent': True}])
        self.assertEqual(party.marketing_consent_date, Date.today())
        Party.write([party], {'marketing_consent': False})
        self.assertIsNone(party.marketing_consent_date)

    @with_transaction()
    def test_average_rating(self):
        "Test average rating and its searcher on party and product"
        pool = Pool()
        Party = pool.get('party.party')
        Rating = pool.get('party.crm.rating')
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        unit, = Uom.search([('name', '=', 'Unit')])
        template, = Template.create([{
                    'name': "Product", 'default_uom': unit.id,
                    'products': [('create', [{}])]}])
        product, = template.products
        company = create_company()
        with set_company(company):
            good, bad, unrated = Party.create([
                    {'name': "Good"}, {'name': "Bad"}, {'name': "None"}])
            Rating.create([
                    {'party': good.id, 'score': 5, 'product': product.id},
                    {'party': good.id, 'score': 4, 'product': product.id},
                    {'party': bad.id, 'score': 2},
                    ])
            self.assertEqual(
                Party.get_average_rating([good, bad, unrated], None),
                {good.id: Decimal('4.50'), bad.id: Decimal('2.00'),
                    unrated.id: None})
            self.assertEqual(
                Party.search([('average_rating', '>=', 4)]), [good])
            self.assertEqual(
                Party.search([('average_rating', '<', Decimal('2.5'))]),
                [bad])
            self.assertEqual(product.average_rating, Decimal('4.50'))

    def _check_rating_score_refused(self, score):
        pool = Pool()
        Party = pool.get('party.party')
        Rating = pool.get('party.crm.rating')
        company = create_company()
        with set_company(company):
            party = Party(name="Customer")
            party.save()
            with self.assertRaises(UserError) as cm, \
                    Transaction().set_user(0):
                Rating.create([{'party': party.id, 'score': score}])
            self.assertIn("between 1 and 5", cm.exception.message)

    @with_transaction()
    def test_rating_score_zero(self):
        "Test a score of 0 is refused"
        self._check_rating_score_refused(0)

    @with_transaction()
    def test_rating_score_six(self):
        "Test a score of 6 is refused"
        self._check_rating_score_refused(6)

    @with_transaction()
    def test_inquiry_workflow(self):
        "Test inquiry numbers, dates, interactions and delete guard"
        pool = Pool()
        Party = pool.get('party.party')
        Inquiry = pool.get('party.crm.inquiry')
        Interaction = pool.get('party.crm.interaction')
        company = create_company()
        with set_company(company):
            party = Party(name="Customer")
            party.save()
            inquiry = Inquiry(
                party=party, channel='email', subject="Size?")
            inquiry.save()
            self.assertTrue(inquiry.number.startswith('INQ'))
            self.assertEqual(inquiry.state, 'draft')

            Inquiry.open([inquiry])
            self.assertEqual(inquiry.state, 'open')
            self.assertTrue(inquiry.opened_date)
            with self.assertRaises(UserError):
                Inquiry.delete([inquiry])

            Inquiry.answer([inquiry])
            self.assertGreaterEqual(inquiry.response_time, dt.timedelta())
            Inquiry.close([inquiry])
            self.assertEqual(inquiry.state, 'closed')
            self.assertTrue(inquiry.closed_date)

            interactions = Interaction.search(
                [('origin', '=', str(inquiry))], order=[('id', 'ASC')])
            self.assertEqual(
                [(i.type, i.direction) for i in interactions],
                [('email', 'inbound'), ('email', 'outbound')])

            cancelled, = Inquiry.copy([inquiry])
            self.assertNotEqual(cancelled.number, inquiry.number)
            Inquiry.cancel([cancelled])
            Inquiry.delete([cancelled])

    @with_transaction()
    def test_channel_code_unique(self):
        "Test channel code is unique per company"
        pool = Pool()
        Channel = pool.get('sale.channel')
        company = create_company()
        other = create_company(name="Other")
        with set_company(company):
            Channel.create([{'name': "Store", 'code': 'store'}])
            Channel.create([{
                        'name': "Store", 'code': 'store',
                        'company': other.id}])
            with self.assertRaises(UserError), Transaction().set_user(0):
                Channel.create([{'name': "Shop", 'code': 'store'}])

    @with_transaction()
    def test_contact_mechanism_line(self):
        "Test LINE contact mechanism type"
        pool = Pool()
        Party = pool.get('party.party')
        party, = Party.create([{
                    'name': "Customer",
                    'contact_mechanisms': [('create', [{
                                    'type': 'line',
                                    'value': 'U4af4980629',
                                    }])],
                    }])
        mechanism, = party.contact_mechanisms
        self.assertEqual(mechanism.type, 'line')

    @with_transaction()
    def test_party_form_without_crm_group(self):
        "Test the party form hides CRM records from users without CRM"
        pool = Pool()
        Party = pool.get('party.party')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        sale_group = ModelData.get_id('sale', 'group_sale')
        crm_group = ModelData.get_id('shop_crm', 'group_crm')
        clerk, manager = User.create([
                {'login': 'clerk', 'groups': [('add', [sale_group])]},
                {'login': 'manager',
                    'groups': [('add', [sale_group, crm_group])]},
                ])
        for user, visible in [(clerk, False), (manager, True)]:
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                fields = Party.fields_view_get(view_type='form')['fields']
            with self.subTest(user=user.login):
                for name in ['crm_inquiries', 'crm_interactions',
                        'crm_ratings', 'crm_preferences', 'crm_attributes']:
                    self.assertEqual(name in fields, visible)
                self.assertIn('birthday', fields)

    @with_transaction()
    def test_engagement_interaction_decay(self):
        "Test an interaction one half-life old counts half"
        pool = Pool()
        Party = pool.get('party.party')
        Interaction = pool.get('party.crm.interaction')
        Rating = pool.get('party.crm.rating')
        Configuration = pool.get('party.crm.configuration')
        Engagement = pool.get('party.crm.engagement')
        today = dt.date(2025, 3, 31)
        company = create_company()
        with set_company(company), \
                Transaction().set_context(date=today):
            configuration = Configuration(1)
            configuration.engagement_half_life = 30
            configuration.engagement_interaction_target = Decimal(1)
            configuration.interaction_type_weights = [{
                    'type': 'call', 'weight': Decimal(2)}]
            configuration.save()
            fan, caller, silent = Party.create([
                    {'name': "Fan"}, {'name': "Caller"}, {'name': "Silent"}])
            Interaction.create([{
                        'party': fan.id, 'type': 'visit',
                        'date': dt.datetime(2025, 3, 1, 15, 0),
                        }, {
                        'party': caller.id, 'type': 'call',
                        'date': dt.datetime(2025, 3, 1, 9, 0),
                        }, {
                        'party': caller.id, 'type': 'call',
                        'date': dt.datetime(2024, 3, 1, 9, 0),
                        }])
            Rating.create([{'party': fan.id, 'score': 5}])

            Engagement.compute()

            fan_engagement, = Engagement.search([('party', '=', fan.id)])
            # 100 × (15 × 0.5 + 10 × (5 - 1) / 4) / 100
            self.assertEqual(
                fan_engagement.engagement_score, Decimal('17.50'))
            self.assertIsNone(fan_engagement.segment)
            self.assertEqual(fan_engagement.frequency, 0)
            caller_engagement, = Engagement.search(
                [('party', '=', caller.id)])
            # 2 × 0.5 reaches the target: the older call is outside the window
            self.assertEqual(
                caller_engagement.engagement_score, Decimal('15.00'))
            self.assertFalse(Engagement.search([('party', '=', silent.id)]))

            self.assertEqual(
                Party.search([('engagement_score', '>', 16)]), [fan])
            self.assertEqual(fan.engagement_score, Decimal('17.50'))

            Engagement.compute()
            self.assertEqual(Engagement.search([], count=True), 2)

    def _select_values(self, rows, *expressions):
        "Return the rows of expressions computed over the VALUES rows"
        values = Values(rows)
        columns = [Column(values, 'column%d' % i)
            for i in range(1, len(rows[0]) + 1)]
        cursor = Transaction().connection.cursor()
        cursor.execute(*values.select(
                *columns, *(e(*columns) for e in expressions)))
        return sorted(cursor)

    @with_transaction()
    def test_quintile(self):
        "Test quintiles split in fifths, share ties and start at 1"
        def quintiles(values):
            rows = self._select_values(
                [[v] for v in values], lambda v: quintile(v.asc))
            return [s for _, s in rows]
        for values, scores in [
                ([10, 20, 20, 30, 40, 50, 60, 70, 80, 90],
                    [1, 1, 1, 2, 3, 3, 4, 4, 5, 5]),
                ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]),
                ([1, 1, 1, 1, 2], [1, 1, 1, 1, 5]),
                ([5, 7], [1, 3]),
                ([5], [1]),
                ]:
            with self.subTest(values=values):
                self.assertEqual(quintiles(values), scores)

    @with_transaction()
    def test_segments(self):
        "Test every segment is reached from the R, F, M scores"
        expected = {
            (5, 5, 5): 'champion', (4, 4, 4): 'champion',
            (3, 5, 5): 'loyal', (5, 4, 3): 'loyal',
            (2, 5, 5): 'cannot_lose', (1, 4, 4): 'cannot_lose',
            (2, 4, 3): 'at_risk', (1, 5, 1): 'at_risk',
            (2, 3, 4): 'at_risk',
            (5, 3, 1): 'potential', (4, 2, 5): 'potential',
            (5, 1, 5): 'new', (4, 1, 1): 'new',
            (3, 3, 3): 'need_attention', (3, 2, 1): 'need_attention',
            (3, 1, 5): 'promising',
            (2, 1, 5): 'hibernating', (1, 3, 3): 'hibernating',
            (1, 1, 5): 'lost', (1, 1, 1): 'lost',
            }
        rows = self._select_values(
            [list(k) for k in expected], segment_case)
        self.assertEqual(
            {(r, f, m): s for r, f, m, s in rows}, expected)
        self.assertEqual(
            set(expected.values()), {s for s, _ in SEGMENTS if s})


del ModuleTestCase
