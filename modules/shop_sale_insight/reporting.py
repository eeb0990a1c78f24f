# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Realised revenue, cost, profit and margin per customer, channel, product
and category.

Every model here is a ``table_query`` built on Tryton's margin reporting
(``trytond.modules.stock.stock_reporting_margin``).  The line-level figures
are computed in one place, :meth:`Abstract._realised_lines`, and the models
only aggregate them.
"""
import datetime as dt
from itertools import groupby
from operator import itemgetter

from dateutil.relativedelta import relativedelta
from sql import Cast, Column, Literal, Null, Union, With
from sql.aggregate import Count, Max, Min, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import Ceil, DateTrunc, Extract, Log, Power, Round

from trytond import backend
from trytond.i18n import lazy_gettext
from trytond.model import ModelView, fields
from trytond.modules.currency.fields import Monetary
from trytond.modules.shop_crm.rating import get_average_rating
from trytond.modules.stock import stock_reporting_margin as margin_reporting
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.tools.chart import sparkline
from trytond.transaction import Transaction, record_cache_size

from .facts import COLUMNS, MAX_IDS, RESTRICTIONS, in_ids, insight_company
from .report_context import check_sales_context


# The numbers of the periods of a customer time series id: above the number
# of 9999-12-31 (year * 372 + (month - 1) * 31 + day - 1)
PERIOD_NUMBERS = 2 ** 22


def to_date(value):
    "Return the date of a database value (a string on SQLite)"
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def fill_periods(values, delta):
    "Yield the values of the dates from the first to the last, gaps as 0"
    dates = sorted(values)
    if not delta or not dates:
        yield from (values[d] for d in dates)
        return
    date = dates[0]
    while date <= dates[-1]:
        yield values.get(date, 0)
        date += delta


def _msg(name):
    return lazy_gettext('shop_sale_insight.msg_insight_%s' % name)


class Abstract(margin_reporting.Abstract):
    """Base of the sales insight reports.

    It reuses core's margin reporting fields and hooks (``table_query``,
    ``_joins``, ``_columns``, ``_where``, ``_group_by``, trends) but its
    ``from_item`` is the union of the realised sale lines returned by
    :meth:`_realised_lines` instead of the bare stock moves.
    """

    markup = fields.Numeric(
        _msg('markup'), digits=(None, 4), help=_msg('markup_help'),
        states={
            'invisible': ~Eval('markup'),
            })
    number = fields.Integer(_msg('number'), help=_msg('number_help'))
    average_order = Monetary(
        _msg('average_order'), currency='currency', digits='currency',
        help=_msg('average_order_help'))
    revenue_trend = fields.Function(
        fields.Char(_msg('revenue_trend')), 'get_trend')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Tryton keeps the field of the deepest class of the MRO, so the
        # labels of core's margin fields are replaced here
        for name in [
                'company', 'currency', 'revenue', 'cost', 'profit', 'margin',
                'margin_trend']:
            getattr(cls, name).string = _msg(name)
        for name in ['revenue', 'cost', 'profit', 'margin']:
            getattr(cls, name).help = _msg('%s_help' % name)

    @classmethod
    def table_query(cls):
        check_sales_context()
        return super().table_query()

    @classmethod
    def search(cls, domain, offset=0, limit=None, order=None, count=False,
            query=False):
        """Search the ids only

        Core's search also fetches every stored column to fill the record
        cache, and the rows of a report are read again anyway: fetching a
        dozen columns per row costs more in Python than the query."""
        if count or query:
            return super().search(domain, offset=offset, limit=limit,
                order=order, count=count, query=query)
        cursor = Transaction().connection.cursor()
        cursor.execute(*super().search(domain, offset=offset, limit=limit,
                order=order, query=True))
        return cls.browse([i for i, in cursor])

    @classmethod
    def read(cls, ids, fields_names):
        """Read the rows with one call of each getter for all the ids

        Core calls a getter once per slice of the record cache size: each
        call would be another pass over the facts (the sparklines) or the
        CRM tables."""
        context = Transaction().context
        size = max(len(ids), record_cache_size(Transaction()))
        if context.get('_record_cache_size', 0) >= size:
            return super().read(ids, fields_names)
        with Transaction().set_context(_record_cache_size=size):
            return super().read(ids, fields_names)

    # Line level: the one place where revenue and cost are computed

    @classmethod
    def _realised_lines(cls):
        """Return the SQL query of the realised sale lines.

        One row per done stock move of a sale line between a warehouse and
        a customer (returns signed -1) and per service line of a confirmed
        sale.  The columns are:

        - ``id``: unique, ``source id * number of sources + source index``
        - ``company`` and ``currency`` (the company currency)
        - ``sale``, ``sale_line``, ``move`` (NULL for services),
          ``customer`` (the sale party),
          ``channel`` (the sale channel, may be NULL)
        - ``location``: the storage location the goods left (or came back
          to); the sale warehouse for services
        - ``product`` and ``unit`` (the product default unit)
        - ``date``: the move effective date; the sale date for services
        - ``quantity``: signed, in the product default unit
        - ``revenue`` and ``cost``: signed, in company currency, not rounded

        It is filtered on the context ``company`` and, when set,
        ``from_date`` and ``to_date`` (on ``date``).  When the context has
        ``realised_moves`` or ``realised_service_lines`` (lists of ids),
        only the lines of these moves and service sale lines are returned:
        this is how ``sale.insight.fact`` is kept current.  The query is
        self contained (its ``WITH`` clauses included) so it can be
        executed or used as a sub-query by other code, e.g.
        ``Pool().get('sale.insight.customer')._realised_lines()``.

        The reports do not run it: they read ``sale.insight.fact``, the
        table it fills (see :meth:`_realised_facts`).
        """
        withs = {}
        sources = cls._realised_line_sources()
        queries = [
            source(len(sources), index, withs)
            for index, source in enumerate(sources)]
        return Union(*queries, all_=True, with_=list(withs.values()))

    @classmethod
    def _realised_line_sources(cls):
        "Return the methods that build each branch of the realised lines"
        return [cls._realised_move_lines, cls._realised_service_lines]

    @classmethod
    def _realised_line_columns(
            cls, id, company, currency, sale, sale_line, customer, channel,
            location, product, unit, date, quantity, revenue, cost,
            move=None):
        "Return the columns, in order and typed, of a realised lines branch"
        database = Transaction().database
        if move is None:
            move = Cast(Null, database.sql_type('INTEGER').base)
        return [
            id.as_('id'),
            company.as_('company'),
            currency.as_('currency'),
            sale.as_('sale'),
            sale_line.as_('sale_line'),
            move.as_('move'),
            customer.as_('customer'),
            channel.as_('channel'),
            location.as_('location'),
            product.as_('product'),
            unit.as_('unit'),
            date.as_('date'),
            Cast(quantity, database.sql_type('FLOAT').base).as_('quantity'),
            cls.revenue.sql_cast(revenue).as_('revenue'),
            cls.cost.sql_cast(cost).as_('cost'),
            ]

    @classmethod
    def _realised_move_lines(cls, length, index, withs):
        "Return the branch of the done stock moves of sale lines"
        pool = Pool()
        Move = pool.get('stock.move')
        SaleLine = pool.get('sale.line')
        Sale = pool.get('sale.sale')
        Product = pool.get('product.product')
        Template = pool.get('product.template')

        # Core margin reporting: moves, company, currency rates, locations
        from_item, tables, move_withs = super()._joins()
        for key, with_ in list(move_withs.items()):
            if withs.get(key, with_) is not with_:
                key = '%s_%s' % (key, index)
            withs[key] = with_
        move = tables['move']
        currency = tables['move.company.currency']
        from_location = tables['move.from_location']
        to_location = tables['move.to_location']
        currency_rate = move_withs['currency_rate']
        currency_rate_company = move_withs['currency_rate_company']

        tables['move.origin.sale_line'] = sale_line = SaleLine.__table__()
        tables['move.origin.sale_line.sale'] = sale = Sale.__table__()
        tables['move.product'] = product = Product.__table__()
        tables['move.product.template'] = template = Template.__table__()
        from_item = (from_item
            .join(sale_line,
                condition=move.origin.like('sale.line,%')
                & (Move.origin.sql_id(move.origin, SaleLine)
                    == sale_line.id))
            .join(sale, condition=sale_line.sale == sale.id)
            .join(product, condition=move.product == product.id)
            .join(template, condition=product.template == template.id))

        returned = (
            from_location.type.in_(cls._to_location_types())
            & to_location.type.in_(cls._from_location_types()))
        sign = Case((returned, -1), else_=1)
        quantity = sign * move.internal_quantity
        revenue = (sign * cls.revenue.sql_cast(move.quantity)
            * Coalesce(move.unit_price, 0)
            * Coalesce(currency_rate_company.rate / currency_rate.rate, 0))
        cost = (sign * cls.cost.sql_cast(move.internal_quantity)
            * Coalesce(move.cost_price, 0))

        # Core margin reporting: company, done, locations and dates
        where = super()._where(tables, move_withs)
        where &= move.origin.like('sale.line,%')
        where &= cls._realised_restriction(move.id, 'realised_moves')
        return from_item.select(*cls._realised_line_columns(
                id=move.id * length + index,
                move=move.id,
                company=move.company,
                currency=currency.id,
                sale=sale.id,
                sale_line=sale_line.id,
                customer=sale.party,
                channel=sale.channel,
                location=Case(
                    (returned, move.to_location),
                    else_=move.from_location),
                product=move.product,
                unit=template.default_uom,
                date=move.effective_date,
                quantity=quantity,
                revenue=revenue,
                cost=cost),
            where=where)

    @classmethod
    def _realised_service_lines(cls, length, index, withs):
        "Return the branch of the service lines of confirmed sales"
        pool = Pool()
        Company = pool.get('company.company')
        Currency = pool.get('currency.currency')
        Move = pool.get('stock.move')
        SaleLine = pool.get('sale.line')
        Sale = pool.get('sale.sale')
        Product = pool.get('product.product')
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        CostPrice = pool.get('product.cost_price')
        context = Transaction().context

        line = SaleLine.__table__()
        sale = Sale.__table__()
        company = Company.__table__()
        product = Product.__table__()
        template = Template.__table__()
        unit = Uom.__table__()
        default_uom = Uom.__table__()
        cost_price = CostPrice.__table__()
        if 'currency_rate' not in withs:
            withs['currency_rate'] = With(query=Currency.currency_rate_sql())
        if 'currency_rate_company' not in withs:
            withs['currency_rate_company'] = With(
                query=Currency.currency_rate_sql())
        currency_rate = withs['currency_rate']
        currency_rate_company = withs['currency_rate_company']

        from_item = (line
            .join(sale, condition=line.sale == sale.id)
            .join(company, condition=sale.company == company.id)
            .join(product, condition=line.product == product.id)
            .join(template, condition=product.template == template.id)
            .join(unit, condition=line.unit == unit.id)
            .join(default_uom,
                condition=template.default_uom == default_uom.id)
            .join(cost_price, type_='LEFT',
                condition=(cost_price.product == product.id)
                & (cost_price.company == sale.company))
            .join(currency_rate, type_='LEFT',
                condition=(sale.currency == currency_rate.currency)
                & (currency_rate.start_date <= sale.sale_date)
                & ((currency_rate.end_date == Null)
                    | (currency_rate.end_date > sale.sale_date)))
            .join(currency_rate_company,
                condition=(company.currency == currency_rate_company.currency)
                & (currency_rate_company.start_date <= sale.sale_date)
                & ((currency_rate_company.end_date == Null)
                    | (currency_rate_company.end_date > sale.sale_date))))

        quantity = Case(
            (line.unit == template.default_uom, line.quantity),
            else_=line.quantity * unit.factor / default_uom.factor)
        revenue = (cls.revenue.sql_cast(line.quantity)
            * Coalesce(line.unit_price, 0)
            * Coalesce(currency_rate_company.rate / currency_rate.rate, 0))
        cost = (cls.cost.sql_cast(quantity)
            * Coalesce(cost_price.cost_price, 0))

        where = ((line.type == 'line')
            & ~template.type.in_(Move.get_product_types())
            & sale.state.in_(cls._sale_states())
            & (sale.company == context.get('company')))
        where &= cls._realised_restriction(line.id, 'realised_service_lines')
        from_date = context.get('from_date')
        if from_date:
            where &= sale.sale_date >= from_date
        to_date = context.get('to_date')
        if to_date:
            where &= sale.sale_date <= to_date
        return from_item.select(*cls._realised_line_columns(
                id=line.id * length + index,
                company=sale.company,
                currency=company.currency,
                sale=sale.id,
                sale_line=line.id,
                customer=sale.party,
                channel=sale.channel,
                location=sale.warehouse,
                product=line.product,
                unit=template.default_uom,
                date=sale.sale_date,
                quantity=quantity,
                revenue=revenue,
                cost=cost),
            where=where)

    @classmethod
    def _realised_restriction(cls, column, key):
        """Return the condition that keeps the ids of the context key when
        the context restricts the realised lines to some sources"""
        context = Transaction().context
        if not any(context.get(k) is not None for k in RESTRICTIONS):
            return Literal(True)
        return in_ids(column, context.get(key) or [])

    @classmethod
    def _realised_facts(cls):
        """Return the rows of ``sale.insight.fact`` of the context company
        between the context dates, with the columns of the realised lines

        The company counts only if it is one of the user's companies."""
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        context = Transaction().context
        fact = Fact.__table__()
        company = insight_company()
        where = fact.company == (company if company is not None else -1)
        if context.get('from_date'):
            where &= fact.date >= context['from_date']
        if context.get('to_date'):
            where &= fact.date <= context['to_date']
        return fact.select(
            *(Column(fact, c).as_(c) for c in COLUMNS), where=where)

    @classmethod
    def _sale_states(cls):
        "The states in which the service lines of a sale are realised"
        return ['confirmed', 'processing', 'done']

    # Aggregation of the realised lines

    @classmethod
    def _joins(cls):
        pool = Pool()
        Company = pool.get('company.company')
        Currency = pool.get('currency.currency')

        tables = {}
        tables['line'] = line = cls._realised_facts()
        tables['line.company'] = company = Company.__table__()
        tables['line.company.currency'] = currency = Currency.__table__()
        from_item = (line
            .join(company, condition=line.company == company.id)
            .join(currency, condition=company.currency == currency.id))
        return from_item, tables, {}

    @classmethod
    def _columns(cls, tables, withs):
        line = tables['line']
        currency = tables['line.company.currency']

        revenue = Round(Sum(line.revenue), currency.digits)
        cost = Round(Sum(line.cost), currency.digits)
        # The rates are computed from the rounded sums so they can be
        # checked by hand from the amounts shown
        profit = revenue - cost
        number = cls._column_number(tables, withs)
        margin = Case((revenue != 0, profit / revenue), else_=Null)
        markup = Case((cost != 0, profit / cost), else_=Null)
        average_order = Case((number != 0, revenue / number), else_=Null)
        return [
            cls._column_id(tables, withs).as_('id'),
            line.company.as_('company'),
            cls.revenue.sql_cast(revenue).as_('revenue'),
            cls.cost.sql_cast(cost).as_('cost'),
            cls.profit.sql_cast(profit).as_('profit'),
            cls.margin.sql_cast(
                Round(margin, cls.margin.digits[1])).as_('margin'),
            cls.markup.sql_cast(
                Round(markup, cls.markup.digits[1])).as_('markup'),
            number.as_('number'),
            cls.average_order.sql_cast(
                Round(average_order, currency.digits)).as_('average_order'),
            currency.id.as_('currency'),
            ]

    @classmethod
    def _column_id(cls, tables, withs):
        line = tables['line']
        return Min(line.id)

    @classmethod
    def _column_number(cls, tables, withs):
        "Return the number of distinct sales of the row"
        line = tables['line']
        return Count(line.sale, distinct=True)

    @classmethod
    def _group_by(cls, tables, withs):
        line = tables['line']
        currency = tables['line.company.currency']
        return [line.company, currency.id, currency.digits]

    @classmethod
    def _where(cls, tables, withs):
        "Apply the dimension filters of the context to the realised lines"
        pool = Pool()
        Location = pool.get('stock.location')
        Category = pool.get('product.category')
        Product = pool.get('product.product')
        TemplateCategory = pool.get('product.template-product.category.all')
        context = Transaction().context
        line = tables['line']

        where = Literal(True)
        warehouse = context.get('warehouse')
        if warehouse:
            locations = Location.search([
                    ('parent', 'child_of', [warehouse]),
                    ], query=True, order=[])
            where &= line.location.in_(locations)
        customer = context.get('customer')
        if customer:
            where &= line.customer == customer
        channel = context.get('channel')
        if channel:
            where &= line.channel == channel
        product = context.get('product')
        if product:
            where &= line.product == product
        category = context.get('category')
        if category:
            categories = Category.search([
                    ('parent', 'child_of', [category]),
                    ], query=True, order=[])
            product_t = Product.__table__()
            template_category = TemplateCategory.__table__()
            where &= line.product.in_(product_t
                .join(template_category,
                    condition=product_t.template
                    == template_category.template)
                .select(product_t.id,
                    where=template_category.category.in_(categories)))
        return where

    @classmethod
    def _period_delta(cls):
        context = Transaction().context
        return {
            'year': relativedelta(years=1),
            'month': relativedelta(months=1),
            'day': relativedelta(days=1),
            }.get(context.get('period', 'month'))

    @classmethod
    def get_trend(cls, records, names):
        """Return the sparklines of the rows with one query per slice

        The query reads the time series of the rows, grouped by row and
        period; like core's trend, a sparkline goes from the first to the
        last period of its row, empty periods as 0."""
        pool = Pool()
        cursor = Transaction().connection.cursor()
        result = {name: {r.id: sparkline([]) for r in records}
            for name in names}
        if not isinstance(cls.time_series, fields.One2Many):
            return result
        Timeseries = pool.get(cls.time_series.model_name)
        row = cls.time_series.field
        figures = [n[:-len('_trend')] for n in names]
        delta = cls._period_delta()
        series = Timeseries.table_query()
        for sub_ids in grouped_slice([r.id for r in records], MAX_IDS):
            cursor.execute(*series.select(
                    Column(series, row), series.date,
                    *(Column(series, f) for f in figures),
                    where=in_ids(Column(series, row), list(sub_ids)),
                    order_by=[Column(series, row), series.date]))
            for row_id, rows in groupby(cursor, key=itemgetter(0)):
                rows = [(to_date(r[1]), r[2:]) for r in rows]
                for index, name in enumerate(names):
                    values = dict((d, v[index] or 0) for d, v in rows)
                    result[name][row_id] = sparkline(
                        fill_periods(values, delta))
        return result

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree/field[@name="markup"]', 'visual',
                If(Eval('markup', 0) < 0, 'danger', '')),
            ]


