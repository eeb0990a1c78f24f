# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Customer retention per month, cohorts, and segments per channel.

Each model is one ``table_query`` over the realised sale lines of
``sale.insight.customer._realised_lines`` (the whole history of the context
company: a customer is new in the month of the first sale ever), and the
context ``from_date`` / ``to_date`` select the months shown."""
from sql import Cast, Literal, Null, Window, With
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import DateTrunc, Extract, Round, RowNumber

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.currency.fields import Monetary
from trytond.modules.shop_crm.engagement import SEGMENTS
from trytond.pool import Pool
from trytond.transaction import Transaction

from .engagement import realised_lines
from .facts import insight_company
from .report_context import check_sales_context


def month_number(date):
    "Return the SQL count of months since year 0 of a date"
    return Cast(Extract('YEAR', date) * 12 + Extract('MONTH', date),
        'INTEGER')


def ratio(numerator, denominator):
    "Return the SQL ratio of two integers rounded to 4 decimals"
    database = Transaction().database
    quotient = Cast(numerator, database.sql_type('FLOAT').base) / denominator
    return Round(Cast(quotient, 'NUMERIC'), 4)


class _SalesMixin:
    "Helpers shared by the retention models"
    __slots__ = ()

    company = fields.Many2One('company.company', "Company")

    @classmethod
    def _customer_sales(cls):
        """Return the CTE of the sales per customer: customer, sale, date
        and month (the first day), with revenue and profit"""
        lines = realised_lines()
        return With(query=lines.select(
                lines.customer.as_('customer'),
                lines.sale.as_('sale'),
                Min(lines.date).as_('date'),
                Sum(lines.revenue).as_('revenue'),
                Sum(lines.revenue - lines.cost).as_('profit'),
                group_by=[lines.customer, lines.sale]))

    @classmethod
    def _is_order(cls, sales):
        "A sale is an order unless its realised revenue is negative: a return"
        return sales.revenue >= 0

    @classmethod
    def _column_company(cls):
        "Return the company column: the context company the user may read"
        company = insight_company()
        return Cast(Literal(company if company is not None else -1),
            'INTEGER').as_('company')

    @classmethod
    def _month(cls, date):
        return cls.date.sql_cast(DateTrunc('month', date))

    @classmethod
    def _month_where(cls, month):
        context = Transaction().context
        where = Literal(True)
        if context.get('from_date'):
            where &= month >= context['from_date'].replace(day=1)
        if context.get('to_date'):
            where &= month <= context['to_date']
        return where

    @classmethod
    def _currency(cls):
        pool = Pool()
        Company = pool.get('company.company')
        company = Transaction().context.get('company')
        return Company(company).currency if company is not None else None

    @classmethod
    def _digits(cls):
        currency = cls._currency()
        return currency.digits if currency else 2

    def get_currency(self, name):
        currency = self._currency()
        return currency.id if currency else None


class _AmountsMixin(_SalesMixin):
    "The revenue and profit columns in company currency"
    __slots__ = ()
    currency = fields.Function(
        fields.Many2One('currency.currency', "Currency"), 'get_currency')
    revenue = Monetary(
        "Revenue", currency='currency', digits='currency')
    profit = Monetary(
        "Profit", currency='currency', digits='currency')


class Retention(_SalesMixin, ModelSQL, ModelView):
    __string__ = "Customer Retention"
    __name__ = 'sale.insight.retention'
    date = fields.Date("Month")
    active_customers = fields.Integer(
        "Active Customers", help="Customers who bought in the month.")
    new_customers = fields.Integer(
        "New Customers", help="Customers whose first sale is in the month.")
    returning_customers = fields.Integer(
        "Returning Customers",
        help="Customers who bought in the month and before it.")
    customers = fields.Integer(
        "Customers", help="Customers with a sale up to the month.")
    repeat_customers = fields.Integer(
        "Repeat Customers",
        help="Customers with at least two sales up to the month.")
    repeat_rate = fields.Numeric(
        "Repeat Rate", digits=(1, 4),
        help="Repeat customers / customers, up to the month.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        check_sales_context()
        sales = cls._customer_sales()
        ranked = With(query=sales.select(
                sales.customer,
                cls._month(sales.date).as_('month'),
                RowNumber(window=Window(
                        [sales.customer],
                        order_by=[sales.date.asc, sales.sale.asc])
                    ).as_('rank'),
                where=cls._is_order(sales)))
        firsts = With(query=ranked.select(
                ranked.customer,
                Min(Case((ranked.rank == 1, ranked.month))).as_('first'),
                Min(Case((ranked.rank == 2, ranked.month))).as_('second'),
                group_by=[ranked.customer]))
        months = With(query=ranked.select(
                ranked.month, group_by=[ranked.month]))
        active = With(query=ranked.select(
                ranked.month,
                Count(ranked.customer, distinct=True).as_('active'),
                group_by=[ranked.month]))
        month = months.month
        counts = (months
            .join(firsts, condition=firsts.first <= month)
            .select(
                month.as_('month'),
                Sum(Case((firsts.first == month, 1), else_=0)).as_('new'),
                Count(firsts.customer).as_('customers'),
                Sum(Case(
                        ((firsts.second != Null) & (firsts.second <= month),
                            1),
                        else_=0)).as_('repeat'),
                group_by=[month]))
        query = counts.join(active, condition=active.month == counts.month)
        repeat_rate = ratio(counts.repeat, counts.customers)
        return query.select(
            month_number(counts.month).as_('id'),
            cls._column_company(),
            counts.month.as_('date'),
            active.active.as_('active_customers'),
            counts.new.as_('new_customers'),
            (active.active - counts.new).as_('returning_customers'),
            counts.customers.as_('customers'),
            counts.repeat.as_('repeat_customers'),
            cls.repeat_rate.sql_cast(repeat_rate).as_('repeat_rate'),
            where=cls._month_where(counts.month),
            with_=[sales, ranked, firsts, months, active])


class Cohort(_AmountsMixin, ModelSQL, ModelView):
    __string__ = "Customer Cohort"
    __name__ = 'sale.insight.cohort'
    date = fields.Date(
        "Cohort", help="The month of the customers' first sale.")
    months = fields.Integer(
        "Months Since", help="The months from the first sale.")
    size = fields.Integer("Cohort Size", help="The customers of the cohort.")
    customers = fields.Integer(
        "Active Customers",
        help="The customers of the cohort who bought in that month.")
    retention = fields.Numeric(
        "Retention", digits=(1, 4),
        help="Active customers / cohort size.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'ASC'), ('months', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        check_sales_context()
        sales = cls._customer_sales()
        dated = With(query=sales.select(
                sales.customer, cls._month(sales.date).as_('month'),
                sales.revenue, sales.profit,
                Case((cls._is_order(sales), 1), else_=0).as_('order')))
        monthly = With(query=dated.select(
                dated.customer, dated.month,
                Sum(dated.revenue).as_('revenue'),
                Sum(dated.profit).as_('profit'),
                Sum(dated.order).as_('orders'),
                group_by=[dated.customer, dated.month]))
        firsts = With(query=monthly.select(
                monthly.customer, Min(monthly.month).as_('cohort'),
                where=monthly.orders > 0,
                group_by=[monthly.customer]))
        sizes = With(query=firsts.select(
                firsts.cohort, Count(firsts.customer).as_('size'),
                group_by=[firsts.cohort]))
        months = month_number(monthly.month) - month_number(firsts.cohort)
        cells = With(query=monthly
            .join(firsts, condition=firsts.customer == monthly.customer)
            .select(
                firsts.cohort,
                months.as_('months'),
                Count(Case((monthly.orders > 0, monthly.customer))).as_(
                    'customers'),
                Sum(monthly.revenue).as_('revenue'),
                Sum(monthly.profit).as_('profit'),
                group_by=[firsts.cohort, monthly.month]))
        digits = cls._digits()
        query = cells.join(sizes, condition=sizes.cohort == cells.cohort)
        return query.select(
            (month_number(cells.cohort) * 1000 + cells.months).as_('id'),
            cls._column_company(),
            cells.cohort.as_('date'),
            cells.months.as_('months'),
            sizes.size.as_('size'),
            cells.customers.as_('customers'),
            cls.retention.sql_cast(
                ratio(cells.customers, sizes.size)).as_('retention'),
            cls.revenue.sql_cast(Round(cells.revenue, digits)).as_(
                'revenue'),
            cls.profit.sql_cast(Round(cells.profit, digits)).as_('profit'),
            where=cls._month_where(cells.cohort),
            with_=[sales, dated, monthly, firsts, sizes, cells])


class SegmentChannel(_AmountsMixin, ModelSQL, ModelView):
    __string__ = "Segment per Channel"
    __name__ = 'sale.insight.segment_channel'
    segment = fields.Selection(SEGMENTS, "Segment")
    channel = fields.Many2One('sale.channel', "Channel")
    customers = fields.Integer("Customers")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('segment', 'ASC'), ('channel', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        check_sales_context()
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        engagement = Engagement.__table__()
        context = Transaction().context
        lines = realised_lines()
        where = Literal(True)
        if context.get('from_date'):
            where &= lines.date >= context['from_date']
        if context.get('to_date'):
            where &= lines.date <= context['to_date']
        segment_index = Case(*(
                (engagement.segment == s, i)
                for i, (s, _) in enumerate(SEGMENTS) if s),
            else_=0)
        digits = cls._digits()
        query = lines.join(engagement, 'LEFT',
            condition=(engagement.party == lines.customer)
            & (engagement.company == lines.company))
        return query.select(
            (Coalesce(lines.channel, 0) * 100 + segment_index).as_('id'),
            cls._column_company(),
            engagement.segment.as_('segment'),
            lines.channel.as_('channel'),
            Count(lines.customer, distinct=True).as_('customers'),
            cls.revenue.sql_cast(Round(Sum(lines.revenue), digits)).as_(
                'revenue'),
            cls.profit.sql_cast(
                Round(Sum(lines.revenue - lines.cost), digits)).as_(
                'profit'),
            where=where,
            group_by=[engagement.segment, lines.channel])
