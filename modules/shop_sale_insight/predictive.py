# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Predicted customer value: BG/NBD and Gamma-Gamma fitted per company on
the realised sales, stored on the engagement rows."""
import datetime as dt
from decimal import Decimal

import numpy as np
from sql import Cast, Literal, Null, Select, Values, Window, With
from sql.aggregate import Count, Max, Min, Sum
from sql.conditionals import Case
from sql.functions import Function

from trytond import backend
from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.exceptions import ValidationError
from trytond.modules.currency.fields import Monetary
from trytond.modules.shop_crm.engagement import day_number
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from . import customer_value_models as models
from .forecast import array_literal

CHURN_DAYS = 90
CHURN_BANDS = [
    (None, ''),
    ('low', "Low"),
    ('medium', "Medium"),
    ('high', "High"),
    ]
METHODS = [
    (None, ''),
    ('bgnbd_gamma_gamma', "BG/NBD and Gamma-Gamma"),
    ('bgnbd', "BG/NBD and Average Order"),
    ('median_interval', "Median Interval"),
    ]
PREDICTION_FIELDS = [
    'probability_alive', 'expected_orders', 'predicted_profit',
    'predicted_revenue', 'churn_risk', 'churn_band', 'prediction_method']


class PredictionError(ValidationError):
    pass


class Configuration(metaclass=PoolMeta):
    __name__ = 'party.crm.configuration'
    prediction_horizon = fields.Integer(
        "Prediction Horizon", required=True,
        help="The number of days the expected orders and the predicted "
        "revenue and profit cover.")
    prediction_minimum_repeat = fields.Integer(
        "Minimum Repeat Customers", required=True,
        help="Below this number of customers with a repeat order, the "
        "BG/NBD model is not fitted and the median interval is used.")
    prediction_holdout_days = fields.Integer(
        "Backtest Holdout", required=True,
        help="The number of last days the backtest predicts from the "
        "history before them.")

    @classmethod
    def default_prediction_horizon(cls):
        return 365

    @classmethod
    def default_prediction_minimum_repeat(cls):
        return 100

    @classmethod
    def default_prediction_holdout_days(cls):
        return 180

    @classmethod
    def validate_fields(cls, configurations, field_names):
        super().validate_fields(configurations, field_names)
        for configuration in configurations:
            configuration.check_prediction()

    def check_prediction(self):
        for name in ['prediction_horizon', 'prediction_holdout_days']:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise PredictionError(gettext(
                        'shop_sale_insight.msg_prediction_days_positive',
                        field=self.__class__._fields[name].string))
        if (self.prediction_minimum_repeat is not None
                and self.prediction_minimum_repeat < 0):
            raise PredictionError(gettext(
                    'shop_sale_insight.msg_prediction_minimum_repeat'))

    def prediction_settings(self):
        "Return the prediction settings, with the defaults when unset"
        cls = self.__class__
        return {
            'horizon': (self.prediction_horizon
                or cls.default_prediction_horizon()),
            'minimum_repeat': (self.prediction_minimum_repeat
                if self.prediction_minimum_repeat is not None
                else cls.default_prediction_minimum_repeat()),
            'holdout_days': (self.prediction_holdout_days
                or cls.default_prediction_holdout_days()),
            'interval_multiple': float(self.at_risk_interval_multiple or 2),
            'one_time_days': float(self.at_risk_one_time_days or 90),
            }


class Engagement(metaclass=PoolMeta):
    __name__ = 'party.crm.engagement'
    probability_alive = fields.Float(
        "Probability Alive", digits=(1, 4), readonly=True,
        help="The probability that the customer still buys from the shop.")
    expected_orders = fields.Float(
        "Expected Orders", digits=(16, 2), readonly=True,
        help="The expected number of order days over the prediction "
        "horizon.")
    predicted_profit = Monetary(
        "Predicted Profit", currency='currency', digits='currency',
        readonly=True, help="The expected profit over the prediction horizon.")
    predicted_revenue = Monetary(
        "Predicted Revenue", currency='currency', digits='currency',
        readonly=True,
        help="The expected revenue over the prediction horizon.")
    churn_risk = fields.Float(
        "Churn Risk", digits=(1, 4), readonly=True,
        help="The probability of no order in the next 90 days.")
    churn_band = fields.Selection(
        CHURN_BANDS, "Churn Band", readonly=True,
        help="Low below 33 %, high above 66 %.")
    prediction_method = fields.Selection(
        METHODS, "Prediction Method", readonly=True,
        help="The method that produced the predicted figures.")

    @classmethod
    def compute_company(cls, records=None):
        super().compute_company(records)
        company_id = Transaction().context.get('company')
        if company_id is not None:
            cls.predict_company(company_id)

    @classmethod
    def predict_company(cls, company_id):
        "Fit the models of the company, store them and run the backtest"
        pool = Pool()
        Configuration = pool.get('party.crm.configuration')
        Company = pool.get('company.company')
        Backtest = pool.get('sale.insight.customer_value.backtest')
        settings = Configuration(1).prediction_settings()
        company = Company(company_id)
        today = cls._today()
        summary = cls._customer_summary(today)
        prediction = predict(summary, settings, settings['horizon'])
        cls._store_prediction(
            company_id, summary['party'], prediction,
            company.currency.digits)
        Backtest.run(company, today, settings)

    @classmethod
    def _customer_summary(cls, cutoff, until=None):
        """Return the realised orders per customer up to cutoff as arrays

        An order is a sale of positive realised revenue; x counts the
        distinct order days after the first, t_x and T are in days.  With
        until, also the order days in (cutoff, until] and in the first
        CHURN_DAYS of it."""
        cursor = Transaction().connection.cursor()
        sale_rows = With(query=cls._sale_query())
        last = until or cutoff
        sales = With(query=sale_rows.select(
                sale_rows.party, sale_rows.sale,
                Min(sale_rows.date).as_('date'),
                Sum(sale_rows.revenue).as_('revenue'),
                Sum(sale_rows.profit).as_('profit'),
                where=(sale_rows.party != Null)
                & (sale_rows.date <= Literal(last)),
                group_by=[sale_rows.party, sale_rows.sale],
                having=Sum(sale_rows.revenue) > 0))
        days = With(query=sales.select(
                sales.party, sales.date,
                Sum(sales.revenue).as_('revenue'),
                Sum(sales.profit).as_('profit'),
                group_by=[sales.party, sales.date]))
        before = With(query=days.select(
                days.party, days.date, days.revenue, days.profit,
                Min(days.date, window=Window([days.party])).as_('first'),
                where=days.date <= Literal(cutoff)))
        calibration = With(query=sales.select(
                sales.party, sales.date,
                where=sales.date <= Literal(cutoff)))
        medians = cls._median_interval_query(calibration)
        repeat = before.date > before.first
        customers = With(query=before.select(
                before.party,
                Count(Literal(1)).as_('days'),
                Min(before.date).as_('first'),
                Max(before.date).as_('last'),
                Sum(before.revenue).as_('revenue'),
                Sum(before.profit).as_('profit'),
                Sum(Case((repeat, before.revenue), else_=0)).as_(
                    'repeat_revenue'),
                Sum(Case((repeat, before.profit), else_=0)).as_(
                    'repeat_profit'),
                group_by=[before.party]))
        in_holdout = days.date > Literal(cutoff)
        in_churn = in_holdout & (days.date <= Literal(
                cutoff + dt.timedelta(days=CHURN_DAYS)))
        after = With(query=days.select(
                days.party,
                Sum(Case((in_holdout, 1), else_=0)).as_('holdout'),
                Sum(Case((in_churn, 1), else_=0)).as_('churn_window'),
                group_by=[days.party]))
        c, m, a = customers, medians, after
        first_day = day_number(c.first)
        query = (c.join(m, 'LEFT', condition=m.party == c.party)
            .join(a, 'LEFT', condition=a.party == c.party)
            .select(
                c.party, c.days - 1,
                day_number(c.last) - first_day,
                day_number(Literal(cutoff)) - first_day,
                c.revenue, c.profit, c.repeat_revenue, c.repeat_profit,
                m.median, a.holdout, a.churn_window,
                order_by=[c.party],
                with_=[sale_rows, sales, days, before, calibration, medians,
                    customers, after]))
        cursor.execute(*query)
        rows = cursor.fetchall()
        names = ['party', 'x', 't_x', 'T', 'revenue', 'profit',
            'repeat_revenue', 'repeat_profit', 'median', 'holdout',
            'churn_window']
        columns = list(zip(*rows)) if rows else [()] * len(names)
        summary = {}
        for name, values in zip(names, columns):
            if name == 'party':
                summary[name] = np.array(values, dtype=int)
            else:
                summary[name] = np.array(
                    [float(v) if v is not None else np.nan for v in values],
                    dtype=float)
        for name in ['holdout', 'churn_window']:
            summary[name] = np.nan_to_num(summary[name])
        return summary

    @classmethod
    def _store_prediction(cls, company_id, parties, prediction, digits):
        """Write the prediction on the rows of the parties and clear it on
        the company's other rows"""
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        columns = [getattr(table, n) for n in PREDICTION_FIELDS]
        values = prediction_values(
            prediction_rows(parties, prediction, digits))
        # Only the rows that hold a prediction: the engagement computation
        # inserts its rows anew, and updating them to NULL would write each
        # row one more time
        clear = (table.company == company_id) & (
            table.prediction_method != Null)
        if len(values) == 1:
            # nor the rows written next
            value, = values
            clear &= ~table.party.in_(value.select(value.c0))
        cursor.execute(*table.update(
                columns, [Null] * len(columns), where=clear))
        for value in values:
            cursor.execute(*table.update(
                    columns,
                    [getattr(value, 'c%d' % (i + 1))
                        for i in range(len(PREDICTION_FIELDS))],
                    from_=[value],
                    where=(table.company == company_id)
                    & (table.party == value.c0)))


