# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Every input of the CRM is validated on the server, and fields set by
workflows cannot be written over RPC."""
import datetime as dt
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .users import ShopDBTestCase, as_user, create_user

CRM = [('shop_crm', 'group_crm')]


class ValidationTestCase(ShopDBTestCase):
    "Test the validation of the CRM input"
    module = 'shop_crm'

    def _party(self, name="Customer"):
        pool = Pool()
        Party = pool.get('party.party')
        party, = Party.create([{'name': name}])
        return party

    def _assert_refused(self, message, call):
        with self.assertRaises(UserError) as cm:
            call()
        self.assertIn(message, cm.exception.message)

    @with_transaction()
    def test_rating_score_not_whole(self):
        "Test a rating of 2.5 is refused, not stored as 2"
        pool = Pool()
        Rating = pool.get('party.crm.rating')
        company = create_company()
        with set_company(company):
            party = self._party()
            for score in [2.5, Decimal('2.5')]:
                with self.subTest(score=score):
                    self._assert_refused(
                        "whole number", lambda: Rating.create([
                                {'party': party.id, 'score': 4},
                                {'party': party.id, 'score': score},
                                ]))
            # Nothing half-written: the valid rating was not created
            self.assertEqual(Rating.search([]), [])
            rating, = Rating.create([{'party': party.id, 'score': 3.0}])
            self.assertEqual(rating.score, 3)
            self._assert_refused(
                "whole number",
                lambda: Rating.write([rating], {'score': 4.5}))
            self.assertEqual(Rating(rating.id).score, 3)

    @with_transaction()
    def test_birthday_future(self):
        "Test a birthday in the future is refused"
        pool = Pool()
        Party = pool.get('party.party')
        Date = pool.get('ir.date')
        party = self._party()
        self._assert_refused("in the future", lambda: Party.write(
                [party], {'birthday': Date.today() + dt.timedelta(days=1)}))
        Party.write([party], {'birthday': Date.today()})
        self.assertEqual(party.age, 0)

    @with_transaction()
    def test_referral_cycle(self):
        "Test A referred by B and B by A is refused"
        pool = Pool()
        Party = pool.get('party.party')
        a, b, c = [self._party(n) for n in "ABC"]
        Party.write([a], {'referred_by': b.id})
        Party.write([b], {'referred_by': c.id})
        self._assert_refused(
            "circle", lambda: Party.write([c], {'referred_by': a.id}))
        self._assert_refused(
            "circle", lambda: Party.write([b], {'referred_by': a.id}))
        # The domain of the field refuses it first
        self._assert_refused(
            "Referred by", lambda: Party.write([a], {'referred_by': a.id}))

    def _attributes(self):
        pool = Pool()
        Attribute = pool.get('party.crm.attribute')
        Attribute.create([
                {'name': 'size', 'string': "Size", 'type_': 'selection',
                    'selection': "S: Small\nM: Medium"},
                {'name': 'visits', 'string': "Visits", 'type_': 'integer'},
                {'name': 'since', 'string': "Since", 'type_': 'date'},
                ])

    @with_transaction()
    def test_attributes_unknown_key(self):
        "Test a customer attribute that does not exist is refused"
        pool = Pool()
        Party = pool.get('party.party')
        self._attributes()
        party = self._party()
        self._assert_refused(
            "not a customer attribute", lambda: Party.write(
                [party], {'crm_attributes': {'shoe': 'M'}}))
        Party.write([party], {'crm_attributes': {
                    'size': 'M', 'visits': 3, 'since': dt.date(2020, 1, 1)}})
        self.assertEqual(party.crm_attributes['visits'], 3)

    @with_transaction()
    def test_attributes_wrong_type(self):
        "Test a customer attribute value of the wrong type is refused"
        pool = Pool()
        Party = pool.get('party.party')
        self._attributes()
        party = self._party()
        for values in [
                {'visits': 'many'}, {'visits': 2.5}, {'visits': True},
                {'size': 'XL'}, {'since': '2020-01-01'}]:
            with self.subTest(values=values):
                self._assert_refused(
                    "does not have the type", lambda: Party.write(
                        [party], {'crm_attributes': values}))

    @with_transaction()
    def test_inquiry_missing_party(self):
        "Test an inquiry for a party that does not exist is refused"
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        company = create_company()
        with set_company(company):
            self._assert_refused("does not exist", lambda: Inquiry.create([{
                            'party': 999999, 'subject': "Ghost"}]))

    @with_transaction()
    def test_average_rating_search_string(self):
        "Test searching the average rating with a string is refused"
        pool = Pool()
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            for clause in [
                    ('average_rating', '>=', 'four'),
                    ('average_rating', 'in', ['4', 5]),
                    ('average_rating', 'like', '4%'),
                    ]:
                with self.subTest(clause=clause):
                    self._assert_refused(
                        "compared with numbers",
                        lambda: Party.search([clause]))
            self.assertEqual(
                Party.search([('average_rating', 'in', [4, 5])]), [])

    @with_transaction()
    def test_repurchase_due_days(self):
        "Test Repurchase Due days that are not 1 to 3660 are refused"
        pool = Pool()
        RepurchaseDue = pool.get('party.crm.repurchase_due')
        company = create_company()
        with set_company(company):
            for days in [0, -3, 10 ** 30, '14', 1.5]:
                with self.subTest(days=days), \
                        Transaction().set_context(days=days):
                    self._assert_refused(
                        "number of days", lambda: RepurchaseDue.search([]))
            with Transaction().set_context(days=3660):
                self.assertEqual(RepurchaseDue.search([]), [])

    def _inquiry(self, company):
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        party = self._party()
        inquiry, = Inquiry.create([{
                    'company': company.id, 'party': party.id,
                    'subject': "Size?"}])
        return inquiry

    @with_transaction()
    def test_inquiry_answered_before_opened(self):
        "Test an answer dated before the opening is refused"
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        company = create_company()
        with set_company(company):
            inquiry = self._inquiry(company)
            Inquiry.open([inquiry])
            self._assert_refused("before it was opened", lambda: Inquiry.write(
                    [inquiry], {'answered_date': inquiry.opened_date
                        - dt.timedelta(hours=1)}))

    @with_transaction()
    def test_inquiry_number_unique(self):
        "Test two inquiries of a company cannot share a number"
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        company = create_company()
        with set_company(company):
            first, second = self._inquiry(company), self._inquiry(company)
            self.assertNotEqual(first.number, second.number)
            self._assert_refused("unique per company", lambda: Inquiry.write(
                    [second], {'number': first.number}))

    def _check_bypass(self, values):
        "Test a CRM user cannot write values on an inquiry over RPC"
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        company = create_company()
        with set_company(company):
            user = create_user('crm', CRM, [company])
            inquiry = self._inquiry(company)
            Inquiry.open([inquiry])
            before = Inquiry.read([inquiry.id], list(values))
            with as_user(user):
                with self.assertRaises(AccessError):
                    Inquiry.write([Inquiry(inquiry.id)], values)
            self.assertEqual(Inquiry.read([inquiry.id], list(values)), before)
            # The workflow still sets them
            with as_user(user):
                Inquiry.answer([Inquiry(inquiry.id)])
            self.assertEqual(Inquiry(inquiry.id).state, 'answered')

    @with_transaction()
    def test_bypass_inquiry_state(self):
        "Test a CRM user cannot set an inquiry state to closed"
        self._check_bypass({'state': 'closed'})

    @with_transaction()
    def test_bypass_inquiry_answered_date(self):
        "Test a CRM user cannot set the answered date"
        self._check_bypass({'answered_date': dt.datetime(2000, 1, 1)})

    @with_transaction()
    def test_bypass_inquiry_opened_date(self):
        "Test a CRM user cannot set the opened date"
        self._check_bypass({'opened_date': dt.datetime(2000, 1, 1)})

    @with_transaction()
    def test_bypass_inquiry_number(self):
        "Test a CRM user cannot set the number"
        self._check_bypass({'number': 'X-1'})

    @with_transaction()
    def test_bypass_inquiry_create(self):
        "Test a CRM user cannot create a closed inquiry with its number"
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        company = create_company()
        with set_company(company):
            user = create_user('crm', CRM, [company])
            party = self._party()
            with as_user(user):
                with self.assertRaises(AccessError):
                    Inquiry.create([{
                                'party': party.id, 'subject': "Forged",
                                'state': 'closed',
                                'closed_date': dt.datetime(2000, 1, 1)}])
                inquiry, = Inquiry.create([{
                            'party': party.id, 'subject': "Chosen number",
                            'number': 'MINE'}])
                self.assertNotEqual(inquiry.number, 'MINE')
                self.assertEqual(inquiry.state, 'draft')

    @with_transaction()
    def test_bypass_engagement(self):
        "Test a CRM user cannot write the computed engagement"
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        company = create_company()
        with set_company(company):
            user = create_user('crm_admin', [
                    ('shop_crm', 'group_crm_admin')], [company])
            party = self._party()
            engagement, = Engagement.create([{
                        'company': company.id, 'party': party.id,
                        'engagement_score': Decimal(10)}])
            with as_user(user):
                with self.assertRaises(AccessError):
                    Engagement.write([engagement], {
                            'engagement_score': Decimal(99)})
            self.assertEqual(
                Engagement(engagement.id).engagement_score, Decimal(10))