class AbstractTimeseries(margin_reporting.AbstractTimeseries, Abstract):
    "Base of the time series: the figures per period of the realised lines"

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.date.string = _msg('date')

    @classmethod
    def _column_date(cls, tables, withs):
        context = Transaction().context
        line = tables['line']
        date = DateTrunc(context.get('period', 'month'), line.date)
        return cls.date.sql_cast(date)


class Context(ModelView):
    __name__ = 'sale.insight.context'

    company = fields.Many2One('company.company', "Company", required=True)
    from_date = fields.Date(
        "From Date",
        domain=[
            If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')),
                ()),
            ])
    to_date = fields.Date(
        "To Date",
        domain=[
            If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')),
                ()),
            ])
    period = fields.Selection([
            ('year', "Year"),
            ('month', "Month"),
            ('day', "Day"),
            ], "Period", required=True)
    warehouse = fields.Many2One(
        'stock.location', "Warehouse",
        domain=[
            ('type', '=', 'warehouse'),
            ],
        help="Only goods that left from (or came back to) this warehouse, "
        "and services of sales from this warehouse.")
    customer = fields.Many2One(
        'party.party', "Customer",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    channel = fields.Many2One(
        'sale.channel', "Channel",
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    product = fields.Many2One(
        'product.product', "Product",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    category = fields.Many2One(
        'product.category', "Category",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="Only products of this category or of its children.")

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_from_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if 'from_date' in context:
            return context['from_date']
        return Date.today() - relativedelta(years=1)

    @classmethod
    def default_to_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if 'to_date' in context:
            return context['to_date']
        return Date.today()

    @classmethod
    def default_period(cls):
        return Transaction().context.get('period', 'month')

    @classmethod
    def default_warehouse(cls):
        return Transaction().context.get('warehouse')

    @classmethod
    def default_customer(cls):
        return Transaction().context.get('customer')

    @classmethod
    def default_channel(cls):
        return Transaction().context.get('channel')

    @classmethod
    def default_product(cls):
        return Transaction().context.get('product')

    @classmethod
    def default_category(cls):
        return Transaction().context.get('category')


class CustomerMixin:
    """The figures per customer, summed per sale first

    Counting the distinct sales of a row sorts all its facts; the sums per
    customer and sale (and period) are grouped by hash, and the rows then
    sum and count them."""
    __slots__ = ()

    customer = fields.Many2One(
        'party.party', _msg('customer'),
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})

    @classmethod
    def table_query(cls):
        pool = Pool()
        Company = pool.get('company.company')
        Currency = pool.get('currency.currency')
        check_sales_context()
        from_item, tables, withs = cls._joins()
        sales = from_item.select(*cls._sale_columns(tables, withs),
            where=cls._where(tables, withs),
            group_by=cls._sale_group_by(tables, withs))

        tables = {}
        tables['line'] = sales
        tables['line.company'] = company = Company.__table__()
        tables['line.company.currency'] = currency = Currency.__table__()
        from_item = (sales
            .join(company, condition=sales.company == company.id)
            .join(currency, condition=company.currency == currency.id))
        return from_item.select(*cls._columns(tables, withs),
            group_by=cls._group_by(tables, withs),
            with_=withs.values())

    @classmethod
    def _sale_group_by(cls, tables, withs):
        "Return the keys of the sums per sale of the facts"
        line = tables['line']
        return [line.company, line.customer, line.sale]

    @classmethod
    def _sale_columns(cls, tables, withs):
        "Return the columns of the sums per sale of the facts"
        line = tables['line']
        return [
            line.company.as_('company'),
            line.customer.as_('customer'),
            line.sale.as_('sale'),
            Sum(line.revenue).as_('revenue'),
            Sum(line.cost).as_('cost'),
            ]

    @classmethod
    def _column_number(cls, tables, withs):
        # the line of the rows is one sum per sale
        line = tables['line']
        return Count(line.sale)

    @classmethod
    def _columns(cls, tables, withs):
        line = tables['line']
        return super()._columns(tables, withs) + [
            line.customer.as_('customer')]

    @classmethod
    def _group_by(cls, tables, withs):
        line = tables['line']
        return super()._group_by(tables, withs) + [line.customer]

    def get_rec_name(self, name):
        return self.customer.rec_name if self.customer else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('customer.rec_name', *clause[1:])]


class Customer(CustomerMixin, Abstract, ModelView):
    __name__ = 'sale.insight.customer'

    time_series = fields.One2Many(
        'sale.insight.customer.time_series', 'customer',
        _msg('time_series'))
    inquiry_count = fields.Function(fields.Integer(
            "Inquiries",
            help="The number of inquiries of the customer "
            "(cancelled ones excluded)."),
        'get_crm')
    open_inquiry_count = fields.Function(fields.Integer(
            "Open Inquiries",
            help="The number of inquiries not yet closed or cancelled."),
        'get_crm')
    average_rating = fields.Function(fields.Numeric(
            "Average Rating", digits=(1, 2),
            help="The average score the customer gave."),
        'get_crm')
    last_interaction = fields.Function(fields.DateTime(
            "Last Interaction",
            help="The date of the latest interaction with the customer."),
        'get_crm')
    acquisition_channel = fields.Function(fields.Many2One(
            'sale.channel', "Acquisition Channel",
            help="Where the customer first came from."),
        'get_crm')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('customer', 'ASC'))

    @classmethod
    def _column_id(cls, tables, withs):
        line = tables['line']
        return line.customer

    @classmethod
    def get_crm(cls, records, names):
        """Return the CRM figures of the customers.

        One query per slice of customers returns every requested name; the
        id of a customer row is the id of its party.
        """
        pool = Pool()
        Party = pool.get('party.party')
        Inquiry = pool.get('party.crm.inquiry')
        Interaction = pool.get('party.crm.interaction')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        company = transaction.context.get('company')

        party = Party.__table__()
        inquiry = Inquiry.__table__()
        interaction = Interaction.__table__()

        ids = [r.id for r in records]
        result = {name: dict.fromkeys(ids) for name in names}
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            sub_ids = list(sub_ids)
            inquiries = inquiry.select(
                inquiry.party.as_('party'),
                Count(inquiry.id).as_('count'),
                Count(Case(
                        (inquiry.state.in_(cls._open_inquiry_states()),
                            inquiry.id))).as_('open_count'),
                where=(inquiry.company == company)
                & (inquiry.state != 'cancelled')
                & fields.SQL_OPERATORS['in'](inquiry.party, sub_ids),
                group_by=[inquiry.party])
            interactions = interaction.select(
                interaction.party.as_('party'),
                Max(interaction.date).as_('date'),
                where=(interaction.company == company)
                & fields.SQL_OPERATORS['in'](interaction.party, sub_ids),
                group_by=[interaction.party])
            query = (party
                .join(inquiries, type_='LEFT',
                    condition=inquiries.party == party.id)
                .join(interactions, type_='LEFT',
                    condition=interactions.party == party.id)
                .select(
                    party.id,
                    Coalesce(inquiries.count, 0),
                    Coalesce(inquiries.open_count, 0),
                    interactions.date,
                    party.acquisition_channel,
                    where=fields.SQL_OPERATORS['in'](party.id, sub_ids)))
            cursor.execute(*query)
            for party_id, count, open_count, date, channel in cursor:
                if isinstance(date, str):
                    date = dt.datetime.fromisoformat(date)
                values = {
                    'inquiry_count': count,
                    'open_inquiry_count': open_count,
                    'last_interaction': date,
                    'acquisition_channel': channel,
                    }
                for name in set(names) & values.keys():
                    result[name][party_id] = values[name]
        if 'average_rating' in names:
            result['average_rating'] = get_average_rating(ids, 'party')
        return result

    @classmethod
    def _open_inquiry_states(cls):
        "The states of an inquiry that still waits for the shop or customer"
        return ['draft', 'open', 'answered']


