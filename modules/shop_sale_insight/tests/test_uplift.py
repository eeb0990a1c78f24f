# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The uplift of LINE pushes and scenarios against their holdouts."""
import datetime as dt
import unittest
from decimal import Decimal

from scipy import stats

from trytond.model.exceptions import ValidationError
from trytond.modules.company.tests import set_company
from trytond.modules.shop_sale_insight.uplift import welch_interval
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

from .test_predictive import create_history, jpy_company

PUSH_DATE = dt.datetime(2025, 6, 1, 10, 0)
ENTRY_DATE = dt.datetime(2025, 3, 1, 9, 0)
# Profit per customer in the window: the service costs 400
TREATED = [1100, 500, 1600, 600, 1100, 800]
HELD_OUT = [600, 0, 1100, 100]
# Without effect
SCENARIO_TREATED = [650, 0, 1100, 100, 600, 300]
SCENARIO_HELD_OUT = [600, 0, 1100, 100]


def history(prefix, profits, date):
    "Return the history of one sale per customer of the profit on the date"
    return {'%s%s' % (prefix, i): [(date, p + 400)] if p else []
        for i, p in enumerate(profits)}


class UpliftTestCase(unittest.TestCase):
    "Test the message uplift report"

    @classmethod
    def setUpClass(cls):
        activate_module('shop_sale_insight')

    def _setup(self):
        pool = Pool()
        Channel = pool.get('party.crm.line.channel')
        company = jpy_company()
        channel, = Channel.create([{
                    'name': "Shop", 'company': company.id,
                    'channel_secret': 's', 'access_token': 't',
                    'message_cost': Decimal('1.5'),
                    }])
        with set_company(company):
            parties, _ = self._history(company)
        return company, channel, parties

    def _history(self, company):
        return create_history(company, {
                **history('T', TREATED, '2025-06-10'),
                **history('H', HELD_OUT, '2025-06-20'),
                **history('ST', SCENARIO_TREATED, '2025-03-10'),
                **history('SH', SCENARIO_HELD_OUT, '2025-03-30'),
                # Out of the 30 days window: before and after the send
                'Before': [('2025-05-31', 9000)],
                'After': [('2025-07-01', 9000)],
                })

    def _push(self, company, channel, treated, held_out, date=PUSH_DATE):
        pool = Pool()
        SegmentPush = pool.get('party.crm.line.segment_push')
        Message = pool.get('party.crm.line.message')
        Holdout = pool.get('party.crm.line.holdout')
        push, = SegmentPush.create([{
                    'company': company.id, 'channel': channel.id,
                    'text': "Sale", 'date': date,
                    'holdout_share': Decimal('0.4'),
                    }])
        messages = Message.create([{
                    'company': company.id, 'channel': channel.id,
                    'party': p.id, 'text': "Sale"} for p in treated])
        SegmentPush.write([push], {'recipients': [('create', [{
                                'party': m.party.id, 'message': m.id}
                            for m in messages])]})
        Holdout.create([{
                    'company': company.id, 'push': push.id, 'party': p.id,
                    'reason': 'random', 'date': date}
                for p in held_out])
        return push

    def _scenario(self, company, channel, treated, held_out):
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        Holdout = pool.get('party.crm.line.holdout')
        scenario, = Scenario.create([{
                    'name': "Welcome", 'company': company.id,
                    'channel': channel.id, 'trigger': 'follow'}])
        Enrollment.create([{
                    'scenario': scenario.id, 'company': company.id,
                    'party': p.id, 'entry_date': ENTRY_DATE}
                for p in treated])
        Holdout.create([{
                    'company': company.id, 'scenario': scenario.id,
                    'party': p.id, 'reason': 'random', 'date': ENTRY_DATE}
                for p in held_out])
        return scenario

    def _uplifts(self, company, **context):
        Uplift = Pool().get('sale.insight.uplift')
        with Transaction().set_context(company=company.id, **context):
            uplifts = Uplift.search([])
            return {(u.push or u.scenario): u for u in uplifts}

    def assertInterval(self, uplift, treated, held_out):
        "Assert the interval is Welch's of scipy on the values, to the yen"
        interval = stats.ttest_ind(
            treated, held_out, equal_var=False).confidence_interval(0.95)
        self.assertAlmostEqual(float(uplift.uplift_lower), interval.low,
            delta=0.5)
        self.assertAlmostEqual(float(uplift.uplift_upper), interval.high,
            delta=0.5)

    @with_transaction()
    def test_uplift(self):
        "Test a known uplift is found with its interval, no effect covers 0"
        company, channel, parties = self._setup()

        def of(prefix, profits):
            return [parties['%s%s' % (prefix, i)]
                for i in range(len(profits))]
        treated = of('T', TREATED) + [parties['Before'], parties['After']]
        push = self._push(company, channel, treated, of('H', HELD_OUT))
        scenario = self._scenario(
            company, channel, of('ST', SCENARIO_TREATED),
            of('SH', SCENARIO_HELD_OUT))
        uplifts = self._uplifts(company)
        self.assertEqual(set(uplifts), {push, scenario})

        uplift = uplifts[push]
        # Before and After bought nothing in the window: profit 0
        treated_profits = TREATED + [0, 0]
        self.assertEqual(
            (uplift.recipients, uplift.holdouts), (8, 4))
        self.assertEqual(
            (uplift.treated_buyers, uplift.holdout_buyers), (6, 3))
        self.assertEqual(
            (uplift.treated_orders, uplift.holdout_orders), (6, 3))
        self.assertEqual(uplift.treated_profit, Decimal(5700))
        self.assertEqual(uplift.holdout_profit, Decimal(1800))
        self.assertEqual(uplift.treated_revenue, Decimal(5700 + 6 * 400))
        self.assertEqual(uplift.treated_profit_per_customer, Decimal(712))
        self.assertEqual(uplift.holdout_profit_per_customer, Decimal(450))
        # 5700 / 8 − 450 = 262.5, rounded to the yen
        self.assertEqual(uplift.uplift, Decimal(262))
        self.assertEqual(uplift.incremental_profit, Decimal(2100))
        self.assertEqual((uplift.messages, uplift.message_cost),
            (8, Decimal(12)))
        self.assertEqual(uplift.net_incremental_profit, Decimal(2088))
        self.assertInterval(uplift, treated_profits, HELD_OUT)

        # Without Before and After, the treated buy 500 more each
        Recipient = Pool().get('party.crm.line.segment_push.recipient')
        Recipient.delete(Recipient.search([
                    ('party', 'in',
                        [parties['Before'].id, parties['After'].id])]))
        uplift = self._uplifts(company)[push]
        self.assertEqual(uplift.uplift, Decimal(500))
        self.assertEqual(uplift.incremental_profit, Decimal(3000))
        self.assertLess(uplift.uplift_lower, Decimal(500))
        self.assertGreater(uplift.uplift_upper, Decimal(500))
        self.assertInterval(uplift, TREATED, HELD_OUT)

        uplift = uplifts[scenario]
        self.assertEqual(
            (uplift.recipients, uplift.holdouts), (6, 4))
        self.assertEqual(uplift.uplift, Decimal(8))
        self.assertLess(uplift.uplift_lower, 0)
        self.assertGreater(uplift.uplift_upper, 0)
        self.assertInterval(uplift, SCENARIO_TREATED, SCENARIO_HELD_OUT)
        self.assertEqual(uplift.messages, 0)

        # A window of 5 days misses the holdouts' sales on day 19
        uplift = self._uplifts(company, window=5)[push]
        self.assertEqual(uplift.holdout_buyers, 0)
        self.assertEqual(uplift.treated_buyers, 0)
        # A window of 10 days has the treated's sales on day 9 only
        uplift = self._uplifts(company, window=10)[push]
        self.assertEqual(
            (uplift.treated_buyers, uplift.holdout_buyers), (6, 0))

    @with_transaction()
    def test_window_validated(self):
        "Test a window out of range is refused"
        company = jpy_company()
        for window in [0, -1, 3661, '30', 2.5, True]:
            with self.subTest(window=window), \
                    self.assertRaises(ValidationError):
                self._uplifts(company, window=window)

    @with_transaction()
    def test_other_company(self):
        "Test a company the user may not read gives no row"
        company, channel, parties = self._setup()
        self._push(company, channel, [parties['T0']], [parties['H0']])
        self.assertEqual(len(self._uplifts(company)), 1)
        other = jpy_company()
        user, = Pool().get('res.user').create([{
                    'login': 'other', 'companies': [('add', [other.id])],
                    'company': other.id}])
        with Transaction().set_user(user.id):
            self.assertEqual(self._uplifts(company), {})

    @with_transaction()
    def test_window_local_day(self):
        "Test the window starts on the send's day in the company's timezone"
        pool = Pool()
        Channel = pool.get('party.crm.line.channel')
        company = jpy_company()
        company.timezone = 'Asia/Tokyo'
        company.save()
        channel, = Channel.create([{
                    'name': "Shop", 'company': company.id,
                    'channel_secret': 's', 'access_token': 't'}])
        with set_company(company):
            parties, _ = create_history(company, {
                    # 1 June in Tokyo, before the send of 2 June 00:30
                    'Eve': [('2025-06-01', 1400)],
                    'Day': [('2025-06-02', 1400)],
                    'Held': [],
                    })
        # 1 June 15:30 UTC is 2 June 00:30 in Tokyo
        push = self._push(
            company, channel, [parties['Eve'], parties['Day']],
            [parties['Held']], date=dt.datetime(2025, 6, 1, 15, 30))
        uplift = self._uplifts(company)[push]
        self.assertEqual(uplift.treated_buyers, 1)
        self.assertEqual(uplift.treated_profit, Decimal(1000))

        company.timezone = None
        company.save()
        uplift = self._uplifts(company)[push]
        self.assertEqual(uplift.treated_buyers, 2)
        self.assertEqual(uplift.treated_profit, Decimal(2000))

    def test_welch_interval(self):
        "Test the interval from sums is Welch's of scipy"
        treated, held_out = [3., 0., 7., 1., 9.], [1., 0., 2.]
        difference, lower, upper, p_value = welch_interval(
            len(treated), sum(treated), sum(x * x for x in treated),
            len(held_out), sum(held_out), sum(x * x for x in held_out))
        result = stats.ttest_ind(treated, held_out, equal_var=False)
        interval = result.confidence_interval(0.95)
        self.assertAlmostEqual(difference, 4 - 1)
        self.assertAlmostEqual(lower, interval.low)
        self.assertAlmostEqual(upper, interval.high)
        self.assertAlmostEqual(p_value, result.pvalue)
        self.assertEqual(welch_interval(1, 5, 25, 3, 3, 5)[1:], (
                None, None, None))
        self.assertEqual(welch_interval(0, 0, 0, 3, 3, 5), (
                None, None, None, None))
