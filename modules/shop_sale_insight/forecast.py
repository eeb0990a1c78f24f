# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Demand forecast per product and warehouse.

The history is the quantity of the realised sale lines of
:meth:`reporting.Abstract._realised_lines` (goods shipped from the storage
of a warehouse, returns negative) per month, read by one SQL query; the
methods and their selection are the pure functions of
:mod:`.forecast_methods`."""
import datetime as dt
from collections import defaultdict

from dateutil.relativedelta import relativedelta

from sql import Column
from sql.aggregate import Min, Sum
from sql.conditionals import Coalesce
from sql.functions import DateTrunc

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.shop_crm.company import check_company
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.pyson import PYSONEncoder
from trytond.wizard import (
    Button, StateAction, StateTransition, StateView, Wizard)

from . import forecast_methods
from .facts import MAX_IDS, in_ids
from .reporting import to_date

METHODS = [
    (None, ""),
    ('moving_average', "Moving Average"),
    ('exponential_smoothing', "Exponential Smoothing"),
    ('holt_winters', "Holt-Winters"),
    ('croston', "Croston (SBA)"),
    ]
PERIODS = [
    ('month', "Month"),
    ('week', "Week"),
    ]
SEASONS = {'month': 12, 'week': 52}
# The most periods of history, horizon and backtest: 20 years of months
MAX_PERIODS = {'month': 240, 'week': 1040}


def _to_date(value):
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    elif isinstance(value, dt.datetime):
        value = value.date()
    return value


def array_literal(values):
    """Return the PostgreSQL array text of the values: numbers (str keeps
    every float digit), dates and the method names, whose texts need no
    quotes and never contain None, the text of NULL values"""
    return '{%s}' % ','.join(map(str, values)).replace('None', 'NULL')


def period_start(date, period):
    "Return the first day of the period of the date"
    if period == 'week':
        return date - dt.timedelta(days=date.weekday())
    return date.replace(day=1)


def period_delta(period, n=1):
    if period == 'week':
        return dt.timedelta(weeks=n)
    return relativedelta(months=n)


class Forecast(ModelSQL, ModelView):
    __string__ = "Demand Forecast"
    __name__ = 'sale.insight.forecast'

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    product = fields.Many2One(
        'product.product', "Product", required=True, readonly=True,
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    warehouse = fields.Many2One(
        'stock.location', "Warehouse", required=True, readonly=True,
        domain=[('type', '=', 'warehouse')])
    period = fields.Selection(PERIODS, "Period", required=True, readonly=True)
    date = fields.Date(
        "Date", required=True, readonly=True,
        help="The first day of the period.")
    actual = fields.Float(
        "Actual", readonly=True,
        help="The quantity sold in the period of the history "
        "(returns deducted); empty for forecast periods.")
    quantity = fields.Float(
        "Forecast", readonly=True,
        help="The forecast quantity of a future period.")
    method = fields.Selection(
        METHODS, "Method", readonly=True,
        help="The method with the lowest backtest error.")
    error = fields.Float(
        "Error (MAE)", readonly=True,
        help="The mean absolute error of the one-step forecasts "
        "of the last periods of the history (rolling origin).")
    smape = fields.Float(
        "Error (sMAPE)", readonly=True,
        help="The symmetric mean absolute percentage error of the same "
        "backtest: the mean of 2 |actual - forecast| / "
        "(|actual| + |forecast|).")
    computed_at = fields.DateTime("Computed at", readonly=True)
    unit = fields.Function(
        fields.Many2One('product.uom', "Unit"), 'on_change_with_unit')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('product', 'ASC'),
            ('warehouse', 'ASC'),
            ('date', 'ASC'),
            ('id', 'ASC'),
            ]

    @fields.depends('product')
    def on_change_with_unit(self, name=None):
        return self.product.default_uom if self.product else None

    def get_rec_name(self, name):
        return '%s @ %s' % (
            self.product.rec_name if self.product else '', self.date)

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('product.rec_name', *clause[1:])]

    @classmethod
    def compute(cls, period='month', history=36, horizon=3, backtest=6,
            warehouse=None, date=None):
        """Compute the forecasts of the context company (the cron method).

        The history is the ``history`` periods before the period of
        ``date`` (today by default) and the forecasts the ``horizon``
        periods from it.  The previous forecasts of the company, period
        (and warehouse) are replaced."""
        pool = Pool()
        Date = pool.get('ir.date')
        transaction = Transaction()
        company = transaction.context.get('company')
        if not company:
            return
        check_company(company)
        cls.check_parameters(period, history, horizon, backtest)
        if date is None:
            date = Date.today()
        origin = period_start(date, period)
        start = origin - period_delta(period, history)
        if period == 'week':
            # aligned on Monday
            start = period_start(start, 'week')
        dates = []
        current = start
        while current < origin:
            dates.append(current)
            current += period_delta(period)
        series = cls._history(
            company, start, origin - dt.timedelta(days=1), period, dates,
            warehouse=warehouse)
        computed_at = dt.datetime.now()
        columns = defaultdict(list)
        future = [origin + period_delta(period, h) for h in range(horizon)]
        histories = cls._histories_by_length(company, period, dates, series)
        for length, group in sorted(histories.items()):
            days = dates[len(dates) - length:]
            results = forecast_methods.select_many(
                [values for _, _, values in group],
                horizon=horizon, k=backtest, season=SEASONS[period])
            for (product, warehouse_id, values), result in zip(
                    group, results):
                cls._add_rows(columns, product, warehouse_id,
                    days, values, future, result)
        cls._replace(company, period, warehouse, computed_at, columns)

    @classmethod
    def check_parameters(cls, period, history, horizon, backtest):
        "Refuse a period or numbers of periods out of their bounds"
        if period not in SEASONS:
            raise ValidationError(gettext(
                    'shop_sale_insight.msg_forecast_period', period=period))
        maximum = MAX_PERIODS[period]
        for name, value, minimum in [
                ('history', history, 2),
                ('horizon', horizon, 1),
                ('backtest', backtest, 1),
                ]:
            if (isinstance(value, bool) or not isinstance(value, int)
                    or not minimum <= value <= maximum):
                raise ValidationError(gettext(
                        'shop_sale_insight.msg_forecast_parameter_range',
                        parameter=ComputeStart.__names__(name)['field'],
                        value=value, minimum=minimum, maximum=maximum))

    @classmethod
    def _history(cls, company, from_date, to_date, period, dates,
            warehouse=None):
        """Return the quantities per (product, warehouse) and period, zeros
        included, read by one SQL query

        The query aggregates the realised lines per product, warehouse and
        month (per day for weeks, summed per week here)."""
        pool = Pool()
        Insight = pool.get('sale.insight.product')
        Location = pool.get('stock.location')
        cursor = Transaction().connection.cursor()

        with Transaction().set_context(
                company=company, from_date=from_date, to_date=to_date):
            lines = Insight._realised_facts()
        location = Location.__table__()
        warehouse_t = Location.__table__()
        if period == 'month':
            day = DateTrunc('month', lines.date)
        else:
            day = lines.date
        where = (location.type == 'storage')
        if warehouse:
            where &= warehouse_t.id == warehouse
        located = (lines
            .join(location, condition=lines.location == location.id)
            .join(warehouse_t,
                condition=(warehouse_t.type == 'warehouse')
                & (location.left >= warehouse_t.left)
                & (location.right <= warehouse_t.right))
            .select(
                lines.product.as_('product'),
                warehouse_t.id.as_('warehouse'),
                day.as_('date'),
                lines.quantity.as_('quantity'),
                where=where))
        # Group by the columns of the sub-query: no parameter in GROUP BY
        query = located.select(
            located.product, located.warehouse, located.date,
            Sum(located.quantity),
            group_by=[located.product, located.warehouse, located.date])
        cursor.execute(*query)
        index = {d: i for i, d in enumerate(dates)}
        # the position of each date read, -1 outside of the history
        positions = {}
        series = defaultdict(lambda: [0.0] * len(dates))
        for product, warehouse_id, date, quantity in cursor.fetchall():
            position = positions.get(date)
            if position is None:
                position = positions[date] = index.get(
                    period_start(_to_date(date), period), -1)
            if position >= 0:
                series[product, warehouse_id][position] += quantity or 0
        return series

    @classmethod
    def _histories_by_length(cls, company, period, dates, series):
        """Return the (product, warehouse, history) of the series by length
        of history: from the period of the product's history start"""
        starts = cls._history_starts(company, {p for p, _ in series})
        histories = defaultdict(list)
        for (product, warehouse_id), values in series.items():
            # the months before the product existed are not zero demand
            first = period_start(starts.get(product, dates[0]), period)
            skip = sum(1 for d in dates if d < first)
            if values[skip:]:
                histories[len(dates) - skip].append(
                    (product, warehouse_id, values[skip:]))
        return histories

    @classmethod
    def _history_starts(cls, company, products):
        """Return the date the history of each product starts: its first
        stock move in the company; without a move (services), its creation
        or its first realised sale if that is earlier"""
        pool = Pool()
        Product = pool.get('product.product')
        Fact = pool.get('sale.insight.fact')
        cursor = Transaction().connection.cursor()
        fact = Fact.__table__()
        product = Product.__table__()
        starts = cls._first_moves(company, products)
        others = sorted(set(products) - set(starts))
        for sub_ids in grouped_slice(others, MAX_IDS):
            sub_ids = list(sub_ids)
            sales = fact.select(fact.product, Min(fact.date).as_('date'),
                where=(fact.company == company)
                & in_ids(fact.product, sub_ids),
                group_by=[fact.product])
            cursor.execute(*product
                .join(sales, 'LEFT', condition=sales.product == product.id)
                .select(product.id, product.create_date, sales.date,
                    where=in_ids(product.id, sub_ids)))
            for product_id, created, first_sale in cursor:
                starts[product_id] = min(filter(None, [
                            to_date(created), to_date(first_sale)]))
        return starts

    @classmethod
    def _first_moves(cls, company, products):
        """Return the date of the first stock move in the company of each
        of the products that have a dated move

        The moves are grouped per product without a list of the products:
        every move would be tested against it."""
        pool = Pool()
        Move = pool.get('stock.move')
        cursor = Transaction().connection.cursor()
        move = Move.__table__()
        cursor.execute(*move.select(move.product,
                Min(Coalesce(move.effective_date, move.planned_date)),
                where=move.company == company,
                group_by=[move.product]))
        return {
            product: to_date(first)
            for product, first in cursor if first and product in products}

    @staticmethod
    def _add_rows(columns, product, warehouse, days, values, future, result):
        """Add to the columns the rows of a product: the actual quantities
        of the history days, then the forecasts of the future days"""
        count = len(days) + len(future)
        columns['product'].extend([product] * count)
        columns['warehouse'].extend([warehouse] * count)
        columns['date'].extend(days + future)
        columns['actual'].extend(values + [None] * len(future))
        columns['quantity'].extend([None] * len(days)
            + [round(v, 4) for v in result['forecasts']])
        for name, key in [
                ('method', 'method'), ('error', 'mae'), ('smape', 'smape')]:
            columns[name].extend([result[key]] * count)

    @classmethod
    def _replace(cls, company, period, warehouse, computed_at, columns):
        """Replace the forecasts by the rows of the columns (lists of the
        same length by name) with one INSERT"""
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        where = (table.company == company) & (table.period == period)
        if warehouse:
            where &= table.warehouse == warehouse
        cursor.execute(*table.delete(where=where))
        if not columns:
            return
        constants = [
            ('company', 'INTEGER', company),
            ('period', 'VARCHAR', period),
            ('computed_at', 'TIMESTAMP', computed_at),
            ('create_uid', 'INTEGER', transaction.user),
            ('create_date', 'TIMESTAMP', dt.datetime.now()),
            ]
        varying = [
            ('product', 'INTEGER'), ('warehouse', 'INTEGER'),
            ('date', 'DATE'), ('actual', 'FLOAT8'), ('quantity', 'FLOAT8'),
            ('method', 'VARCHAR'), ('error', 'FLOAT8'), ('smape', 'FLOAT8')]
        insert_columns = [Column(table, n) for n, _, _ in constants] + [
            Column(table, n) for n, _ in varying]
        query, _ = tuple(
            table.insert(insert_columns, [[0] * len(insert_columns)]))
        insert = query[:query.index(' VALUES ')]
        if backend.name == 'postgresql':
            # One statement whose parameters are the constants and the
            # varying columns as array literals: the driver converts a few
            # strings, not each value
            cursor.execute(insert + ' SELECT %s, * FROM UNNEST(%s)' % (
                    ', '.join('%%s::%s' % t for _, t, _ in constants),
                    ', '.join('%%s::%s[]' % t for _, t in varying)),
                [v for _, _, v in constants]
                + [array_literal(columns[n]) for n, _ in varying])
        else:
            head = [v for _, _, v in constants]
            cursor.executemany(query, [head + list(r)
                    for r in zip(*(columns[n] for n, _ in varying))])

    @classmethod
    def _latest(cls, company, period='month'):
        "Return the forecast records of the future periods"
        return cls.search([
                ('company', '=', company),
                ('period', '=', period),
                ('quantity', '!=', None),
                ])