class CustomerTimeseries(CustomerMixin, AbstractTimeseries, ModelView):
    """The customer figures per period

    The id of a row is ``customer * PERIOD_NUMBERS + the number of its
    period`` so that a read is narrowed to the customers of the ids read."""
    __name__ = 'sale.insight.customer.time_series'

    @classmethod
    def table_query(cls):
        series = super().table_query()
        columns = [
            Column(series, c.output_name).as_(c.output_name)
            for c in series.columns if c.output_name != 'id']
        return series.select(
            cls._row_id(series.customer, series.date).as_('id'), *columns)

    @classmethod
    def _column_id(cls, tables, withs):
        # replaced by _row_id in table_query
        line = tables['line']
        return line.customer

    @classmethod
    def _sale_group_by(cls, tables, withs):
        return super()._sale_group_by(tables, withs) + [
            cls._column_date(tables, withs).as_('date')]

    @classmethod
    def _sale_columns(cls, tables, withs):
        return super()._sale_columns(tables, withs) + [
            cls._column_date(tables, withs).as_('date')]

    @classmethod
    def _row_id(cls, customer, date):
        "Return the SQL id of the row of the customer and the period date"
        database = Transaction().database
        bigint = database.sql_type('BIGINT').base
        number = (Extract('YEAR', date) * 372
            + (Extract('MONTH', date) - 1) * 31
            + Extract('DAY', date) - 1)
        return (Cast(customer, bigint) * PERIOD_NUMBERS
            + Cast(number, bigint))

    @classmethod
    def _where(cls, tables, withs):
        line = tables['line']
        where = super()._where(tables, withs)
        customers = Transaction().context.get('_insight_read_customers')
        if customers is not None:
            where &= in_ids(line.customer, customers)
        return where

    @classmethod
    def read(cls, ids, fields_names):
        customers = sorted({i // PERIOD_NUMBERS for i in ids})
        if len(customers) > MAX_IDS:
            return super().read(ids, fields_names)
        with Transaction().set_context(_insight_read_customers=customers):
            return super().read(ids, fields_names)


class ChannelMixin:
    __slots__ = ()

    channel = fields.Many2One('sale.channel', _msg('channel'))

    @classmethod
    def _columns(cls, tables, withs):
        line = tables['line']
        return super()._columns(tables, withs) + [
            line.channel.as_('channel')]

    @classmethod
    def _group_by(cls, tables, withs):
        line = tables['line']
        return super()._group_by(tables, withs) + [line.channel]

    @classmethod
    def _where(cls, tables, withs):
        line = tables['line']
        where = super()._where(tables, withs)
        where &= line.channel != Null
        return where

    def get_rec_name(self, name):
        return self.channel.rec_name if self.channel else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('channel.rec_name', *clause[1:])]


class Channel(ChannelMixin, Abstract, ModelView):
    __name__ = 'sale.insight.channel'

    time_series = fields.One2Many(
        'sale.insight.channel.time_series', 'channel', _msg('time_series'))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('channel', 'ASC'))

    @classmethod
    def _column_id(cls, tables, withs):
        line = tables['line']
        return line.channel


