# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""What a LINE push or scenario earned, against its holdout.

One row per push and per scenario of the context company.  Each customer
of the push (its recipients and holdouts) or of the scenario (its
enrollments and holdouts) is followed over the context ``window`` of days
from the send (the push date, the entry or holdout date of the scenario):
the realised sales of the facts in that window give the customer's orders,
revenue and profit, zero when the customer did not buy.  The groups are
compared by Welch's t on the profit per customer."""
import math
from decimal import Decimal

from scipy import stats
from sql import Cast, Literal, Null, Union
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import Function

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.currency.fields import Monetary
from trytond.modules.shop_crm.engagement import (
    company_timezone, local_timestamp)
from trytond.pool import Pool
from trytond.transaction import Transaction

from .engagement import realised_lines
from .facts import insight_company
from .retention import _SalesMixin

DEFAULT_WINDOW = 30
MAX_WINDOW = 3660
CONFIDENCE = 0.95


class _JulianDay(Function):
    __slots__ = ()
    _function = 'JULIANDAY'


class _Date(Function):
    __slots__ = ()
    _function = 'DATE'


def days_after(date, start):
    "Return the SQL number of days from the day of start to date"
    if backend.name == 'sqlite':
        return _JulianDay(_Date(date)) - _JulianDay(_Date(start))
    return Cast(date, 'DATE') - Cast(start, 'DATE')


def welch_interval(n1, sum1, squares1, n0, sum0, squares0,
        confidence=CONFIDENCE):
    """Return the difference of the means of two groups, the bounds of its
    confidence interval by Welch's t and the two-sided p-value

    Each group is given by its size, the sum of its values and the sum of
    their squares.  The bounds and p-value are None when a group has fewer
    than two members."""
    if not n1 or not n0:
        return None, None, None, None
    mean1, mean0 = sum1 / n1, sum0 / n0
    difference = mean1 - mean0
    if n1 < 2 or n0 < 2:
        return difference, None, None, None
    var1 = max(squares1 - n1 * mean1 ** 2, 0) / (n1 - 1)
    var0 = max(squares0 - n0 * mean0 ** 2, 0) / (n0 - 1)
    se1, se0 = var1 / n1, var0 / n0
    se = math.sqrt(se1 + se0)
    if not se:
        return difference, difference, difference, None
    df = (se1 + se0) ** 2 / (se1 ** 2 / (n1 - 1) + se0 ** 2 / (n0 - 1))
    margin = stats.t.ppf((1 + confidence) / 2, df) * se
    p_value = 2 * stats.t.sf(abs(difference) / se, df)
    return difference, difference - margin, difference + margin, p_value


def check_window():
    "Refuse a window that is not a whole number of days in range"
    window = Transaction().context.get('window', DEFAULT_WINDOW)
    if (isinstance(window, bool) or not isinstance(window, int)
            or not 1 <= window <= MAX_WINDOW):
        raise ValidationError(gettext(
                'shop_sale_insight.msg_context_days',
                name='window', value=window, minimum=1, maximum=MAX_WINDOW))
    return window


class UpliftContext(ModelView):
    __string__ = "Message Uplift Context"
    __name__ = 'sale.insight.uplift.context'
    company = fields.Many2One('company.company', "Company", required=True)
    window = fields.Integer(
        "Window", required=True,
        domain=[
            ('window', '>=', 1),
            ('window', '<=', MAX_WINDOW),
            ],
        help="The days after the send in which the sales count.")

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_window(cls):
        return DEFAULT_WINDOW


