#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Time the sales insight reports on a generated shop on PostgreSQL.

At --scale 1 (the default) the shop has 50,000 customers, 2,000 products,
200,000 sales over three years, 1.1 M sale lines (one in twenty a service)
and 2.2 M stock moves: each goods line is received from a supplier at a
cost that changes every month and shipped from stock, about 2 % of the
sales of the last month are not shipped yet, one sale in a hundred gets a
return, and the customers have interactions, inquiries and ratings.  The
data is written with one INSERT … SELECT per table, then the sales facts
are filled (timed).  The script times, in the same run and on the same
data, Tryton core's sale.reporting.customer (a) and every goal, and prints
the figures with their ratios.  Usage:

    bench/bench_insight.py [--scale 1] [--repeat 1]
        [--uri postgresql://postgres@127.0.0.1:5432/] [--database bench_insight]
        [--skip-generate [--skip-fill]] [--only KEY]...

--only times some measures (a ratio needs its baseline: --only a --only b).

Run it with the project installed (scripts/test.sh makes .venv-test) and
with PYTHONOPTIMIZE=1 as servers run.  The database is created (modules
activated) on the first run and the generated data replaced on each run.
"""
import argparse
import datetime as dt
import os
import time

from shop_bench import (
    add_database_arguments, bench_company, ensure_database, timed)

FROM_DATE = dt.date(2024, 1, 1)
TO_DATE = dt.date(2026, 12, 31)
TODAY = dt.date(2027, 1, 1)
DAYS = (TO_DATE - FROM_DATE).days + 1


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scale', type=float, default=1.0)
    add_database_arguments(parser, 'bench_insight')
    parser.add_argument('--repeat', type=int, default=1)
    parser.add_argument('--skip-generate', action='store_true',
        help="Keep the data of the previous run")
    parser.add_argument('--skip-fill', action='store_true',
        help="Keep the sales facts of the previous run (with --skip-generate)")
    parser.add_argument('--only', action='append', metavar='KEY',
        help="Time only these measures (a, b, c, d, e, f, g, h, h_fit, h_predict, "
        "i, core_ts, core_product); the goals of the others are not shown")
    return parser.parse_args()


def clean(cursor):
    "Delete the data of a previous run"
    for statement in [
            "DELETE FROM sale_insight_fact",
            "DELETE FROM sale_insight_forecast",
            "DELETE FROM stock_move WHERE company IN "
            "(SELECT c.id FROM company_company AS c JOIN party_party AS p "
            "ON c.party = p.id WHERE p.name = 'Bench Shop')",
            "DELETE FROM sale_line WHERE sale IN "
            "(SELECT id FROM sale_sale WHERE reference = 'bench')",
            "DELETE FROM sale_sale WHERE reference = 'bench'",
            "DELETE FROM party_crm_engagement",
            "DELETE FROM party_crm_interaction",
            "DELETE FROM party_crm_rating",
            "DELETE FROM party_crm_inquiry",
            "DELETE FROM product_cost_price WHERE product IN "
            "(SELECT id FROM product_product WHERE code LIKE 'BI-%%')",
            "DELETE FROM product_product WHERE code LIKE 'BI-%%'",
            "DELETE FROM product_template WHERE code LIKE 'BI-%%'",
            "DELETE FROM sale_channel WHERE code LIKE 'BI-%%'",
            "DELETE FROM party_party WHERE code LIKE 'BI-%%'",
            ]:
        cursor.execute(statement)


def generate(pool, company, scale):
    "Write the shop with one statement per table"
    from trytond.transaction import Transaction
    Location = pool.get('stock.location')
    Uom = pool.get('product.uom')
    cursor = Transaction().connection.cursor()
    unit, = Uom.search([('name', '=', 'Unit')])
    warehouse, = Location.search([('type', '=', 'warehouse')], limit=1)
    storage = warehouse.storage_location.id
    customer_location, = Location.search(
        [('type', '=', 'customer')], limit=1)
    supplier_location, = Location.search(
        [('type', '=', 'supplier')], limit=1)
    customers = max(int(50000 * scale), 10)
    products = max(int(2000 * scale), 10)
    sales = max(int(200000 * scale), 100)
    params = {
        'company': company.id, 'currency': company.currency.id,
        'unit': unit.id, 'warehouse': warehouse.id, 'storage': storage,
        'customer': customer_location.id, 'supplier': supplier_location.id,
        'customers': customers, 'products': products, 'sales': sales,
        'from_date': FROM_DATE, 'days': DAYS,
        }
    clean(cursor)
    statements = [
        # customers, channels, products (the last one a service)
        "INSERT INTO party_party (code, name, active, create_uid, "
        "create_date) SELECT 'BI-' || n, 'Customer ' || n, true, 0, now() "
        "FROM generate_series(1, %(customers)s) AS n",
        "INSERT INTO sale_channel (code, name, company, active, create_uid, "
        "create_date) SELECT 'BI-' || n, 'Channel ' || n, %(company)s, "
        "true, 0, now() FROM generate_series(1, 4) AS n",
        "INSERT INTO product_template (name, code, type, default_uom, "
        "active, consumable, salable, sale_uom, create_uid, create_date) "
        "SELECT 'Product ' || n, 'BI-' || n, "
        "CASE WHEN n = %(products)s THEN 'service' ELSE 'goods' END, "
        "%(unit)s, true, false, true, %(unit)s, 0, now() "
        "FROM generate_series(1, %(products)s) AS n",
        "INSERT INTO product_product (template, code, suffix_code, active, "
        "create_uid, create_date) SELECT id, code, '', true, 0, now() "
        "FROM product_template WHERE code LIKE 'BI-%%'",
        "INSERT INTO product_cost_price (product, company, cost_price, "
        "create_uid, create_date) SELECT id, %(company)s, "
        "300 + (id %% 40) * 50, 0, now() FROM product_product "
        "WHERE code LIKE 'BI-%%'",
        # sales: every customer buys, the first ones more often
        "INSERT INTO sale_sale (company, currency, party, channel, "
        "reference, state, sale_date, warehouse, invoice_method, "
        "invoice_state, shipment_method, shipment_state, create_uid, "
        "create_date) "
        "SELECT %(company)s, %(currency)s, p.id, c.id, 'bench', "
        "CASE WHEN n %% 3 = 0 THEN 'processing' ELSE 'done' END, "
        "%(from_date)s::date + ((n::bigint * 7919) %% %(days)s)::int, "
        "%(warehouse)s, 'manual', 'none', 'order', 'sent', 0, now() "
        "FROM generate_series(1, %(sales)s) AS n "
        "JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rank "
        "FROM party_party WHERE code LIKE 'BI-%%') AS p "
        "ON p.rank = CASE WHEN n <= %(customers)s THEN n "
        "ELSE 1 + (n::bigint * 7919) %% GREATEST(%(customers)s "
        "* (1 + n %% 4) / 4, 1) END "
        "JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rank "
        "FROM sale_channel WHERE code LIKE 'BI-%%') AS c "
        "ON c.rank = 1 + n %% 4",
        # 5.5 lines per sale, one in twenty a service
        "INSERT INTO sale_line (sale, type, product, quantity, unit, "
        "unit_price, sequence, create_uid, create_date) "
        "SELECT s.id, 'line', pr.id, 1 + (s.id + k) %% 3, %(unit)s, "
        "800 + ((s.id * k) %% 40) * 60, k, 0, now() "
        "FROM sale_sale AS s "
        "CROSS JOIN generate_series(1, 6) AS k "
        "JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rank "
        "FROM product_product WHERE code LIKE 'BI-%%') AS pr "
        "ON pr.rank = CASE WHEN (s.id + k) %% 20 = 0 THEN %(products)s "
        "ELSE 1 + (s.id::bigint * 31 + k * 7) %% (%(products)s - 1) END "
        "WHERE s.reference = 'bench' AND (k < 6 OR s.id %% 2 = 0)",
        # receipts of the goods, at a cost that changes every month
        "INSERT INTO stock_move (product, unit, quantity, internal_quantity, "
        "from_location, to_location, company, currency, unit_price, "
        "cost_price, state, effective_date, planned_date, "
        "create_uid, create_date) "
        "SELECT l.product, l.unit, l.quantity, l.quantity, %(supplier)s, "
        "%(storage)s, s.company, s.currency, "
        "300 + (l.product %% 40) * 50 + EXTRACT(MONTH FROM s.sale_date) * 5, "
        "NULL, 'done', s.sale_date - 7, s.sale_date - 7, 0, now() "
        "FROM sale_line AS l JOIN sale_sale AS s ON l.sale = s.id "
        "JOIN product_product AS p ON l.product = p.id "
        "JOIN product_template AS t ON p.template = t.id "
        "WHERE s.reference = 'bench' AND t.type = 'goods'",
        # shipments from stock; 2 %% of the last month's sales not yet
        "INSERT INTO stock_move (product, unit, quantity, internal_quantity, "
        "from_location, to_location, company, currency, unit_price, "
        "cost_price, state, effective_date, planned_date, origin, "
        "create_uid, create_date) "
        "SELECT l.product, l.unit, l.quantity, l.quantity, %(storage)s, "
        "%(customer)s, s.company, s.currency, l.unit_price, "
        "300 + (l.product %% 40) * 50 + EXTRACT(MONTH FROM s.sale_date) * 5, "
        "CASE WHEN s.sale_date > DATE '2026-12-01' AND s.id %% 50 = 0 "
        "THEN 'assigned' ELSE 'done' END, "
        "CASE WHEN s.sale_date > DATE '2026-12-01' AND s.id %% 50 = 0 "
        "THEN NULL ELSE s.sale_date + 2 END, s.sale_date + 2, "
        "'sale.line,' || l.id, 0, now() "
        "FROM sale_line AS l JOIN sale_sale AS s ON l.sale = s.id "
        "JOIN product_product AS p ON l.product = p.id "
        "JOIN product_template AS t ON p.template = t.id "
        "WHERE s.reference = 'bench' AND t.type = 'goods'",
        # one sale in a hundred gets its first line returned
        "INSERT INTO stock_move (product, unit, quantity, internal_quantity, "
        "from_location, to_location, company, currency, unit_price, "
        "cost_price, state, effective_date, planned_date, origin, "
        "create_uid, create_date) "
        "SELECT m.product, m.unit, m.quantity, m.quantity, %(customer)s, "
        "%(storage)s, m.company, m.currency, m.unit_price, m.cost_price, "
        "'done', m.effective_date + 10, m.effective_date + 10, m.origin, "
        "0, now() FROM stock_move AS m "
        "JOIN sale_line AS l ON m.origin = 'sale.line,' || l.id "
        "WHERE m.to_location = %(customer)s AND m.state = 'done' "
        "AND l.sequence = 1 AND l.sale %% 100 = 0 "
        "AND m.company = %(company)s",
        # CRM: interactions, inquiries and ratings
        "INSERT INTO party_crm_interaction (company, party, date, type, "
        "direction, create_uid, create_date) "
        "SELECT %(company)s, p.id, %(from_date)s::timestamp "
        "+ ((p.id::bigint * k * 7919) %% (%(days)s * 24)) * INTERVAL '1 hour', "
        "CASE WHEN k %% 2 = 0 THEN 'line' ELSE 'visit' END, 'inbound', 0, "
        "now() FROM party_party AS p CROSS JOIN generate_series(1, 3) AS k "
        "WHERE p.code LIKE 'BI-%%'",
        "INSERT INTO party_crm_inquiry (company, party, channel, subject, "
        "state, number, create_uid, create_date) "
        "SELECT %(company)s, p.id, 'line', 'Question', "
        "CASE WHEN p.id %% 3 = 0 THEN 'open' ELSE 'closed' END, "
        "'BI-' || p.id, 0, now() FROM party_party AS p "
        "WHERE p.code LIKE 'BI-%%' AND p.id %% 5 = 0",
        "INSERT INTO party_crm_rating (company, party, date, score, "
        "create_uid, create_date) "
        "SELECT %(company)s, p.id, %(from_date)s::date + p.id %% %(days)s, "
        "1 + p.id %% 5, 0, now() FROM party_party AS p "
        "WHERE p.code LIKE 'BI-%%' AND p.id %% 4 = 0",
        ]
    for statement in statements:
        cursor.execute(statement, params)
        # the next statements join what was just written: plan on its size
        cursor.execute("ANALYZE")
    counts = {}
    for name, query in [
            ('customers', "SELECT COUNT(*) FROM party_party "
                "WHERE code LIKE 'BI-%%'"),
            ('products', "SELECT COUNT(*) FROM product_product "
                "WHERE code LIKE 'BI-%%'"),
            ('sales', "SELECT COUNT(*) FROM sale_sale "
                "WHERE reference = 'bench'"),
            ('sale lines', "SELECT COUNT(*) FROM sale_line AS l "
                "JOIN sale_sale AS s ON l.sale = s.id "
                "WHERE s.reference = 'bench'"),
            ('stock moves', "SELECT COUNT(*) FROM stock_move "
                "WHERE company = %(company)s"),
            ]:
        cursor.execute(query, params)
        counts[name], = cursor.fetchone()
    return counts


def fill(pool, company):
    "Fill the sales facts and return the time and the number of rows"
    from trytond.transaction import Transaction
    Fact = pool.get('sale.insight.fact')
    cursor = Transaction().connection.cursor()
    start = time.perf_counter()
    Fact.fill([company.id])
    cursor.execute("ANALYZE sale_insight_fact")
    elapsed = time.perf_counter() - start
    cursor.execute("SELECT COUNT(*) FROM sale_insight_fact")
    rows, = cursor.fetchone()
    return elapsed, rows


# The fields of the customer list view, the sparklines apart
CUSTOMER_FIELDS = [
    'customer', 'number', 'revenue', 'cost', 'profit', 'margin', 'markup',
    'average_order', 'open_inquiry_count', 'average_rating',
    'acquisition_channel', 'rfm_segment', 'lifetime_value',
    'inquiry_count', 'last_interaction', 'engagement_score',
    'expected_next_sale']
FIGURES = ['revenue', 'cost', 'profit', 'margin']


def engagement_alone(Engagement):
    "Return the compute_company of shop_crm, without the predictions"
    from trytond.modules.shop_crm.engagement import (
        Engagement as CrmEngagement)
    return lambda: CrmEngagement.compute_company.__func__(Engagement, [])


def prediction_alone(Engagement, company):
    "Return the fit, scores and store of predict_company, without backtest"
    from trytond.modules.shop_sale_insight.predictive import predict
    from trytond.pool import Pool
    Configuration = Pool().get('party.crm.configuration')

    def prediction():
        settings = Configuration(1).prediction_settings()
        summary = Engagement._customer_summary(TODAY)
        result = predict(summary, settings, settings['horizon'])
        Engagement._store_prediction(
            company.id, summary['party'], result, company.currency.digits)
    return prediction


def measures(pool, company, repeat, only=None):
    "Return the timings by key"
    from trytond.transaction import Transaction
    context = {
        'company': company.id,
        'from_date': FROM_DATE,
        'to_date': TO_DATE,
        'period': 'month',
        'date': TODAY,
        }
    Core = pool.get('sale.reporting.customer')
    CoreTimeseries = pool.get('sale.reporting.customer.time_series')
    CoreMargin = pool.get('stock.reporting.margin.product')
    Customer = pool.get('sale.insight.customer')
    Timeseries = pool.get('sale.insight.customer.time_series')
    Product = pool.get('sale.insight.product')
    Engagement = pool.get('party.crm.engagement')
    Forecast = pool.get('sale.insight.forecast')

    def read_all(Model, names, **kwargs):
        records = Model.search([], **kwargs)
        Model.read([r.id for r in records], names)
        return records

    with Transaction().set_context(context):
        one = Customer.search([], order=[('revenue', 'DESC')], limit=1)[0]
        tests = [
            ('a', "core sale.reporting.customer (revenue)",
                lambda: read_all(Core, ['number', 'revenue'])),
            ('b', "customer report, every list field",
                lambda: read_all(Customer, CUSTOMER_FIELDS)),
            ('c', "the same with the sparkline",
                lambda: read_all(Customer, CUSTOMER_FIELDS + ['margin_trend'])),
            ('d', "first page by profit, with the sparkline",
                lambda: read_all(Customer, CUSTOMER_FIELDS + ['margin_trend'],
                    order=[('profit', 'DESC')], limit=80)),
            ('core_ts', "core customer time series",
                lambda: read_all(CoreTimeseries, ['date', 'number', 'revenue'])),
            ('f', "customer time series",
                lambda: read_all(Timeseries, ['date', 'number'] + FIGURES)),
            ('core_product', "core stock.reporting.margin.product",
                lambda: read_all(CoreMargin, FIGURES)),
            ('g', "product report",
                lambda: read_all(Product, ['quantity'] + FIGURES)),
            ('h', "engagement recompute, without the predictions",
                engagement_alone(Engagement)),
            ('h_fit', "predictions without the backtest (fit, score, store)",
                prediction_alone(Engagement, company)),
            ('h_predict', "predictions (fit, score, store, backtest)",
                lambda: Engagement.predict_company(company.id)),
            ('i', "forecast, 36 months",
                lambda: Forecast.compute(history=36, date=TODAY)),
            ]
        timings = {}
        for key, name, function in tests:
            if only and key not in only:
                continue
            timings[key] = (name, timed(function, repeat))
            print("%-45s %8.3f s" % (name, timings[key][1]), flush=True)
        if only and 'e' not in only:
            return timings
        with Transaction().set_context(customer=one.customer.id):
            timings['e'] = ("one customer (context customer)", timed(
                    lambda: read_all(Customer, CUSTOMER_FIELDS), repeat))
    return timings


def report(counts, fill_time, fact_rows, timings):
    print()
    print(", ".join("%s %s" % (v, k) for k, v in counts.items()))
    if fill_time is not None:
        print("initial fill of the facts: %.2f s for %d rows"
            % (fill_time, fact_rows))
    goals = [
        ('b', 'a', 0.3, "(a)"),
        ('c', 'b', 1.5, "(b)"),
        ('d', None, 1.5, "s"),
        ('e', None, 0.05, "s"),
        ('f', 'core_ts', 0.5, "core time series"),
        ('g', 'core_product', 0.5, "core margin product"),
        ('h', None, 5, "s"),
        ('h_fit', None, 10, "s"),
        ('i', None, 10, "s"),
        ]
    print()
    print("| what | measured | ratio | goal | met |")
    print("|---|---:|---:|---|---|")
    for key in ['a', 'core_ts', 'core_product', 'h_predict']:
        if key in timings:
            name, seconds = timings[key]
            print("| %s (%s) | %.3f s | | baseline | |" % (name, key, seconds))
    for key, base, goal, unit in goals:
        if key not in timings or (base and base not in timings):
            continue
        name, seconds = timings[key]
        if base is None:
            ratio, text, ratio_text = seconds, "≤ %s s" % goal, ""
        else:
            ratio = seconds / timings[base][1]
            text = "≤ %s × %s" % (goal, unit)
            ratio_text = "%.3f" % ratio
        print("| %s (%s) | %.3f s | %s | %s | %s |" % (
                name, key, seconds, ratio_text, text,
                "yes" if ratio <= goal else "NO"))


def main():
    args = parse_args()
    os.environ['TRYTOND_DATABASE__URI'] = args.uri
    ensure_database(args)

    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(args.database)
    pool.init()
    with Transaction().start(args.database, 0) as transaction:
        company = bench_company(pool)
        start = time.perf_counter()
        if not args.skip_generate:
            counts = generate(pool, company, args.scale)
            transaction.commit()
        print("generated in %.1f s" % (time.perf_counter() - start),
            flush=True)
        if args.skip_generate:
            counts = {}
        fill_time = fact_rows = None
        if not (args.skip_generate and args.skip_fill):
            fill_time, fact_rows = fill(pool, company)
            transaction.commit()
            print("filled in %.1f s" % fill_time, flush=True)
        timings = measures(pool, company, args.repeat, args.only)
        transaction.rollback()
    report(counts, fill_time, fact_rows, timings)


if __name__ == '__main__':
    main()