class ComputeStart(ModelView):
    __string__ = "Compute Demand Forecasts"
    __name__ = 'sale.insight.forecast.compute.start'

    company = fields.Many2One('company.company', "Company", required=True)
    warehouse = fields.Many2One(
        'stock.location', "Warehouse",
        domain=[('type', '=', 'warehouse')],
        help="All warehouses when empty.")
    period = fields.Selection(PERIODS, "Period", required=True)
    history = fields.Integer(
        "History", required=True, domain=[('history', '>', 1)],
        help="The number of periods of history.")
    horizon = fields.Integer(
        "Horizon", required=True, domain=[('horizon', '>', 0)],
        help="The number of periods to forecast.")
    backtest = fields.Integer(
        "Backtest Periods", required=True, domain=[('backtest', '>', 0)],
        help="The number of last periods of the history on which the "
        "methods are compared.")
    date = fields.Date(
        "Date", required=True,
        help="The forecasts start at the period of this date; "
        "the history ends before it.")

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_period(cls):
        return 'month'

    @classmethod
    def default_history(cls):
        return 36

    @classmethod
    def default_horizon(cls):
        return 3

    @classmethod
    def default_backtest(cls):
        return 6

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()


class Compute(Wizard):
    __name__ = 'sale.insight.forecast.compute'

    start = StateView('sale.insight.forecast.compute.start',
        'shop_sale_insight.forecast_compute_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Compute", 'compute', 'tryton-ok', default=True),
            ])
    compute = StateTransition()

    def transition_compute(self):
        pool = Pool()
        Forecast = pool.get('sale.insight.forecast')
        # The view domains are not enforced on the server
        check_company(self.start.company)
        Forecast.check_parameters(
            self.start.period, self.start.history, self.start.horizon,
            self.start.backtest)
        with Transaction().set_context(company=self.start.company.id):
            Forecast.compute(
                period=self.start.period, history=self.start.history,
                horizon=self.start.horizon, backtest=self.start.backtest,
                warehouse=(
                    self.start.warehouse.id if self.start.warehouse
                    else None),
                date=self.start.date)
        return 'end'