class Uplift(_SalesMixin, ModelSQL, ModelView):
    __string__ = "Message Uplift"
    __name__ = 'sale.insight.uplift'
    kind = fields.Selection([
            ('push', "Push"),
            ('scenario', "Scenario"),
            ], "Kind")
    push = fields.Many2One('party.crm.line.segment_push', "Push")
    scenario = fields.Many2One('party.crm.line.scenario', "Scenario")
    channel = fields.Many2One('party.crm.line.channel', "Channel")
    currency = fields.Function(
        fields.Many2One('currency.currency', "Currency"), 'get_currency')
    date = fields.DateTime("Date", help="The first send.")
    recipients = fields.Integer(
        "Recipients", help="The customers who were sent the messages.")
    holdouts = fields.Integer(
        "Holdouts", help="The customers held out, who were sent nothing.")
    treated_buyers = fields.Integer(
        "Recipient Buyers",
        help="The recipients who ordered in the window.")
    holdout_buyers = fields.Integer(
        "Holdout Buyers", help="The holdouts who ordered in the window.")
    treated_orders = fields.Integer("Recipient Orders")
    holdout_orders = fields.Integer("Holdout Orders")
    treated_revenue = Monetary(
        "Recipient Revenue", currency='currency', digits='currency')
    holdout_revenue = Monetary(
        "Holdout Revenue", currency='currency', digits='currency')
    treated_profit = Monetary(
        "Recipient Profit", currency='currency', digits='currency')
    holdout_profit = Monetary(
        "Holdout Profit", currency='currency', digits='currency')
    treated_profit_squares = fields.Float(
        "Recipient Profit Squares",
        help="The sum of the squares of the profit per recipient.")
    holdout_profit_squares = fields.Float(
        "Holdout Profit Squares",
        help="The sum of the squares of the profit per holdout.")
    messages = fields.Integer("Messages")
    message_cost = Monetary(
        "Message Cost", currency='currency', digits='currency',
        help="The messages at the cost per message of the channel.")

    treated_orders_per_customer = fields.Function(fields.Float(
            "Orders per Recipient", digits=(16, 2)), 'get_figures')
    holdout_orders_per_customer = fields.Function(fields.Float(
            "Orders per Holdout", digits=(16, 2)), 'get_figures')
    treated_revenue_per_customer = fields.Function(Monetary(
            "Revenue per Recipient", currency='currency',
            digits='currency'), 'get_figures')
    holdout_revenue_per_customer = fields.Function(Monetary(
            "Revenue per Holdout", currency='currency', digits='currency'),
        'get_figures')
    treated_profit_per_customer = fields.Function(Monetary(
            "Profit per Recipient", currency='currency', digits='currency'),
        'get_figures')
    holdout_profit_per_customer = fields.Function(Monetary(
            "Profit per Holdout", currency='currency', digits='currency'),
        'get_figures')
    uplift = fields.Function(Monetary(
            "Uplift", currency='currency', digits='currency',
            help="Profit per recipient minus profit per holdout."),
        'get_figures')
    uplift_lower = fields.Function(Monetary(
            "Uplift Lower Bound", currency='currency', digits='currency',
            help="The lower bound of the 95% confidence interval "
            "(Welch's t)."),
        'get_figures')
    uplift_upper = fields.Function(Monetary(
            "Uplift Upper Bound", currency='currency', digits='currency',
            help="The upper bound of the 95% confidence interval "
            "(Welch's t)."),
        'get_figures')
    p_value = fields.Function(fields.Float(
            "P-Value", digits=(1, 4),
            help="The probability of a difference at least this large "
            "if the messages had no effect (Welch's t)."),
        'get_figures')
    incremental_profit = fields.Function(Monetary(
            "Incremental Profit", currency='currency', digits='currency',
            help="The uplift times the recipients."),
        'get_figures')
    net_incremental_profit = fields.Function(Monetary(
            "Net Incremental Profit", currency='currency',
            digits='currency',
            help="The incremental profit minus the message cost."),
        'get_figures')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def _members(cls, company):
        """Return the query of the customers of the pushes and scenarios:
        kind, source, company, channel, party, start and treated (1 or 0)"""
        pool = Pool()
        Push = pool.get('party.crm.line.segment_push')
        Recipient = pool.get('party.crm.line.segment_push.recipient')
        Holdout = pool.get('party.crm.line.holdout')
        Scenario = pool.get('party.crm.line.scenario')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        push, recipient = Push.__table__(), Recipient.__table__()
        scenario, enrollment = Scenario.__table__(), Enrollment.__table__()
        push_holdout, scenario_holdout = (
            Holdout.__table__(), Holdout.__table__())

        def push_members(table, treated):
            return table.join(push, condition=table.push == push.id).select(
                Literal('push').as_('kind'), push.id.as_('source'),
                push.company.as_('company'), push.channel.as_('channel'),
                table.party.as_('party'), push.date.as_('start'),
                Literal(treated).as_('treated'),
                where=push.company == company)

        def scenario_members(table, start, treated):
            return table.join(
                scenario, condition=table.scenario == scenario.id).select(
                Literal('scenario').as_('kind'), scenario.id.as_('source'),
                scenario.company.as_('company'),
                scenario.channel.as_('channel'),
                table.party.as_('party'), start.as_('start'),
                Literal(treated).as_('treated'),
                where=scenario.company == company)
        return Union(
            push_members(recipient, 1),
            push_members(push_holdout, 0),
            scenario_members(enrollment, enrollment.entry_date, 1),
            scenario_members(scenario_holdout, scenario_holdout.date, 0),
            all_=True)

    @classmethod
    def _messages(cls, company):
        "Return the query of the messages per kind and source"
        pool = Pool()
        Push = pool.get('party.crm.line.segment_push')
        Recipient = pool.get('party.crm.line.segment_push.recipient')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        Activity = pool.get('party.crm.line.scenario.activity')
        push, recipient = Push.__table__(), Recipient.__table__()
        enrollment, activity = Enrollment.__table__(), Activity.__table__()
        return Union(
            recipient.join(push, condition=recipient.push == push.id).select(
                Literal('push').as_('kind'), push.id.as_('source'),
                Count(recipient.message).as_('messages'),
                where=push.company == company,
                group_by=[push.id]),
            activity.join(enrollment,
                condition=activity.enrollment == enrollment.id).select(
                Literal('scenario').as_('kind'),
                enrollment.scenario.as_('source'),
                Count(activity.message).as_('messages'),
                where=enrollment.company == company,
                group_by=[enrollment.scenario]),
            all_=True)

    @classmethod
    def _member_sales(cls, company, window):
        """Return the query of the orders, revenue and profit per member

        A sale date is the shop's, so the window starts on the day of the
        send in the company's timezone."""
        timezone = company_timezone(company if company >= 0 else None)
        lines = realised_lines()
        sales = lines.select(
            lines.customer.as_('customer'), lines.sale.as_('sale'),
            Min(lines.date).as_('date'),
            Sum(lines.revenue).as_('revenue'),
            Sum(lines.revenue - lines.cost).as_('profit'),
            group_by=[lines.customer, lines.sale])
        members = cls._members(company)
        days = days_after(
            sales.date, local_timestamp(members.start, timezone))
        join = members.join(sales, 'LEFT', condition=(
                sales.customer == members.party)
            & (days >= 0) & (days < window))
        # A sale with a negative revenue is a return, not an order
        return join.select(
            members.kind, members.source, members.company, members.channel,
            members.party, members.treated,
            Min(members.start).as_('start'),
            Sum(Case(((sales.sale != Null) & (sales.revenue >= 0), 1),
                    else_=0)).as_('orders'),
            Coalesce(Sum(sales.revenue), 0).as_('revenue'),
            Coalesce(Sum(sales.profit), 0).as_('profit'),
            group_by=[members.kind, members.source, members.company,
                members.channel, members.party, members.treated])

    @classmethod
    def table_query(cls):
        pool = Pool()
        Channel = pool.get('party.crm.line.channel')
        window = check_window()
        company = insight_company()
        if company is None:
            company = -1
        member = cls._member_sales(company, window)
        messages = cls._messages(company)
        channel = Channel.__table__()

        def of(treated, value):
            return Sum(Case((member.treated == treated, value), else_=0))

        def buyer(treated):
            return Sum(Case(
                    ((member.treated == treated) & (member.orders > 0), 1),
                    else_=0))
        query = member.join(channel, condition=member.channel == channel.id)
        query = query.join(messages, 'LEFT', condition=(
                messages.kind == member.kind)
            & (messages.source == member.source))
        message_count = Coalesce(Min(messages.messages), 0)
        database = Transaction().database
        float_ = database.sql_type('FLOAT').base
        return query.select(
            (member.source * 2 + Case((member.kind == 'scenario', 1),
                    else_=0)).as_('id'),
            member.kind.as_('kind'),
            Min(Case((member.kind == 'push', member.source),
                    else_=Null)).as_('push'),
            Min(Case((member.kind == 'scenario', member.source),
                    else_=Null)).as_('scenario'),
            member.company.as_('company'),
            member.channel.as_('channel'),
            Min(member.start).as_('date'),
            of(1, 1).as_('recipients'),
            of(0, 1).as_('holdouts'),
            buyer(1).as_('treated_buyers'),
            buyer(0).as_('holdout_buyers'),
            of(1, member.orders).as_('treated_orders'),
            of(0, member.orders).as_('holdout_orders'),
            of(1, member.revenue).as_('treated_revenue'),
            of(0, member.revenue).as_('holdout_revenue'),
            of(1, member.profit).as_('treated_profit'),
            of(0, member.profit).as_('holdout_profit'),
            of(1, Cast(member.profit, float_) * member.profit).as_(
                'treated_profit_squares'),
            of(0, Cast(member.profit, float_) * member.profit).as_(
                'holdout_profit_squares'),
            message_count.as_('messages'),
            (message_count * Coalesce(Min(channel.message_cost), 0)).as_(
                'message_cost'),
            Literal(0).as_('create_uid'),
            Min(member.start).as_('create_date'),
            Literal(None).as_('write_uid'),
            Literal(None).as_('write_date'),
            group_by=[member.kind, member.source, member.company,
                member.channel])

    @classmethod
    def get_figures(cls, records, names):
        result = {n: {} for n in names}
        for record in records:
            for name, value in record._figures().items():
                if name in result:
                    result[name][record.id] = value
        return result

    def _figures(self):
        "Return the per customer figures and the uplift of the record"
        currency = self.currency
        round_ = currency.round if currency else (
            lambda a: a.quantize(Decimal('0.01')))

        def amount(value):
            if value is None:
                return None
            return round_(Decimal(str(value)))

        def per(total, count):
            return float(total) / count if count else None
        n1, n0 = self.recipients or 0, self.holdouts or 0
        difference, lower, upper, p_value = welch_interval(
            n1, float(self.treated_profit or 0),
            self.treated_profit_squares or 0,
            n0, float(self.holdout_profit or 0),
            self.holdout_profit_squares or 0)
        incremental = difference * n1 if difference is not None else None
        net = None
        if incremental is not None:
            net = incremental - float(self.message_cost or 0)
        return {
            'treated_orders_per_customer': per(self.treated_orders or 0, n1),
            'holdout_orders_per_customer': per(self.holdout_orders or 0, n0),
            'treated_revenue_per_customer': amount(
                per(self.treated_revenue or 0, n1)),
            'holdout_revenue_per_customer': amount(
                per(self.holdout_revenue or 0, n0)),
            'treated_profit_per_customer': amount(
                per(self.treated_profit or 0, n1)),
            'holdout_profit_per_customer': amount(
                per(self.holdout_profit or 0, n0)),
            'uplift': amount(difference),
            'uplift_lower': amount(lower),
            'uplift_upper': amount(upper),
            'p_value': p_value,
            'incremental_profit': amount(incremental),
            'net_incremental_profit': amount(net),
            }
