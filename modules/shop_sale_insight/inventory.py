# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Stock value, turnover, days of inventory, sell-through, stock cover and
ABC classes per product and per category.

The stock value at a date is the *move-valued* stock of the warehouse: the
sum over the done moves into (+) and out of (-) its storage locations up to
that date of ``internal_quantity * cost_price``.  Core's inventory reporting
(``stock.reporting.inventory*``) is quantity only, so the value is computed
here from the moves; the cost of goods sold is the ``cost`` of the realised
sale lines of :meth:`reporting.Abstract._realised_lines`, the same figure as
the profitability reports.  The formulas are in the module documentation.
"""
import datetime as dt

from dateutil.relativedelta import relativedelta
from sql import Cast, Literal, Null, Union, Window
from sql.aggregate import Max, Min, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import Function, Round

from trytond import backend
from trytond.i18n import lazy_gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.currency.fields import Monetary
from trytond.modules.shop_crm.engagement import SEGMENTS
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from .report_context import check_inventory_context

ABC_CLASSES = [
    ('A', "A"),
    ('B', "B"),
    ('C', "C"),
    ]

# The summed figures of a product or a category
FIGURES = [
    'opening_quantity', 'closing_quantity', 'received_quantity',
    'opening_value', 'closing_value', 'value_days',
    'sold_quantity', 'cogs', 'recent_quantity']


def _msg(name):
    return lazy_gettext('shop_sale_insight.msg_inventory_%s' % name)


class _SQLiteJulianDay(Function):
    __slots__ = ()
    _function = 'JULIANDAY'


def days_between(start, end):
    "Return the SQL number of days from the date start to the date end"
    if backend.name == 'sqlite':
        return Cast(
            _SQLiteJulianDay(end) - _SQLiteJulianDay(start), 'INTEGER')
    return Cast(end, 'DATE') - Cast(start, 'DATE')


def numeric(expression):
    return Cast(expression, 'NUMERIC')


def to_float(expression):
    database = Transaction().database
    return Cast(expression, database.sql_type('FLOAT').base)


def ratio(numerator, denominator, digits):
    """Return the SQL ratio rounded to digits, NULL when the denominator is
    not positive"""
    return Case(
        (denominator > 0,
            Round(numeric(to_float(numerator) / denominator), digits)),
        else_=Null)


class Context(ModelView):
    __string__ = "Inventory Insight Context"
    __name__ = 'sale.insight.inventory.context'

    company = fields.Many2One('company.company', "Company", required=True)
    warehouse = fields.Many2One(
        'stock.location', "Warehouse",
        domain=[
            ('type', '=', 'warehouse'),
            ],
        help="Only the stock and sales of this warehouse; "
        "all warehouses when empty.")
    from_date = fields.Date(
        "From Date", required=True,
        domain=[
            If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')),
                ()),
            ])
    to_date = fields.Date(
        "To Date", required=True,
        domain=[
            If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')),
                ()),
            ])
    category = fields.Many2One(
        'product.category', "Category",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="Only products of this category or of its children.")
    recent_days = fields.Integer(
        "Recent Days", required=True,
        domain=[('recent_days', '>', 0)],
        help="The number of days up to the end date over which the recent "
        "sales rate of the stock cover is measured.")
    abc_a = fields.Float(
        "Class A Up To", required=True, digits=(1, 4),
        domain=[('abc_a', '>', 0), ('abc_a', '<', Eval('abc_b', 1))],
        help="The share of the cost of goods sold covered by class A "
        "(0.80 for 80 %).")
    abc_b = fields.Float(
        "Class B Up To", required=True, digits=(1, 4),
        domain=[('abc_b', '>', Eval('abc_a', 0)), ('abc_b', '<=', 1)],
        help="The share of the cost of goods sold covered by classes A and "
        "B (0.95 for 95 %).")
    overstock_days = fields.Integer(
        "Overstock Cover Days", required=True,
        domain=[('overstock_days', '>=', 0)],
        help="A product is overstocked when its stock cover is above this "
        "number of days (or it has stock but no recent sale), or when it "
        "is of class C and its stock exceeds the quantity sold over the "
        "period.")

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_warehouse(cls):
        return Transaction().context.get('warehouse')

    @classmethod
    def default_from_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if context.get('from_date'):
            return context['from_date']
        return Date.today() - relativedelta(years=1)

    @classmethod
    def default_to_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if context.get('to_date'):
            return context['to_date']
        return Date.today()

    @classmethod
    def default_category(cls):
        return Transaction().context.get('category')

    @classmethod
    def default_recent_days(cls):
        return Transaction().context.get('recent_days', 30)

    @classmethod
    def default_abc_a(cls):
        return Transaction().context.get('abc_a', 0.8)

    @classmethod
    def default_abc_b(cls):
        return Transaction().context.get('abc_b', 0.95)

    @classmethod
    def default_overstock_days(cls):
        return Transaction().context.get('overstock_days', 90)


def _context():
    "Return the inventory context values with their defaults"
    pool = Pool()
    Date = pool.get('ir.date')
    check_inventory_context()
    context = Transaction().context
    to_date = context.get('to_date') or Date.today()
    from_date = context.get('from_date') or (
        to_date - relativedelta(years=1))
    if isinstance(to_date, dt.datetime):
        to_date = to_date.date()
    if isinstance(from_date, dt.datetime):
        from_date = from_date.date()
    return {
        'company': context.get('company'),
        'warehouse': context.get('warehouse'),
        'category': context.get('category'),
        'from_date': from_date,
        'to_date': to_date,
        'recent_days': context.get('recent_days') or 30,
        'abc_a': context.get('abc_a') or 0.8,
        'abc_b': context.get('abc_b') or 0.95,
        'overstock_days': (
            context['overstock_days']
            if context.get('overstock_days') is not None else 90),
        }


class InventoryMixin:
    "The SQL building blocks of the inventory figures"
    __slots__ = ()

    company = fields.Many2One('company.company', _msg('company'))
    currency = fields.Many2One('currency.currency', _msg('currency'))
    opening_quantity = fields.Float(
        _msg('opening_quantity'), help=_msg('opening_quantity_help'))
    closing_quantity = fields.Float(
        _msg('closing_quantity'), help=_msg('closing_quantity_help'))
    received_quantity = fields.Float(
        _msg('received_quantity'), help=_msg('received_quantity_help'))
    sold_quantity = fields.Float(
        _msg('sold_quantity'), help=_msg('sold_quantity_help'))
    opening_value = Monetary(
        _msg('opening_value'), currency='currency', digits='currency',
        help=_msg('opening_value_help'))
    closing_value = Monetary(
        _msg('closing_value'), currency='currency', digits='currency',
        help=_msg('closing_value_help'))
    average_value = Monetary(
        _msg('average_value'), currency='currency', digits='currency',
        help=_msg('average_value_help'))
    cogs = Monetary(
        _msg('cogs'), currency='currency', digits='currency',
        help=_msg('cogs_help'))
    turnover = fields.Numeric(
        _msg('turnover'), digits=(None, 4), help=_msg('turnover_help'))
    days_of_inventory = fields.Numeric(
        _msg('days_of_inventory'), digits=(None, 2),
        help=_msg('days_of_inventory_help'))
    sell_through = fields.Numeric(
        _msg('sell_through'), digits=(None, 4),
        help=_msg('sell_through_help'))
    stock_cover_days = fields.Numeric(
        _msg('stock_cover_days'), digits=(None, 2),
        help=_msg('stock_cover_days_help'))
    abc_class = fields.Selection(
        ABC_CLASSES, _msg('abc_class'), help=_msg('abc_class_help'))

    @classmethod
    def _storage_locations(cls):
        "Return the query of the storage locations of the context warehouse"
        pool = Pool()
        Location = pool.get('stock.location')
        context = _context()
        if context['warehouse']:
            warehouses = [context['warehouse']]
        else:
            warehouses = Location.search([('type', '=', 'warehouse')])
            warehouses = [w.id for w in warehouses] or [-1]
        return Location.search([
                ('parent', 'child_of', warehouses),
                ('type', '=', 'storage'),
                ], query=True, order=[])

    @classmethod
    def _product_where(cls, product):
        "Return the SQL condition on the context category"
        pool = Pool()
        Category = pool.get('product.category')
        Product = pool.get('product.product')
        TemplateCategory = pool.get('product.template-product.category.all')
        category = _context()['category']
        if not category:
            return Literal(True)
        categories = Category.search([
                ('parent', 'child_of', [category]),
                ], query=True, order=[])
        product_t = Product.__table__()
        template_category = TemplateCategory.__table__()
        return product.in_(product_t
            .join(template_category,
                condition=product_t.template == template_category.template)
            .select(product_t.id,
                where=template_category.category.in_(categories)))

    @classmethod
    def _zero_columns(cls, **values):
        "Return the columns of a branch of the product figures"
        names = FIGURES
        columns = [values.pop('product').as_('product')]
        for name in names:
            value = values.pop(name, Literal(0))
            if name.endswith('quantity'):
                value = to_float(value)
            else:
                value = numeric(value)
            columns.append(value.as_(name))
        assert not values
        return columns

    @classmethod
    def _move_branch(cls):
        """Return the branch of the done moves in and out of the storage
        locations up to the end date"""
        pool = Pool()
        Move = pool.get('stock.move')
        Location = pool.get('stock.location')
        context = _context()
        move = Move.__table__()
        from_location = Location.__table__()
        storage = cls._storage_locations()

        from_date, to_date = context['from_date'], context['to_date']
        sign = (Case((move.to_location.in_(storage), 1), else_=0)
            - Case((move.from_location.in_(storage), 1), else_=0))
        quantity = sign * move.internal_quantity
        value = (sign * numeric(move.internal_quantity)
            * numeric(Coalesce(move.cost_price, 0)))
        before = move.effective_date < from_date
        in_period = move.effective_date >= from_date
        # The value held from the move date to the end date included
        days_held = days_between(move.effective_date, to_date) + 1
        received = (from_location.type == 'supplier') & in_period
        return (move
            .join(from_location,
                condition=move.from_location == from_location.id)
            .select(*cls._zero_columns(
                    product=move.product,
                    opening_quantity=Case((before, quantity), else_=0),
                    closing_quantity=quantity,
                    received_quantity=Case(
                        (received, move.internal_quantity), else_=0),
                    opening_value=Case((before, value), else_=0),
                    closing_value=value,
                    value_days=Case(
                        (in_period, value * days_held), else_=0)),
                where=(move.state == 'done')
                & (move.company == context['company'])
                & (move.effective_date <= to_date)
                & (move.to_location.in_(storage)
                    != move.from_location.in_(storage))
                & cls._product_where(move.product)))

    @classmethod
    def _sale_branch(cls, from_date, to_date, recent=False):
        "Return the branch of the realised sale lines between the dates"
        pool = Pool()
        Insight = pool.get('sale.insight.product')
        with Transaction().set_context(
                from_date=from_date, to_date=to_date):
            lines = Insight._realised_facts()
        storage = cls._storage_locations()
        if recent:
            values = {'recent_quantity': lines.quantity}
        else:
            values = {
                'sold_quantity': lines.quantity,
                'cogs': lines.cost,
                }
        return lines.select(*cls._zero_columns(
                product=lines.product, **values),
            where=lines.location.in_(storage)
            & cls._product_where(lines.product))

    @classmethod
    def _product_figures(cls):
        """Return the sub-query of the figures per product with the ABC
        class of the period cost of goods sold"""
        return cls._abc(cls._product_sums(), 'product')

    @classmethod
    def _product_sums(cls):
        "Return the sub-query of the summed figures per product"
        context = _context()
        to_date = context['to_date']
        recent_from = to_date - dt.timedelta(days=context['recent_days'] - 1)
        union = Union(
            cls._move_branch(),
            cls._sale_branch(context['from_date'], to_date),
            cls._sale_branch(recent_from, to_date, recent=True),
            all_=True)
        names = FIGURES
        grouped = union.select(
            union.product.as_('product'),
            *[Sum(getattr(union, n)).as_(n) for n in names],
            group_by=[union.product])
        return grouped

    @classmethod
    def _abc(cls, rows, key):
        "Return rows with the ABC class of their cogs ranked on key"
        context = _context()
        currency = cls._currency()
        digits = currency.digits if currency else 2
        cogs = Round(numeric(rows.cogs), digits)
        window = Window([], order_by=[cogs.desc, getattr(rows, key).asc])
        cumulative = Sum(cogs, window=window)
        total = Sum(cogs, window=Window([]))
        before = cumulative - cogs
        abc_class = Case(
            (cogs <= 0, 'C'),
            (before < total * context['abc_a'], 'A'),
            (before < total * context['abc_b'], 'B'),
            else_='C')
        return rows.select(
            getattr(rows, key).as_(key),
            *[getattr(rows, n).as_(n) for n in FIGURES],
            abc_class.as_('abc_class'))

    @classmethod
    def _currency(cls):
        pool = Pool()
        Company = pool.get('company.company')
        company = _context()['company']
        return Company(company).currency if company is not None else None

    @classmethod
    def _figure_columns(cls, rows):
        "Return the output columns computed from the summed figures"
        context = _context()
        currency = cls._currency()
        digits = currency.digits if currency else 2
        days = (context['to_date'] - context['from_date']).days + 1

        opening_value = Round(numeric(rows.opening_value), digits)
        closing_value = Round(numeric(rows.closing_value), digits)
        average_value = Round(numeric(
                to_float(rows.opening_value)
                + to_float(rows.value_days) / days), digits)
        cogs = Round(numeric(rows.cogs), digits)
        supply = rows.opening_quantity + rows.received_quantity
        return [
            Literal(context['company']).as_('company'),
            Literal(currency.id if currency else None).as_('currency'),
            rows.opening_quantity.as_('opening_quantity'),
            rows.closing_quantity.as_('closing_quantity'),
            rows.received_quantity.as_('received_quantity'),
            rows.sold_quantity.as_('sold_quantity'),
            opening_value.as_('opening_value'),
            closing_value.as_('closing_value'),
            average_value.as_('average_value'),
            cogs.as_('cogs'),
            ratio(cogs, average_value, 4).as_('turnover'),
            Case(
                (cogs > 0, Round(
                        numeric(to_float(average_value) * days / cogs), 2)),
                else_=Null).as_('days_of_inventory'),
            ratio(rows.sold_quantity, supply, 4).as_('sell_through'),
            ratio(rows.closing_quantity * context['recent_days'],
                rows.recent_quantity, 2).as_('stock_cover_days'),
            rows.abc_class.as_('abc_class'),
            ]


class Inventory(InventoryMixin, ModelSQL, ModelView):
    __string__ = "Inventory per Product"
    __name__ = 'sale.insight.inventory'

    product = fields.Many2One(
        'product.product', _msg('product'),
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    unit = fields.Many2One('product.uom', _msg('unit'))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('cogs', 'DESC'),
            ('product', 'ASC'),
            ('id', 'ASC'),
            ]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Product = pool.get('product.product')
        Template = pool.get('product.template')
        rows = cls._product_figures()
        product = Product.__table__()
        template = Template.__table__()
        return (rows
            .join(product, condition=rows.product == product.id)
            .join(template, condition=product.template == template.id)
            .select(
                rows.product.as_('id'),
                rows.product.as_('product'),
                template.default_uom.as_('unit'),
                *cls._figure_columns(rows)))

    def get_rec_name(self, name):
        return self.product.rec_name if self.product else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('product.rec_name', *clause[1:])]


class InventoryCategory(InventoryMixin, ModelSQL, ModelView):
    __string__ = "Inventory per Category"
    __name__ = 'sale.insight.inventory.category'

    category = fields.Many2One(
        'product.category', _msg('category'),
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('cogs', 'DESC'),
            ('category', 'ASC'),
            ('id', 'ASC'),
            ]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Product = pool.get('product.product')
        TemplateCategory = pool.get('product.template-product.category.all')
        sums = cls._product_sums()
        product = Product.__table__()
        template_category = TemplateCategory.__table__()
        grouped = (sums
            .join(product, condition=sums.product == product.id)
            .join(template_category,
                condition=product.template == template_category.template)
            .select(
                template_category.category.as_('category'),
                *[Sum(getattr(sums, n)).as_(n) for n in FIGURES],
                group_by=[template_category.category]))
        rows = cls._abc(grouped, 'category')
        return rows.select(
            rows.category.as_('id'),
            rows.category.as_('category'),
            *cls._figure_columns(rows))

    def get_rec_name(self, name):
        return self.category.rec_name if self.category else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('category.rec_name', *clause[1:])]


class Overstock(ModelSQL, ModelView):
    """The overstocked products and the customers to push them to

    One row per overstocked product and customer who has a ``like``
    preference for one of the product categories (or its parents) or for
    the product itself, and who gave marketing consent."""
    __string__ = "Overstock to Customers"
    __name__ = 'sale.insight.inventory.overstock'

    company = fields.Many2One('company.company', _msg('company'))
    product = fields.Many2One(
        'product.product', _msg('product'),
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    customer = fields.Many2One(
        'party.party', "Customer",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    category = fields.Many2One(
        'product.category', _msg('category'),
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="The category the customer likes.")
    segment = fields.Selection(
        SEGMENTS, "Segment",
        help="The engagement segment of the customer when computed.")
    closing_quantity = fields.Float(
        _msg('closing_quantity'), help=_msg('closing_quantity_help'))
    stock_cover_days = fields.Numeric(
        _msg('stock_cover_days'), digits=(None, 2),
        help=_msg('stock_cover_days_help'))
    abc_class = fields.Selection(
        ABC_CLASSES, _msg('abc_class'), help=_msg('abc_class_help'))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('product', 'ASC'),
            ('customer', 'ASC'),
            ('id', 'ASC'),
            ]

    @classmethod
    def _overstock_where(cls, rows):
        """Return the SQL condition of an overstocked product: stock left
        and a stock cover above the threshold (infinite without recent
        sales), or class C with more stock than sold over the period"""
        context = _context()
        return ((rows.closing_quantity > 0)
            & ((rows.recent_quantity <= 0)
                | (rows.closing_quantity * context['recent_days']
                    > rows.recent_quantity * context['overstock_days'])
                | ((rows.abc_class == 'C')
                    & (rows.closing_quantity > rows.sold_quantity))))

    @classmethod
    def table_query(cls):
        pool = Pool()
        Inventory = pool.get('sale.insight.inventory')
        Product = pool.get('product.product')
        TemplateCategory = pool.get('product.template-product.category.all')
        Preference = pool.get('party.crm.preference')
        Party = pool.get('party.party')
        Engagement = pool.get('party.crm.engagement')
        context = _context()

        figures = Inventory._product_figures()
        rows = figures.select(
            figures.product, figures.closing_quantity, figures.sold_quantity,
            figures.recent_quantity, figures.abc_class,
            where=cls._overstock_where(figures))
        product = Product.__table__()
        template_category = TemplateCategory.__table__()
        preference = Preference.__table__()
        party = Party.__table__()
        engagement = Engagement.__table__()
        # One row per product and customer: a stable id from both
        cursor = Transaction().connection.cursor()
        cursor.execute(*party.select(Max(party.id)))
        max_party, = cursor.fetchone()
        factor = 10 ** len(str(max_party or 0))
        query = (rows
            .join(product, condition=rows.product == product.id)
            .join(template_category,
                condition=product.template == template_category.template)
            .join(preference,
                condition=(preference.category == template_category.category)
                & (preference.kind == 'like')
                & ((preference.product == Null)
                    | (preference.product == rows.product)))
            .join(party, condition=preference.party == party.id)
            .join(engagement, type_='LEFT',
                condition=(engagement.party == party.id)
                & (engagement.company == context['company']))
            .select(
                (rows.product * factor + preference.party).as_('id'),
                rows.product.as_('product'),
                preference.party.as_('customer'),
                Min(preference.category).as_('category'),
                Max(engagement.segment).as_('segment'),
                rows.closing_quantity.as_('closing_quantity'),
                rows.recent_quantity.as_('recent_quantity'),
                rows.abc_class.as_('abc_class'),
                where=(party.marketing_consent == Literal(True))
                & (party.active == Literal(True)),
                group_by=[
                    rows.product, preference.party, rows.closing_quantity,
                    rows.recent_quantity, rows.abc_class]))
        return query.select(
            query.id.as_('id'),
            Literal(context['company']).as_('company'),
            query.product.as_('product'),
            query.customer.as_('customer'),
            query.category.as_('category'),
            query.segment.as_('segment'),
            query.closing_quantity.as_('closing_quantity'),
            ratio(query.closing_quantity * context['recent_days'],
                query.recent_quantity, 2).as_('stock_cover_days'),
            query.abc_class.as_('abc_class'))

    def get_rec_name(self, name):
        return '%s - %s' % (
            self.product.rec_name if self.product else '',
            self.customer.rec_name if self.customer else '')

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('product.rec_name', *clause[1:]),
            ('customer.rec_name', *clause[1:]),
            ]
