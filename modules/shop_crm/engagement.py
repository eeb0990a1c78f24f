# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Customer engagement: RFM, engagement score, lifetime value (set-based)."""
import datetime as dt
from zoneinfo import ZoneInfo

from sql import Cast, Literal, Null, Select, Window, With
from sql.aggregate import Avg, Count, Max, Min, Sum
from sql.conditionals import Case, Coalesce, Least
from sql.operators import Concat
from sql.functions import (
    AtTimeZone, Function, Lag, Power, Rank, Round, RowNumber)

from trytond import backend, config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .company import check_company, context_company

SEGMENTS = [
    (None, ''),
    ('champion', "Champion"),
    ('loyal', "Loyal"),
    ('potential', "Potential Loyalist"),
    ('new', "New Customer"),
    ('promising', "Promising"),
    ('need_attention', "Need Attention"),
    ('at_risk', "At Risk"),
    ('cannot_lose', "Cannot Lose Them"),
    ('hibernating', "Hibernating"),
    ('lost', "Lost"),
    ]


class _SQLiteJulianDay(Function):
    __slots__ = ()
    _function = 'JULIANDAY'


class _SQLiteDate(Function):
    __slots__ = ()
    _function = 'DATE'


def day_number(expression, timestamp=False):
    "Return an SQL integer that counts days, for date differences"
    if backend.name == 'sqlite':
        if timestamp:
            expression = _SQLiteDate(expression)
        return Cast(_SQLiteJulianDay(expression), 'INTEGER')
    if timestamp:
        expression = Cast(expression, 'DATE')
    return expression - Literal(dt.date(1970, 1, 1))


class _SQLiteDateTime(Function):
    __slots__ = ()
    _function = 'DATETIME'


def local_timestamp(expression, timezone):
    """Return the SQL local time in timezone of a UTC timestamp, for days
    counted in the company's timezone

    SQLite has no timezone: the offset of today is applied."""
    if backend.name == 'sqlite':
        offset = dt.datetime.now(timezone).utcoffset() or dt.timedelta()
        return _SQLiteDateTime(
            expression, '%+d seconds' % offset.total_seconds())
    return AtTimeZone(AtTimeZone(expression, 'UTC'), timezone.key)


def company_timezone(company_id):
    "Return the timezone of the company (UTC without one or without company)"
    Company = Pool().get('company.company')
    name = Company(company_id).timezone if company_id is not None else None
    return ZoneInfo(name or 'UTC')


def utc_midnight(date, timezone):
    "Return the naive UTC datetime of the start of the local date"
    start = dt.datetime.combine(date, dt.time(), tzinfo=timezone)
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)


def add_days(date, days):
    "Return an SQL date that is days after date"
    if backend.name == 'sqlite':
        return _SQLiteDate(
            date, Concat(Cast(Cast(days, 'INTEGER'), 'TEXT'), ' days'))
    return date + Cast(days, 'INTEGER')


def quintile(order):
    """Return the SQL 1-5 quintile of the row in the given order

    It is 1 + 5 × (RANK − 1) / COUNT in integer arithmetic: the rows
    split in fifths, ties share the score of the first of them (all
    one-time buyers have F = 1) and fewer than five rows start at 1."""
    rank = Rank(window=Window([], order_by=[order]))
    return (rank - 1) * 5 / Count(window=Window([])) + 1


def segment_case(recency, frequency, monetary):
    "Return the SQL CASE that maps R, F and M scores to a segment"
    return Case(
        ((recency >= 4) & (frequency >= 4) & (monetary >= 4), 'champion'),
        ((recency >= 3) & (frequency >= 4), 'loyal'),
        ((recency <= 2) & (frequency >= 4) & (monetary >= 4),
            'cannot_lose'),
        ((recency <= 2) & (frequency >= 4), 'at_risk'),
        ((recency >= 4) & (frequency >= 2), 'potential'),
        ((recency >= 4), 'new'),
        ((recency == 3) & (frequency >= 2), 'need_attention'),
        ((recency == 3), 'promising'),
        ((recency == 2) & (frequency >= 2), 'at_risk'),
        ((recency == 2), 'hibernating'),
        ((frequency >= 2), 'hibernating'),
        else_='lost')


