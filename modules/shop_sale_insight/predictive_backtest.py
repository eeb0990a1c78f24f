# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The holdout backtest of the predicted customer value, per company."""
import datetime as dt

import numpy as np

from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from . import customer_value_models as models
from .predictive import (
    CHURN_DAYS, METHODS, predict, predict_median_interval)


class Backtest(ModelSQL, ModelView):
    __string__ = "Customer Value Backtest"
    __name__ = 'sale.insight.customer_value.backtest'
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True,
        ondelete='CASCADE')
    calibration_date = fields.Date(
        "Calibration Date", readonly=True,
        help="The models are fitted on the sales up to this date.")
    end_date = fields.Date(
        "End Date", readonly=True,
        help="The last day of the holdout period.")
    holdout_days = fields.Integer("Holdout Days", readonly=True)
    method = fields.Selection(METHODS, "Method", readonly=True)
    customers = fields.Integer(
        "Customers", readonly=True,
        help="The customers who had ordered by the calibration date.")
    predicted_orders = fields.Float(
        "Predicted Orders", digits=(16, 2), readonly=True,
        help="The total expected order days in the holdout period.")
    actual_orders = fields.Integer(
        "Actual Orders", readonly=True,
        help="The total order days in the holdout period.")
    aggregate_error = fields.Float(
        "Aggregate Error", digits=(16, 2), readonly=True,
        help="Predicted minus actual orders.")
    mean_absolute_error = fields.Float(
        "Mean Absolute Error", digits=(16, 4), readonly=True,
        help="The mean over the customers of the absolute difference "
        "between their predicted and actual orders.")
    churn_days = fields.Integer(
        "Churn Days", readonly=True,
        help="The days after the calibration date the churn risk is "
        "checked on.")
    deciles = fields.One2Many(
        'sale.insight.customer_value.backtest.decile', 'backtest',
        "Churn Calibration", readonly=True)
    computed_at = fields.DateTime("Computed at", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('company_unique', Unique(t, t.company),
                'shop_sale_insight.msg_customer_value_backtest_unique'),
            ]
        cls._order = [('company', 'ASC'), ('id', 'ASC')]

    def get_rec_name(self, name):
        return self.company.rec_name

    @classmethod
    def run(cls, company, today, settings):
        """Replace the backtest of the company

        The models are fitted on the sales up to today minus the holdout
        days and predict each customer's order days in the holdout."""
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        holdout = settings['holdout_days']
        calibration = today - dt.timedelta(days=holdout)
        summary = Engagement._customer_summary(calibration, until=today)
        cls.delete(cls.search([('company', '=', company.id)]))
        churn_days = min(CHURN_DAYS, holdout)
        values = {
            'company': company.id,
            'calibration_date': calibration,
            'end_date': today,
            'holdout_days': holdout,
            'churn_days': churn_days,
            'customers': len(summary['party']),
            'computed_at': dt.datetime.now(),
            }
        if len(summary['party']):
            values.update(measure(summary, settings, holdout, churn_days))
        cls.create([values])


def measure(summary, settings, holdout, churn_days):
    "Return the backtest figures of the summary"
    prediction = predict(summary, settings, holdout)
    predicted = prediction['expected_orders']
    actual = summary['holdout']
    churn = prediction['churn_risk']
    if churn_days != CHURN_DAYS:
        # the holdout is shorter than the churn window: check it on the
        # holdout, so the prediction is over the same days
        churn = churn_over(prediction, summary, settings, churn_days)
    churned = summary['churn_window'] == 0
    return {
        'method': prediction['method'],
        'predicted_orders': round(float(predicted.sum()), 2),
        'actual_orders': int(actual.sum()),
        'aggregate_error': round(float(predicted.sum() - actual.sum()), 2),
        'mean_absolute_error': round(
            float(np.abs(predicted - actual).mean()), 4),
        'deciles': [('create', deciles(churn, churned))],
        }


def churn_over(prediction, summary, settings, days):
    "Return P(no order in days) with the method of the prediction"
    params = prediction['params']
    if params is not None:
        return models.probability_no_purchase(
            params, days, summary['x'], summary['t_x'], summary['T'])
    fallback = predict_median_interval(summary, settings, days)
    orders = fallback['expected_orders']
    # 1 − alive (1 − exp(−days / I)) with orders = alive × days / I
    alive = fallback['probability_alive']
    rate = np.divide(orders, alive, out=np.zeros_like(orders),
        where=alive > 0)
    return 1 - alive * (1 - np.exp(-rate))


def deciles(churn, churned):
    """Return the churn calibration: the customers ranked by churn risk
    and split in ten groups of equal size (fewer with fewer customers)"""
    order = np.argsort(churn, kind='stable')
    groups = np.array_split(order, min(10, len(order)))
    return [{
            'decile': number,
            'customers': len(group),
            'predicted_churn': round(float(churn[group].mean()), 4),
            'actual_churn': round(float(churned[group].mean()), 4),
            } for number, group in enumerate(groups, 1) if len(group)]


class BacktestDecile(ModelSQL, ModelView):
    __string__ = "Customer Value Backtest Decile"
    __name__ = 'sale.insight.customer_value.backtest.decile'
    backtest = fields.Many2One(
        'sale.insight.customer_value.backtest', "Backtest", required=True,
        ondelete='CASCADE', readonly=True)
    decile = fields.Integer(
        "Decile", readonly=True, help="1 for the lowest churn risks.")
    customers = fields.Integer("Customers", readonly=True)
    predicted_churn = fields.Float(
        "Predicted Churn", digits=(1, 4), readonly=True,
        help="The mean churn risk of the customers of the decile.")
    actual_churn = fields.Float(
        "Actual Churn", digits=(1, 4), readonly=True,
        help="The share of the customers of the decile without an order "
        "in the churn days after the calibration date.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('decile', 'ASC'), ('id', 'ASC')]