class ChannelTimeseries(ChannelMixin, AbstractTimeseries, ModelView):
    __name__ = 'sale.insight.channel.time_series'


class ProductMixin:
    __slots__ = ()

    product = fields.Many2One(
        'product.product', _msg('product'),
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    internal_quantity = fields.Float(_msg('internal_quantity'))
    quantity = fields.Function(fields.Float(
            _msg('quantity'), digits='unit', help=_msg('quantity_help')),
        'get_quantity')
    unit = fields.Many2One('product.uom', _msg('unit'))

    @classmethod
    def _columns(cls, tables, withs):
        line = tables['line']
        return super()._columns(tables, withs) + [
            line.product.as_('product'),
            Sum(line.quantity).as_('internal_quantity'),
            line.unit.as_('unit'),
            ]

    @classmethod
    def _group_by(cls, tables, withs):
        line = tables['line']
        return super()._group_by(tables, withs) + [line.product, line.unit]

    def get_rec_name(self, name):
        return self.product.rec_name if self.product else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('product.rec_name', *clause[1:])]

    def get_quantity(self, name):
        if self.internal_quantity is not None and self.unit:
            return self.unit.round(self.internal_quantity)
        return self.internal_quantity


class Product(ProductMixin, Abstract, ModelView):
    __name__ = 'sale.insight.product'

    time_series = fields.One2Many(
        'sale.insight.product.time_series', 'product', _msg('time_series'))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('product', 'ASC'))

    @classmethod
    def _column_id(cls, tables, withs):
        line = tables['line']
        return line.product