class Engagement(ModelSQL, ModelView):
    __string__ = "Customer Engagement"
    __name__ = 'party.crm.engagement'
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    party = fields.Many2One(
        'party.party', "Party", required=True, readonly=True,
        ondelete='CASCADE',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    currency = fields.Function(
        fields.Many2One('currency.currency', "Currency"),
        'on_change_with_currency')
    last_sale_date = fields.Date("Last Sale Date", readonly=True)
    recency_days = fields.Integer(
        "Recency", readonly=True, help="Days since the last sale.")
    frequency = fields.Integer(
        "Frequency", readonly=True, help="Sales in the window.")
    monetary = Monetary(
        "Monetary", currency='currency', digits='currency', readonly=True,
        help="Revenue in the window.")
    orders = fields.Integer(
        "Orders", readonly=True, help="Sales since the first one.")
    profit = Monetary(
        "Profit to Date", currency='currency', digits='currency',
        readonly=True)
    rfm_recency = fields.Integer("R", readonly=True)
    rfm_frequency = fields.Integer("F", readonly=True)
    rfm_monetary = fields.Integer("M", readonly=True)
    rfm_score = fields.Char("RFM Score", readonly=True)
    segment = fields.Selection(SEGMENTS, "Segment", readonly=True)
    engagement_score = fields.Numeric(
        "Engagement Score", digits=(3, 2), readonly=True,
        help="From 0 to 100.")
    lifetime_value = Monetary(
        "Lifetime Value", currency='currency', digits='currency',
        readonly=True)
    usual_interval = fields.Integer(
        "Usual Interval", readonly=True,
        help="The median number of days between two sales.")
    expected_next_sale = fields.Date("Expected Next Sale", readonly=True)
    at_risk = fields.Boolean(
        "At Risk", readonly=True,
        help="The customer has not bought for longer than usual.")
    computed_at = fields.DateTime("Computed at", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('company_party_unique', Unique(t, t.company, t.party),
                'shop_crm.msg_engagement_company_party_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.company, Index.Equality()),
                    (t.segment, Index.Equality(cardinality='low'))),
                Index(t, (t.company, Index.Equality()),
                    (t.expected_next_sale, Index.Range())),
                })
        cls._order = [('lifetime_value', 'DESC NULLS LAST'), ('id', 'ASC')]

    @fields.depends('company')
    def on_change_with_currency(self, name=None):
        return self.company.currency if self.company else None

    def get_rec_name(self, name):
        return self.party.rec_name

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('party.rec_name',) + tuple(clause[1:])]

    @classmethod
    def compute(cls):
        "Compute the rows of the context company (cron method)"
        company = Transaction().context.get('company')
        if company is None:
            return
        check_company(company)
        if config.getboolean('queue', 'worker', default=False):
            # A task needs records that exist: those of an empty list are
            # dropped by the queue, so the task is the company's.
            Company = Pool().get('company.company')
            Company.__queue__.compute_engagement([Company(company)])
        else:
            cls.compute_company([])

    @classmethod
    def compute_company(cls, records=None):
        "Replace the rows of the context company in one INSERT … SELECT"
        company_id = Transaction().context.get('company')
        if company_id is None:
            return
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.delete(where=table.company == company_id))
        columns, query = cls._compute_query(company_id)
        cursor.execute(*table.insert(
                [getattr(table, c) for c in columns], query))

    @classmethod
    def _sale_query(cls):
        """Return the realised sales of the context company.

        The columns are party, sale, date, revenue and profit, in company
        currency; a sale may be split over several rows.  The sales
        insight module gives the realised figures; without it the CRM
        knows no sale.
        """
        return Select([
                Cast(Literal(None), 'INTEGER').as_('party'),
                Cast(Literal(None), 'INTEGER').as_('sale'),
                Cast(Literal(None), 'DATE').as_('date'),
                Cast(Literal(0), 'NUMERIC').as_('revenue'),
                Cast(Literal(0), 'NUMERIC').as_('profit')],
            where=Literal(False))

    @classmethod
    def _timezone(cls):
        "Return the timezone of the context company (UTC without one)"
        return company_timezone(Transaction().context.get('company'))

    @classmethod
    def _today(cls):
        return Transaction().context.get('date') or (
            Pool().get('ir.date').today())

    @classmethod
    def _compute_query(cls, company_id):
        pool = Pool()
        Configuration = pool.get('party.crm.configuration')
        Company = pool.get('company.company')
        Party = pool.get('party.party')
        config_ = Configuration(1)
        company = Company(company_id)
        today = cls._today()
        window_start = today - dt.timedelta(days=config_.engagement_window)
        window = Literal(config_.engagement_window)
        today_day = day_number(Literal(today))

        sale_rows = With(query=cls._sale_query())
        sales = With(query=sale_rows.select(
                sale_rows.party, sale_rows.sale,
                Min(sale_rows.date).as_('date'),
                Sum(sale_rows.revenue).as_('revenue'),
                Sum(sale_rows.profit).as_('profit'),
                where=(sale_rows.party != Null)
                & (sale_rows.date <= Literal(today)),
                group_by=[sale_rows.party, sale_rows.sale]))
        in_window = sales.date >= Literal(window_start)
        # A return (negative realised revenue) is not an order: it counts
        # in revenue and profit only
        is_order = sales.revenue >= 0
        customers = With(query=sales.select(
                sales.party,
                Sum(Case((is_order, 1), else_=0)).as_('orders'),
                Sum(sales.profit).as_('profit'),
                Max(Case((is_order, sales.date))).as_('last_date'),
                Sum(Case((in_window & is_order, 1), else_=0)).as_(
                    'frequency'),
                Sum(Case((in_window, sales.revenue), else_=0)).as_(
                    'monetary'),
                group_by=[sales.party]))
        orders = With(query=sales.select(
                sales.party, sales.sale, sales.date, where=is_order))

        medians = cls._median_interval_query(orders)
        interactions = cls._interaction_query(
            company_id, config_, today, window_start)
        ratings = cls._rating_query(company_id)
        inquiries = cls._inquiry_query(company_id, today, window_start)

        recency = today_day - day_number(customers.last_date)
        active = customers.frequency > 0
        scores = With(query=customers.select(
                customers.party,
                quintile(recency.desc).as_('r'),
                quintile(customers.frequency.asc).as_('f'),
                quintile(customers.monetary.asc).as_('m'),
                where=active))

        # The joins start from the party table, whose statistics give
        # PostgreSQL a fair estimate of each join: it has none on the
        # grouped queries, and their estimates joined to one another
        # multiply into a cost that makes it compile the query (JIT) for
        # longer than it runs
        p = Party.__table__()
        c, s = customers, scores
        m, i = medians, interactions
        rt, q = ratings, inquiries
        from_ = (p.join(c, 'LEFT', condition=c.party == p.id)
            .join(s, 'LEFT', condition=s.party == p.id)
            .join(m, 'LEFT', condition=m.party == p.id)
            .join(i, 'LEFT', condition=i.party == p.id)
            .join(rt, 'LEFT', condition=rt.party == p.id)
            .join(q, 'LEFT', condition=q.party == p.id))

        digits = company.currency.digits
        weights = config_.engagement_weights()
        component = {
            'recency': Coalesce(s.r - 1, 0) / 4.0,
            'frequency': Coalesce(s.f - 1, 0) / 4.0,
            'monetary': Coalesce(s.m - 1, 0) / 4.0,
            'interaction': Least(
                Coalesce(i.weight, 0)
                / float(config_.engagement_interaction_target), 1.0),
            'rating': Coalesce(rt.average - 1, 0) / 4.0,
            'inquiry': Least(
                Coalesce(q.answered, 0)
                / float(config_.engagement_inquiry_target), 1.0),
            }
        total_weight = float(sum(weights.values())) or 1.0
        score = sum(
            (component[k] * float(w) for k, w in weights.items()),
            Literal(0.0))
        score = Round(Cast(score * (100.0 / total_weight), 'NUMERIC'), 2)

        orders_per_year = c.frequency * 365.0 / window
        expected_profit = (
            Case((c.orders > 0, c.profit / c.orders), else_=Null)
            * orders_per_year
            * float(config_.engagement_remaining_years))
        lifetime_value = Round(
            Cast(c.profit + Coalesce(expected_profit, 0), 'NUMERIC'), digits)
        usual_interval = Round(Cast(m.median, 'NUMERIC'), 0)
        at_risk = Case(
            ((c.orders >= 2) & (recency > usual_interval
                    * float(config_.at_risk_interval_multiple)), True),
            ((c.orders == 1)
                & (recency > config_.at_risk_one_time_days), True),
            else_=False)
        segment = Case(
            (active, segment_case(s.r, s.f, s.m)),
            (c.orders > 0, 'lost'),
            else_=Null)
        rfm_score = Case(
            (active, Cast(s.r * 100 + s.f * 10 + s.m, 'VARCHAR')),
            else_=Null)

        columns = {
            'company': Literal(company_id),
            'party': p.id,
            'last_sale_date': c.last_date,
            'recency_days': recency,
            'frequency': Coalesce(c.frequency, 0),
            'monetary': Round(
                Cast(Coalesce(c.monetary, 0), 'NUMERIC'), digits),
            'orders': Coalesce(c.orders, 0),
            'profit': Round(Cast(Coalesce(c.profit, 0), 'NUMERIC'), digits),
            'rfm_recency': s.r,
            'rfm_frequency': s.f,
            'rfm_monetary': s.m,
            'rfm_score': rfm_score,
            'segment': segment,
            'engagement_score': score,
            'lifetime_value': lifetime_value,
            'usual_interval': usual_interval,
            'expected_next_sale': add_days(c.last_date, usual_interval),
            'at_risk': at_risk,
            'computed_at': Literal(dt.datetime.now()),
            'create_uid': Literal(Transaction().user),
            'create_date': Literal(dt.datetime.now()),
            }
        query = from_.select(
            *(v.as_(k) for k, v in columns.items()),
            where=(c.party != Null) | (i.party != Null),
            with_=[sale_rows, sales, customers, orders, medians, interactions,
                ratings, inquiries, scores])
        return list(columns), query

    @classmethod
    def _median_interval_query(cls, sales):
        "Return the median days between the distinct sale dates per party"
        dates = sales.select(
            sales.party, sales.date, group_by=[sales.party, sales.date])
        days = day_number(dates.date)
        gaps = dates.select(
            dates.party,
            (days - Lag(days, window=Window(
                        [dates.party], order_by=[dates.date.asc]))
                ).as_('gap'))
        ranked = gaps.select(
            gaps.party, gaps.gap,
            RowNumber(window=Window(
                    [gaps.party], order_by=[gaps.gap.asc])).as_('rank'),
            Count(window=Window([gaps.party])).as_('count'),
            where=gaps.gap != Null)
        middle = ranked.rank.in_([
                (ranked.count + 1) / 2, (ranked.count + 2) / 2])
        return With(query=ranked.select(
                ranked.party, Avg(ranked.gap).as_('median'),
                where=middle, group_by=[ranked.party]))

    @classmethod
    def _interaction_query(cls, company_id, config_, today, window_start):
        "Return the decayed, weighted interactions per party"
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        interaction = Interaction.__table__()
        type_weights = config_.get_interaction_type_weights()
        if type_weights:
            type_weight = Case(*(
                    (interaction.type == t, float(w))
                    for t, w in type_weights.items()),
                else_=1.0)
        else:
            type_weight = Literal(1.0)
        local_date = local_timestamp(interaction.date, cls._timezone())
        age = (day_number(Literal(today))
            - day_number(local_date, timestamp=True))
        decay = Power(0.5, age / float(config_.engagement_half_life))
        return With(query=interaction.select(
                interaction.party,
                Sum(type_weight * decay).as_('weight'),
                where=(interaction.company == company_id)
                & (interaction.date >= Literal(
                        utc_midnight(window_start, cls._timezone())))
                & (interaction.date < Literal(utc_midnight(
                            today + dt.timedelta(days=1), cls._timezone()))),
                group_by=[interaction.party]))

    @classmethod
    def _rating_query(cls, company_id):
        pool = Pool()
        Rating = pool.get('party.crm.rating')
        rating = Rating.__table__()
        return With(query=rating.select(
                rating.party, Avg(rating.score).as_('average'),
                where=rating.company == company_id,
                group_by=[rating.party]))

    @classmethod
    def _inquiry_query(cls, company_id, today, window_start):
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        inquiry = Inquiry.__table__()
        return With(query=inquiry.select(
                inquiry.party, Count().as_('answered'),
                where=(inquiry.company == company_id)
                & (inquiry.answered_date >= Literal(
                        dt.datetime.combine(window_start, dt.time())))
                & (inquiry.answered_date < Literal(dt.datetime.combine(
                            today + dt.timedelta(days=1), dt.time()))),
                group_by=[inquiry.party]))


