# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The table of realised sale lines every figure reads.

``sale.insight.fact`` holds the rows of
:meth:`reporting.Abstract._realised_lines`, the one definition of a realised
line, and is kept exact by the events that change them: moves done,
cancelled or re-costed, services of sales confirmed or cancelled, the sale
channel or party changed, currency rates and party merges.  Each event
deletes the rows it touches and inserts them again from the same query,
restricted to the moves, service lines or dates concerned."""
from sql import Literal, Null
from sql.aggregate import Count
from sql.conditionals import Coalesce

from trytond import backend, config
from trytond.model.exceptions import AccessError
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

# The columns of the realised lines, in order
COLUMNS = [
    'id', 'company', 'currency', 'sale', 'sale_line', 'move', 'customer',
    'channel', 'location', 'product', 'unit', 'date', 'quantity', 'revenue',
    'cost']
# The context keys that restrict the realised lines to some sources
RESTRICTIONS = ['realised_moves', 'realised_service_lines']
MAX_IDS = backend.MAX_QUERY_PARAMS


def in_ids(column, ids):
    "Return the SQL condition that column is one of the ids"
    if not ids:
        return Literal(False)
    return fields.SQL_OPERATORS['in'](column, ids)


def insight_company():
    """Return the context company if the user may read it, else None

    The context is the client's: the company counts only if it is one of
    the companies of the user (the root user may read them all)."""
    pool = Pool()
    User = pool.get('res.user')
    transaction = Transaction()
    company = transaction.context.get('company')
    if company is None:
        return None
    if transaction.user and company not in User.get_companies():
        return None
    return company


class Fact(ModelSQL):
    __string__ = "Sales Fact"
    __name__ = 'sale.insight.fact'

    company = fields.Many2One('company.company', "Company", readonly=True)
    currency = fields.Many2One('currency.currency', "Currency", readonly=True)
    sale = fields.Many2One(
        'sale.sale', "Sale", readonly=True, ondelete='CASCADE')
    sale_line = fields.Many2One(
        'sale.line', "Sale Line", readonly=True, ondelete='CASCADE')
    move = fields.Many2One(
        'stock.move', "Move", readonly=True, ondelete='CASCADE')
    customer = fields.Many2One(
        'party.party', "Customer", readonly=True,
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    channel = fields.Many2One(
        'sale.channel', "Channel", readonly=True, ondelete='SET NULL')
    location = fields.Many2One('stock.location', "Location", readonly=True)
    product = fields.Many2One(
        'product.product', "Product", readonly=True,
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    unit = fields.Many2One('product.uom', "Unit", readonly=True)
    date = fields.Date("Date", readonly=True)
    quantity = fields.Float("Quantity", readonly=True)
    revenue = fields.Numeric("Revenue", readonly=True)
    cost = fields.Numeric("Cost", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.company, Index.Equality()),
                    (t.date, Index.Range())),
                Index(t, (t.company, Index.Equality()),
                    (t.customer, Index.Equality()),
                    (t.date, Index.Range())),
                Index(t, (t.company, Index.Equality()),
                    (t.product, Index.Equality()),
                    (t.date, Index.Range())),
                Index(t, (t.customer, Index.Equality())),
                Index(t, (t.move, Index.Equality())),
                Index(t, (t.sale_line, Index.Equality())),
                Index(t, (t.sale, Index.Equality())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def __register__(cls, module):
        exists = backend.TableHandler.table_exist(cls._table)
        super().__register__(module)
        if not exists:
            cls.fill()

    # Filling

    @classmethod
    def _lines(cls):
        "Return the on-the-fly realised lines of the context company"
        pool = Pool()
        Insight = pool.get('sale.insight.customer')
        with Transaction().set_context(from_date=None, to_date=None):
            return Insight._realised_lines()

    @classmethod
    def _insert(cls, lines, where=None):
        "Insert the realised lines (of the context company) into the table"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.insert(
                [getattr(table, c) for c in COLUMNS],
                lines.select(*(getattr(lines, c) for c in COLUMNS),
                    where=where)))

    @classmethod
    def _companies(cls):
        pool = Pool()
        Company = pool.get('company.company')
        company = Company.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*company.select(company.id))
        return [c for c, in cursor]

    @classmethod
    def fill(cls, companies=None):
        "Replace the rows of the companies (all by default) with one INSERT"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        if companies is None:
            companies = cls._companies()
        for company in companies:
            cursor.execute(*table.delete(where=table.company == company))
            with Transaction().set_context(company=company):
                cls._insert(cls._lines())

    # Keeping exact

    @classmethod
    def refresh(cls, moves=None, service_lines=None):
        "Replace the rows of the move ids and of the service sale line ids"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        companies = cls._companies()
        for key, column, ids in [
                ('realised_moves', table.move, moves),
                ('realised_service_lines', table.sale_line, service_lines)]:
            if not ids:
                continue
            where = Literal(True)
            if key == 'realised_service_lines':
                where = table.move == Null
            for sub_ids in grouped_slice(sorted(set(ids)), MAX_IDS):
                sub_ids = list(sub_ids)
                cursor.execute(*table.delete(
                        where=where & in_ids(column, sub_ids)))
                for company in companies:
                    with Transaction().set_context(
                            company=company, **{key: sub_ids}):
                        cls._insert(cls._lines())

    @classmethod
    def refresh_dates(cls, from_date, to_date=None):
        "Replace the rows dated from from_date (to to_date, excluded)"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = table.date >= from_date
        if to_date:
            where &= table.date < to_date
        cursor.execute(*table.delete(where=where))
        for company in cls._companies():
            with Transaction().set_context(company=company):
                lines = cls._lines()
                where = lines.date >= from_date
                if to_date:
                    where &= lines.date < to_date
                cls._insert(lines, where=where)

    @classmethod
    def refresh_sales(cls, sales, service=True):
        "Copy party and channel of the sales and refresh their services"
        pool = Pool()
        Sale = pool.get('sale.sale')
        SaleLine = pool.get('sale.line')
        table = cls.__table__()
        sale = Sale.__table__()
        cursor = Transaction().connection.cursor()
        ids = [s.id for s in sales]
        for sub_ids in grouped_slice(ids, MAX_IDS):
            cursor.execute(*table.update(
                    [table.customer, table.channel],
                    [sale.select(sale.party, where=sale.id == table.sale),
                        sale.select(sale.channel, where=sale.id == table.sale)],
                    where=in_ids(table.sale, list(sub_ids))))
        if service:
            lines = SaleLine.search([
                    ('sale', 'in', ids),
                    ('type', '=', 'line'),
                    ('product.type', '=', 'service'),
                    ], order=[])
            cls.refresh(service_lines=[l.id for l in lines])

    # Checking

    @classmethod
    def differences(cls, company):
        """Return the keys of the rows that differ from the on-the-fly query
        for the company: missing (not in the table), extra (only in the
        table) and changed (another value in a column)"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        with Transaction().set_context(company=company):
            lines = cls._lines()
        facts = table.select(*(getattr(table, c) for c in COLUMNS),
            where=table.company == company)
        joined = facts.join(lines, type_='FULL',
            condition=facts.id == lines.id)
        result = {'missing': [], 'extra': [], 'changed': []}
        same = Literal(True)
        for name in COLUMNS[1:]:
            a, b = getattr(facts, name), getattr(lines, name)
            if name in {'revenue', 'cost', 'quantity'}:
                # the table keeps the database's numeric precision
                same &= Coalesce(a, 0) - Coalesce(b, 0) <= 1e-6
                same &= Coalesce(b, 0) - Coalesce(a, 0) <= 1e-6
            else:
                same &= ((a == b) | ((a == Null) & (b == Null)))
        cursor.execute(*joined.select(
                facts.id, lines.id, same,
                where=(facts.id == Null) | (lines.id == Null) | ~same))
        for fact_id, line_id, same in cursor:
            if fact_id is None:
                result['missing'].append(line_id)
            elif line_id is None:
                result['extra'].append(fact_id)
            else:
                result['changed'].append(fact_id)
        for ids in result.values():
            ids.sort()
        return result