class CreateStockStart(ModelView):
    __string__ = "Create Stock Forecasts"
    __name__ = 'sale.insight.forecast.create_stock.start'

    company = fields.Many2One('company.company', "Company", required=True)
    period = fields.Selection(PERIODS, "Period", required=True)
    date = fields.Date(
        "Date", required=True,
        help="A day of the forecast period to create stock forecasts for.")
    warehouse = fields.Many2One(
        'stock.location', "Warehouse",
        domain=[('type', '=', 'warehouse')],
        help="All warehouses when empty.")
    destination = fields.Many2One(
        'stock.location', "Destination", required=True,
        domain=[('type', '=', 'customer')])

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_period(cls):
        return 'month'

    @classmethod
    def default_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        return Date.today()

    @classmethod
    def default_destination(cls):
        pool = Pool()
        Location = pool.get('stock.location')
        locations = Location.search([('type', '=', 'customer')], limit=2)
        if len(locations) == 1:
            return locations[0].id


class CreateStock(Wizard):
    "Create the stock forecasts of a period from the demand forecasts"
    __name__ = 'sale.insight.forecast.create_stock'

    start = StateView('sale.insight.forecast.create_stock.start',
        'shop_sale_insight.forecast_create_stock_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Create", 'create_', 'tryton-ok', default=True),
            ])
    create_ = StateAction('stock_forecast.act_forecast_form')

    def do_create_(self, action):
        forecasts = self.create_stock_forecasts()
        action['domain'] = PYSONEncoder().encode(
            [('id', 'in', [f.id for f in forecasts])])
        return action, {}

    def create_stock_forecasts(self):
        """Create one draft stock forecast per warehouse over the period
        with a line per product of positive forecast quantity (rounded up
        to the unit)"""
        pool = Pool()
        Forecast = pool.get('sale.insight.forecast')
        StockForecast = pool.get('stock.forecast')
        Line = pool.get('stock.forecast.line')
        start = self.start
        check_company(start.company)
        from_date = period_start(start.date, start.period)
        to_date = (
            from_date + period_delta(start.period) - dt.timedelta(days=1))
        domain = [
            ('company', '=', start.company.id),
            ('period', '=', start.period),
            ('date', '=', from_date),
            ('quantity', '>', 0),
            ]
        if start.warehouse:
            domain.append(('warehouse', '=', start.warehouse.id))
        lines = defaultdict(list)
        for record in Forecast.search(domain):
            unit = record.product.default_uom
            quantity = unit.ceil(record.quantity)
            if quantity <= 0:
                continue
            lines[record.warehouse].append(Line(
                    product=record.product,
                    unit=unit,
                    quantity=quantity,
                    minimal_quantity=min(1, quantity)))
        forecasts = []
        for warehouse, warehouse_lines in lines.items():
            forecasts.append(StockForecast(
                    company=start.company,
                    warehouse=warehouse,
                    destination=start.destination,
                    from_date=from_date,
                    to_date=to_date,
                    lines=warehouse_lines))
        StockForecast.save(forecasts)
        return forecasts
