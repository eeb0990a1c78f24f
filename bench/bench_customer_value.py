#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Time the predicted customer value of a generated shop on PostgreSQL.

The shop is the one of bench_customers.py (--customers parties, --lines
service sale lines over two years, generated set-based).  The script
times, in the same run and on the same data:

- baseline: the engagement rows alone (the INSERT … SELECT of shop_crm);
- prediction: the customer summary, the BG/NBD and Gamma-Gamma fits, the
  scores and their UPDATE of every row;
- backtest: the same fitted on the history before the holdout, with its
  errors and churn deciles;
- compute: party.crm.engagement|compute, all of the above;

and prints each time, its ratio to the baseline, the fitted parameters
and the backtest figures.  Usage:

    bench/bench_customer_value.py [--customers 50000] [--lines 300000]
        [--uri postgresql://postgres@127.0.0.1:5432/]
        [--database bench_shop]

Run it with the project installed (scripts/test.sh makes .venv-test) and
with PYTHONOPTIMIZE=1 as servers run.
"""
import argparse
import datetime as dt

from bench_customers import generated_shop
from shop_bench import add_database_arguments, timed

TODAY = dt.date(2027, 1, 1)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--customers', type=int, default=50000)
    parser.add_argument('--lines', type=int, default=300000)
    add_database_arguments(parser, 'bench_shop')
    parser.add_argument('--repeat', type=int, default=3)
    return parser.parse_args()


def engagement_alone(Engagement):
    "Return the compute_company of shop_crm, without the prediction"
    from trytond.modules.shop_crm.engagement import (
        Engagement as CrmEngagement)
    return lambda: CrmEngagement.compute_company.__func__(Engagement, [])


def main():
    args = parse_args()
    with generated_shop(args) as (pool, transaction, company):
        # imported once generated_shop has configured the database
        from trytond.transaction import Transaction
        context = {
            'company': company.id,
            'companies': [company.id],
            'date': TODAY,
            }
        with Transaction().set_context(context):
            Engagement = pool.get('party.crm.engagement')
            Configuration = pool.get('party.crm.configuration')
            Backtest = pool.get('sale.insight.customer_value.backtest')
            from trytond.modules.shop_sale_insight.predictive import predict
            settings = Configuration(1).prediction_settings()

            def prediction():
                summary = Engagement._customer_summary(TODAY)
                result = predict(summary, settings, settings['horizon'])
                Engagement._store_prediction(
                    company.id, summary['party'], result,
                    company.currency.digits)
                return result

            timings = [
                ('baseline engagement rows', timed(
                        engagement_alone(Engagement), args.repeat)),
                ('prediction (fit + score + store)', timed(
                        prediction, args.repeat)),
                ('backtest', timed(
                        lambda: Backtest.run(company, TODAY, settings),
                        args.repeat)),
                ('party.crm.engagement|compute', timed(
                        Engagement.compute, args.repeat)),
                ]
            result = prediction()
            rows = Engagement.search([], count=True)
            backtest, = Backtest.search([])
            report = {
                'method': result['method'],
                'params': result['params'],
                'backtest': (backtest.calibration_date, backtest.method,
                    backtest.customers, backtest.predicted_orders,
                    backtest.actual_orders, backtest.aggregate_error,
                    backtest.mean_absolute_error),
                'deciles': [(d.decile, d.customers, d.predicted_churn,
                        d.actual_churn) for d in backtest.deciles],
                }
        transaction.commit()

    print("%d customers, %d sale lines, %d engagement rows" % (
            args.customers, args.lines, rows))
    base = timings[0][1]
    for name, seconds in timings:
        print("%-36s %8.2f s  ratio %5.2f" % (name, seconds, seconds / base))
    print("method %s, BG/NBD %s" % (report['method'], report['params']))
    print("backtest: calibration %s, method %s, %d customers, "
        "predicted %.1f, actual %d orders, aggregate error %.1f, "
        "MAE %.4f" % report['backtest'])
    for decile in report['deciles']:
        print("  decile %2d: %6d customers, predicted churn %.3f, "
            "actual %.3f" % decile)


if __name__ == '__main__':
    main()