class Move(metaclass=PoolMeta):
    __name__ = 'stock.move'

    @classmethod
    def _insight_fields(cls):
        "The fields of a move that change its realised line"
        return {
            'state', 'effective_date', 'cost_price', 'unit_price',
            'quantity', 'internal_quantity', 'unit', 'currency', 'origin',
            'from_location', 'to_location', 'product', 'company'}

    @classmethod
    def on_modification(cls, mode, moves, field_names=None):
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        super().on_modification(mode, moves, field_names=field_names)
        if mode == 'write' and not (field_names & cls._insight_fields()):
            return
        # only done moves are realised, and only they can be cancelled
        # after it
        ids = [m.id for m in moves
            if mode == 'delete' or m.state in {'done', 'cancelled'}]
        if ids:
            Fact.refresh(moves=ids)


class Sale(metaclass=PoolMeta):
    __name__ = 'sale.sale'

    @classmethod
    def on_modification(cls, mode, sales, field_names=None):
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        super().on_modification(mode, sales, field_names=field_names)
        if mode != 'write':
            return
        service = bool(field_names & {
                'state', 'sale_date', 'currency', 'company', 'warehouse',
                'lines'})
        if service or field_names & {'party', 'channel'}:
            Fact.refresh_sales(sales, service=service)


class SaleLine(metaclass=PoolMeta):
    __name__ = 'sale.line'

    @classmethod
    def on_modification(cls, mode, lines, field_names=None):
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        super().on_modification(mode, lines, field_names=field_names)
        if mode == 'write' and not (field_names & {
                    'quantity', 'unit_price', 'unit', 'product', 'type',
                    'sale'}):
            return
        services = [
            l.id for l in lines
            if mode == 'delete' or (l.product and l.product.type == 'service'
                and l.sale.state in {'confirmed', 'processing', 'done'})]
        Fact.refresh(service_lines=services)