class Unnest(Function):
    __slots__ = ()
    _function = 'UNNEST'


PREDICTION_TYPES = [
    'INTEGER', 'FLOAT', 'FLOAT', 'NUMERIC', 'NUMERIC', 'FLOAT', 'VARCHAR',
    'VARCHAR']


def prediction_rows(parties, prediction, digits):
    """Return the rows of the party and the PREDICTION_FIELDS of the
    prediction, rounded to the digits of the fields: the client takes a
    value it cannot display as a change of the record"""
    exponent = Decimal(1).scaleb(-digits)

    def money(value):
        return Decimal(repr(float(value))).quantize(exponent)

    return [(
            int(party), round(float(alive), 4), round(float(orders), 2),
            money(profit), money(revenue), round(float(churn), 4),
            churn_band(round(float(churn), 4)), prediction['method'])
        for party, alive, orders, profit, revenue, churn in zip(
            parties, prediction['probability_alive'],
            prediction['expected_orders'], prediction['predicted_profit'],
            prediction['predicted_revenue'], prediction['churn_risk'])]


def prediction_values(rows):
    """Return the queries of the rows as columns c0 to c7 of their types

    On PostgreSQL one SELECT of the UNNEST of each column, whose parameter
    is the column as an array literal: the driver converts eight strings,
    where a VALUES costs more to convert per value than to write; else a
    VALUES per slice of rows."""
    if not rows:
        return []
    if backend.name == 'postgresql':
        return [Select([
                    Unnest(Cast(Literal(array_literal(column)), type_ + '[]'))
                    .as_('c%d' % i)
                    for i, (column, type_) in enumerate(
                        zip(zip(*rows), PREDICTION_TYPES))])]
    queries = []
    size = max(backend.MAX_QUERY_PARAMS // len(PREDICTION_TYPES) - 1, 1)
    for sub_rows in grouped_slice(rows, size):
        values = Values(list(sub_rows))
        queries.append(values.select(*(
                    Cast(getattr(values, 'column%d' % (i + 1)), type_).as_(
                        'c%d' % i)
                    for i, type_ in enumerate(PREDICTION_TYPES))))
    return queries


def churn_band(churn):
    "Return the band of a churn risk: low < 0.33 ≤ medium ≤ 0.66 < high"
    if churn < 0.33:
        return 'low'
    elif churn > 0.66:
        return 'high'
    return 'medium'


def predict(summary, settings, horizon):
    """Return the predicted figures of the customers of the summary

    The method is BG/NBD when enough customers have a repeat order and the
    fit converges, else the median interval."""
    x = summary['x']
    prediction = None
    if len(x) and (x > 0).sum() >= max(settings['minimum_repeat'], 1):
        prediction = predict_bgnbd(summary, horizon)
    if prediction is None:
        prediction = predict_median_interval(summary, settings, horizon)
    return prediction


def predict_bgnbd(summary, horizon):
    "Return the BG/NBD figures with Gamma-Gamma values, or None"
    (d_x, d_t_x, d_T), index, counts = distinct_rows(
        summary['x'], summary['t_x'], summary['T'])
    params = models.fit_bgnbd(d_x, d_t_x, d_T, weights=counts)
    if params is None or params.a <= 0 or params.b <= 0:
        return None
    alive = models.probability_alive(params, d_x, d_t_x, d_T)[index]
    orders = models.expected_purchases(
        params, horizon, d_x, d_t_x, d_T)[index]
    churn = models.probability_no_purchase(
        params, CHURN_DAYS, d_x, d_t_x, d_T)[index]
    if not (np.all(np.isfinite(orders)) and np.all(np.isfinite(churn))):
        return None
    profit = order_value(summary, 'profit')
    revenue = order_value(summary, 'revenue')
    method = 'bgnbd_gamma_gamma'
    if profit is None or revenue is None:
        method = 'bgnbd'
        profit, revenue = average_order(summary, 'profit'), average_order(
            summary, 'revenue')
    return {
        'method': method,
        'params': params,
        'probability_alive': alive,
        'expected_orders': orders,
        'predicted_profit': orders * profit,
        'predicted_revenue': orders * revenue,
        'churn_risk': churn,
        }


def distinct_rows(*columns):
    """Return the distinct rows of the columns (sorted), the index of the
    distinct row of each row and the count of each distinct row

    As np.unique(axis=0), without its slow sort of whole rows."""
    order = np.lexsort(columns[::-1])
    ordered = [column[order] for column in columns]
    first = np.ones(len(order), dtype=bool)
    for column in ordered:
        first[1:] &= column[1:] == column[:-1]
    first[1:] = ~first[1:]
    index = np.empty(len(order), dtype=int)
    index[order] = np.cumsum(first) - 1
    counts = np.diff(np.append(np.flatnonzero(first), len(order)))
    return [column[first] for column in ordered], index, counts


def average_order(summary, name):
    "Return the customers' average value per order"
    return summary[name] / (summary['x'] + 1)


def order_value(summary, name):
    """Return the Gamma-Gamma expected value per order, or None

    It is fitted on the repeat customers whose average repeat value is
    positive (the model knows no loss), identical (x, mean) weighted, and
    needs q > 1."""
    x = summary['x']
    mean = np.divide(
        summary['repeat_' + name], x, out=np.zeros_like(x), where=x > 0)
    fitting = (x > 0) & (mean > 0)
    if fitting.sum() < 2:
        return None
    distinct, _, counts = distinct_rows(x[fitting], mean[fitting])
    params = models.fit_gamma_gamma(*distinct, weights=counts)
    if params is None or params.q <= 1:
        return None
    return models.conditional_expected_value(params, x, mean)


def predict_median_interval(summary, settings, horizon):
    """Return the median interval estimate of the customers

    I is the customer's median days between orders, for a one-time buyer
    the median of the repeat customers' I, or the at-risk one-time days;
    the customer is alive until the at-risk limit (the interval multiple
    times I, or the one-time days), then with limit / recency."""
    x, t_x, T = summary['x'], summary['t_x'], summary['T']
    median = summary['median']
    repeat = (x > 0) & np.isfinite(median) & (median > 0)
    if repeat.any():
        default = float(np.median(median[repeat]))
    else:
        default = settings['one_time_days']
    interval = np.where(repeat, median, default)
    limit = np.where(
        repeat, settings['interval_multiple'] * interval,
        settings['one_time_days'])
    recency = T - t_x
    alive = np.where(
        recency <= limit, 1.0,
        np.divide(limit, recency, out=np.ones_like(recency),
            where=recency > 0))
    orders = alive * horizon / interval
    # no order: gone, or alive without an order of the Poisson of rate 1 / I
    churn = 1 - alive * (1 - np.exp(-CHURN_DAYS / interval))
    return {
        'method': 'median_interval',
        'params': None,
        'probability_alive': alive,
        'expected_orders': orders,
        'predicted_profit': orders * average_order(summary, 'profit'),
        'predicted_revenue': orders * average_order(summary, 'revenue'),
        'churn_risk': churn,
        }


def _allowed_company():
    "Return the context company if it is one of the user's companies"
    pool = Pool()
    User = pool.get('res.user')
    company = Transaction().context.get('company')
    if company is not None and company in User.get_companies():
        return company


def read_predictions(party_ids, names):
    "Return the stored predictions of the parties in one query per slice"
    pool = Pool()
    Engagement = pool.get('party.crm.engagement')
    engagement = Engagement.__table__()
    cursor = Transaction().connection.cursor()
    result = {name: dict.fromkeys(party_ids) for name in names}
    company = _allowed_company()
    if company is None:
        return result
    digits = {}
    for name in names:
        field = Engagement._fields[name]
        if isinstance(field, fields.Numeric):
            digits[name] = field
    for sub_ids in grouped_slice(party_ids, backend.MAX_QUERY_PARAMS):
        cursor.execute(*engagement.select(
                engagement.party,
                *(getattr(engagement, n) for n in names),
                where=(engagement.company == company)
                & fields.SQL_OPERATORS['in'](
                    engagement.party, list(sub_ids))))
        for party, *values in cursor:
            for name, value in zip(names, values):
                if name in digits and value is not None:
                    value = Decimal(str(value))
                result[name][party] = value
    return result


def search_prediction(name, clause):
    "Return the domain of the parties whose stored prediction matches"
    company = Transaction().context.get('company', -1)
    _, operator, *values = clause
    return [('crm_engagements', 'where', [
                ('company', '=', company),
                (name, operator, *values),
                ])]


def prediction_fields(currency):
    "Return the Function fields of the predictions, reading the engagement"
    return {
        'probability_alive': fields.Float("Probability Alive", digits=(1, 4)),
        'expected_orders': fields.Float("Expected Orders", digits=(16, 2)),
        'predicted_profit': Monetary(
            "Predicted Profit", currency=currency, digits=currency),
        'predicted_revenue': Monetary(
            "Predicted Revenue", currency=currency, digits=currency),
        'churn_risk': fields.Float("Churn Risk", digits=(1, 4)),
        'churn_band': fields.Selection(CHURN_BANDS, "Churn Band"),
        'prediction_method': fields.Selection(METHODS, "Prediction Method"),
        }


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'
    probability_alive = fields.Function(
        prediction_fields('company_currency')['probability_alive'],
        'get_prediction', searcher='search_prediction')
    expected_orders = fields.Function(
        prediction_fields('company_currency')['expected_orders'],
        'get_prediction', searcher='search_prediction')
    predicted_profit = fields.Function(
        prediction_fields('company_currency')['predicted_profit'],
        'get_prediction', searcher='search_prediction')
    predicted_revenue = fields.Function(
        prediction_fields('company_currency')['predicted_revenue'],
        'get_prediction', searcher='search_prediction')
    churn_risk = fields.Function(
        prediction_fields('company_currency')['churn_risk'],
        'get_prediction', searcher='search_prediction')
    churn_band = fields.Function(
        prediction_fields('company_currency')['churn_band'],
        'get_prediction', searcher='search_prediction')
    prediction_method = fields.Function(
        prediction_fields('company_currency')['prediction_method'],
        'get_prediction', searcher='search_prediction')

    @classmethod
    def get_prediction(cls, parties, names):
        return read_predictions([p.id for p in parties], names)

    @classmethod
    def search_prediction(cls, name, clause):
        return search_prediction(name, clause)


class Customer(metaclass=PoolMeta):
    __name__ = 'sale.insight.customer'
    probability_alive = fields.Function(
        prediction_fields('currency')['probability_alive'],
        'get_prediction', searcher='search_prediction')
    expected_orders = fields.Function(
        prediction_fields('currency')['expected_orders'],
        'get_prediction', searcher='search_prediction')
    predicted_profit = fields.Function(
        prediction_fields('currency')['predicted_profit'],
        'get_prediction', searcher='search_prediction')
    predicted_revenue = fields.Function(
        prediction_fields('currency')['predicted_revenue'],
        'get_prediction', searcher='search_prediction')
    churn_risk = fields.Function(
        prediction_fields('currency')['churn_risk'],
        'get_prediction', searcher='search_prediction')
    churn_band = fields.Function(
        prediction_fields('currency')['churn_band'],
        'get_prediction', searcher='search_prediction')
    prediction_method = fields.Function(
        prediction_fields('currency')['prediction_method'],
        'get_prediction', searcher='search_prediction')

    @classmethod
    def get_prediction(cls, records, names):
        "Read the predictions of the rows (ids are party ids)"
        return read_predictions([r.id for r in records], names)

    @classmethod
    def search_prediction(cls, name, clause):
        pool = Pool()
        Party = pool.get('party.party')
        parties = Party.search(search_prediction(name, clause), query=True)
        return [('customer', 'in', parties)]