class ProductTimeseries(ProductMixin, AbstractTimeseries, ModelView):
    __name__ = 'sale.insight.product.time_series'


class CategoryMixin:
    __slots__ = ()

    category = fields.Many2One(
        'product.category', _msg('category'),
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})

    @classmethod
    def _joins(cls):
        pool = Pool()
        Product = pool.get('product.product')
        TemplateCategory = pool.get('product.template-product.category.all')
        from_item, tables, withs = super()._joins()
        if 'line.product' not in tables:
            product = Product.__table__()
            tables['line.product'] = product
            line = tables['line']
            from_item = (from_item
                .join(product, condition=line.product == product.id))
        if 'line.product.template_category' not in tables:
            template_category = TemplateCategory.__table__()
            tables['line.product.template_category'] = template_category
            product = tables['line.product']
            from_item = (from_item
                .join(template_category,
                    condition=product.template == template_category.template))
        return from_item, tables, withs

    @classmethod
    def _columns(cls, tables, withs):
        template_category = tables['line.product.template_category']
        return super()._columns(tables, withs) + [
            template_category.category.as_('category')]

    @classmethod
    def _column_id(cls, tables, withs):
        pool = Pool()
        Category = pool.get('product.category')
        category = Category.__table__()
        line = tables['line']
        template_category = tables['line.product.template_category']
        # Get a stable number of category over time
        # by using a number one order bigger.
        nb_category = category.select(
            Power(10, (Ceil(Log(Max(category.id))) + Literal(1))))
        return cls.id.sql_cast(
            Min(line.id * nb_category + template_category.id))

    @classmethod
    def _group_by(cls, tables, withs):
        template_category = tables['line.product.template_category']
        return super()._group_by(tables, withs) + [template_category.category]

    @classmethod
    def _where(cls, tables, withs):
        template_category = tables['line.product.template_category']
        where = super()._where(tables, withs)
        where &= template_category.category != Null
        return where

    def get_rec_name(self, name):
        return self.category.rec_name if self.category else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('category.rec_name', *clause[1:])]


class Category(CategoryMixin, Abstract, ModelView):
    __name__ = 'sale.insight.category'

    time_series = fields.One2Many(
        'sale.insight.category.time_series', 'category', _msg('time_series'))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('category', 'ASC'))

    @classmethod
    def _column_id(cls, tables, withs):
        template_category = tables['line.product.template_category']
        return template_category.category


class CategoryTimeseries(CategoryMixin, AbstractTimeseries, ModelView):
    __name__ = 'sale.insight.category.time_series'