class ProductCostPrice(metaclass=PoolMeta):
    "The cost of a service line is the product's current cost"
    __name__ = 'product.cost_price'

    @classmethod
    def on_modification(cls, mode, costs, field_names=None):
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        table = Fact.__table__()
        cursor = Transaction().connection.cursor()
        super().on_modification(mode, costs, field_names=field_names)
        products = [c.product.id for c in costs if c.product]
        lines = []
        for sub_ids in grouped_slice(products, MAX_IDS):
            cursor.execute(*table.select(table.sale_line,
                    where=(table.move == Null)
                    & in_ids(table.product, list(sub_ids))))
            lines.extend(l for l, in cursor)
        Fact.refresh(service_lines=lines)


class CurrencyRate(metaclass=PoolMeta):
    "A rate applies from its date to the next rate of its currency"
    __name__ = 'currency.currency.rate'

    @classmethod
    def _insight_refresh(cls, rates, dates):
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        if not dates:
            return
        currencies = {r.currency.id for r in rates}
        start = min(dates)
        later = cls.search([
                ('currency', 'in', list(currencies)),
                ('date', '>', max(dates)),
                ('id', 'not in', [r.id for r in rates]),
                ], order=[('date', 'ASC')], limit=1)
        end = later[0].date if len(currencies) == 1 and later else None
        Fact.refresh_dates(start, end)

    @classmethod
    def create(cls, vlist):
        rates = super().create(vlist)
        cls._insight_refresh(rates, [r.date for r in rates])
        return rates

    @classmethod
    def write(cls, *args):
        rates = sum(args[::2], [])
        dates = [r.date for r in rates]
        super().write(*args)
        cls._insight_refresh(rates, dates + [r.date for r in rates])

    @classmethod
    def delete(cls, rates):
        dates = [r.date for r in rates]
        super().delete(rates)
        if dates:
            Pool().get('sale.insight.fact').refresh_dates(min(dates))


class Company(metaclass=PoolMeta):
    __name__ = 'company.company'

    @classmethod
    def rebuild_sales_facts(cls, companies):
        "Rebuild the sales facts of the companies (queue task)"
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        Fact.fill([c.id for c in companies])


class PartyReplace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('sale.insight.fact', 'customer'),
            ]


class RebuildStart(ModelView):
    __string__ = "Rebuild Sales Facts"
    __name__ = 'sale.insight.fact.rebuild.start'
    company = fields.Many2One('company.company', "Company", required=True)

    @classmethod
    def default_company(cls):
        return insight_company()


class RebuildCheck(ModelView):
    __string__ = "Sales Facts Check"
    __name__ = 'sale.insight.fact.rebuild.check'
    missing = fields.Integer(
        "Missing", readonly=True,
        help="Realised lines that the table does not have.")
    extra = fields.Integer(
        "Extra", readonly=True,
        help="Rows of the table that are no longer realised lines.")
    changed = fields.Integer(
        "Changed", readonly=True,
        help="Rows of the table whose values differ from the realised line.")
    facts = fields.Integer("Rows", readonly=True)


class Rebuild(Wizard):
    __string__ = "Rebuild Sales Facts"
    __name__ = 'sale.insight.fact.rebuild'
    start = StateView('sale.insight.fact.rebuild.start',
        'shop_sale_insight.fact_rebuild_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Check", 'check', 'tryton-search'),
            Button("Rebuild", 'rebuild', 'tryton-refresh', default=True),
            ])
    check = StateView('sale.insight.fact.rebuild.check',
        'shop_sale_insight.fact_rebuild_check_view_form', [
            Button("Close", 'end', 'tryton-close'),
            Button("Rebuild", 'rebuild', 'tryton-refresh', default=True),
            ])
    rebuild = StateTransition()

    def _company(self):
        "Return the start company, checked as the view domain is not"
        pool = Pool()
        User = pool.get('res.user')
        company = self.start.company
        if Transaction().user and company.id not in User.get_companies():
            raise AccessError(gettext(
                    'shop_sale_insight.msg_fact_company_not_allowed',
                    company=company.rec_name))
        return company

    def default_check(self, fields):
        pool = Pool()
        Fact = pool.get('sale.insight.fact')
        table = Fact.__table__()
        cursor = Transaction().connection.cursor()
        company = self._company()
        differences = Fact.differences(company.id)
        cursor.execute(*table.select(Count(Literal('*')),
                where=table.company == company.id))
        count, = cursor.fetchone()
        values = {k: len(v) for k, v in differences.items()}
        values['facts'] = count
        return values

    def transition_rebuild(self):
        pool = Pool()
        Company = pool.get('company.company')
        company = self._company()
        # A queue task needs records: those of an empty list are dropped.
        if config.getboolean('queue', 'worker', default=False):
            Company.__queue__.rebuild_sales_facts([company])
        else:
            Company.rebuild_sales_facts([company])
        return 'end'