MAX_REPURCHASE_DAYS = 3660


class RepurchaseDueContext(ModelView):
    __string__ = "Repurchase Due Context"
    __name__ = 'party.crm.repurchase_due.context'
    company = fields.Many2One('company.company', "Company", required=True)
    days = fields.Integer(
        "Days", required=True,
        domain=[('days', '>', 0), ('days', '<=', MAX_REPURCHASE_DAYS)],
        help="List the customers expected to buy within this many days.")

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_days(cls):
        return Transaction().context.get('days', 14)


class RepurchaseDue(ModelSQL, ModelView):
    __string__ = "Repurchase Due"
    __name__ = 'party.crm.repurchase_due'
    company = fields.Many2One('company.company', "Company")
    party = fields.Many2One(
        'party.party', "Party",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    currency = fields.Function(
        fields.Many2One('currency.currency', "Currency"),
        'on_change_with_currency')
    expected_next_sale = fields.Date("Expected Next Sale")
    last_sale_date = fields.Date("Last Sale Date")
    usual_interval = fields.Integer("Usual Interval")
    segment = fields.Selection(SEGMENTS, "Segment")
    engagement_score = fields.Numeric("Engagement Score", digits=(3, 2))
    lifetime_value = Monetary(
        "Lifetime Value", currency='currency', digits='currency')
    profit = Monetary(
        "Profit to Date", currency='currency', digits='currency')
    preferred_categories = fields.Function(
        fields.Char("Preferred Categories"), 'get_preferred_categories')
    line_reachable = fields.Function(
        fields.Boolean(
            "Reachable on LINE",
            help="The customer has an active LINE contact "
            "and gave marketing consent."),
        'get_line_reachable')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('expected_next_sale', 'ASC'), ('id', 'ASC')]

    @classmethod
    def check_context(cls):
        "Refuse context days that are not a whole number in range"
        days = Transaction().context.get('days')
        if days is None:
            return
        if (isinstance(days, bool) or not isinstance(days, int)
                or not 0 < days <= MAX_REPURCHASE_DAYS):
            raise ValidationError(gettext(
                    'shop_crm.msg_repurchase_due_days',
                    days=days, max=MAX_REPURCHASE_DAYS))

    @classmethod
    def table_query(cls):
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        cls.check_context()
        engagement = Engagement.__table__()
        context = Transaction().context
        today = Engagement._today()
        until = today + dt.timedelta(days=context.get('days') or 0)
        return engagement.select(
            engagement.id, engagement.create_uid, engagement.create_date,
            engagement.write_uid, engagement.write_date,
            engagement.company, engagement.party,
            engagement.expected_next_sale, engagement.last_sale_date,
            engagement.usual_interval, engagement.segment,
            engagement.engagement_score, engagement.lifetime_value,
            engagement.profit,
            where=(engagement.company == (context_company() or -1))
            & (engagement.expected_next_sale >= today)
            & (engagement.expected_next_sale <= until))

    @fields.depends('company')
    def on_change_with_currency(self, name=None):
        return self.company.currency if self.company else None

    @classmethod
    def get_preferred_categories(cls, records, name):
        pool = Pool()
        Preference = pool.get('party.crm.preference')
        categories = {}
        for preference in Preference.search([
                    ('party', 'in', list({r.party.id for r in records})),
                    ('kind', '=', 'like'),
                    ], order=[('category.name', 'ASC'), ('id', 'ASC')]):
            names = categories.setdefault(preference.party.id, [])
            if preference.category.rec_name not in names:
                names.append(preference.category.rec_name)
        return {r.id: ', '.join(categories.get(r.party.id, [])) or None
            for r in records}

    @classmethod
    def get_line_reachable(cls, records, name):
        pool = Pool()
        Party = pool.get('party.party')
        reachable = {p.id for p in Party.search([
                    ('id', 'in', list({r.party.id for r in records})),
                    ('marketing_consent', '=', True),
                    ('contact_mechanisms', 'where', [
                            ('type', '=', 'line'),
                            ('active', '=', True),
                            ]),
                    ])}
        return {r.id: r.party.id in reachable for r in records}


class Company(metaclass=PoolMeta):
    __name__ = 'company.company'

    @classmethod
    def compute_engagement(cls, companies):
        "Replace the engagement rows of the companies (queue task)"
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        for company in companies:
            with Transaction().set_context(company=company.id):
                Engagement.compute_company([])
