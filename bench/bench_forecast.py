#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Time the demand forecast of a generated shop on PostgreSQL.

The shop has --products goods sold every month for --months months (about
85 % of the product-months have a sale: steady, trending, seasonal and
intermittent demand), each sale line shipped by a done stock move, so the
realised lines are those of the profitability reports.  The script times,
in the same run and on the same data:

- read: the monthly history read by the one SQL query
  (``sale.insight.forecast._history``);
- baseline: ``sale.insight.forecast|compute`` with the moving average as
  the only candidate (same query, same writes, no choice; the batched
  methods are still fitted and backtested for all the products at once);
- compute: ``sale.insight.forecast|compute`` with every method, the
  backtest and the selection;

and prints each time and its ratio to the baseline.  Usage:

    bench/bench_forecast.py [--products 2000] [--months 36]
        [--uri postgresql://postgres@127.0.0.1:5432/]
        [--database bench_forecast] [--repeat 1]

The database is created (modules activated) on the first run and the
generated data replaced on each run.
"""
import argparse
import datetime as dt
import os

from shop_bench import (
    add_database_arguments, bench_company, ensure_database, timed)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--products', type=int, default=2000)
    parser.add_argument('--months', type=int, default=36)
    add_database_arguments(parser, 'bench_forecast')
    parser.add_argument('--repeat', type=int, default=1)
    return parser.parse_args()


def bench_customer(pool):
    "Return the customer of the bench sales, created once"
    Party = pool.get('party.party')
    customers = Party.search([('name', '=', "Bench Customer")])
    if not customers:
        customers = Party.create([{'name': "Bench Customer"}])
    return customers[0]


# The quantity of product n in month m (0 based): steady, trending,
# seasonal or intermittent demand
QUANTITY = (
    "CASE {n} %% 4 "
    "WHEN 0 THEN 3 + ({n} * 31 + {m} * 17) %% 7 "
    "WHEN 1 THEN 2 + {m} / 3 + ({n} + {m}) %% 3 "
    "WHEN 2 THEN 10 + 5 * (({m} %% 12) / 3) + ({n} * {m}) %% 3 "
    "ELSE CASE WHEN ({n} * 7 + {m} * 13) %% 5 = 0 "
    "THEN 1 + ({n} + {m}) %% 4 ELSE 0 END END")


def generate(pool, company, customer, products, months, origin):
    "Replace the generated products, sales and moves with SQL statements"
    from trytond.transaction import Transaction
    Location = pool.get('stock.location')
    Uom = pool.get('product.uom')
    cursor = Transaction().connection.cursor()
    unit, = Uom.search([('name', '=', 'Unit')])
    warehouse, = Location.search([('type', '=', 'warehouse')], limit=1)
    customer_location, = Location.search(
        [('type', '=', 'customer')], limit=1)
    index = origin.year * 12 + origin.month - 1 - months
    start = dt.date(index // 12, index % 12 + 1, 1)

    cursor.execute(
        "DELETE FROM sale_insight_forecast WHERE company = %s",
        (company.id,))
    cursor.execute(
        "DELETE FROM stock_move WHERE origin IN (SELECT 'sale.line,' || l.id "
        "FROM sale_line AS l JOIN sale_sale AS s ON l.sale = s.id "
        "WHERE s.reference = 'bench-forecast')")
    cursor.execute(
        "DELETE FROM sale_line WHERE sale IN "
        "(SELECT id FROM sale_sale WHERE reference = 'bench-forecast')")
    cursor.execute(
        "DELETE FROM sale_sale WHERE reference = 'bench-forecast'")
    cursor.execute(
        "DELETE FROM product_product WHERE code LIKE 'BENCH-%%'")
    cursor.execute(
        "DELETE FROM product_template WHERE code LIKE 'BENCH-%%'")
    cursor.execute(
        "INSERT INTO product_template (name, code, type, default_uom, "
        "active, consumable, create_uid, create_date) "
        "SELECT 'Product ' || n, 'BENCH-' || n, 'goods', %s, true, false, "
        "0, now() FROM generate_series(1, %s) AS n",
        (unit.id, products))
    cursor.execute(
        "INSERT INTO product_product (template, code, suffix_code, active, "
        "create_uid, create_date) "
        "SELECT id, code, '', true, 0, now() FROM product_template "
        "WHERE code LIKE 'BENCH-%%'")
    # One sale per month
    cursor.execute(
        "INSERT INTO sale_sale (company, currency, party, reference, "
        "state, sale_date, warehouse, invoice_method, invoice_state, "
        "shipment_method, shipment_state, create_uid, create_date) "
        "SELECT %s, %s, %s, 'bench-forecast', 'processing', "
        "(%s::date + m * INTERVAL '1 month')::date, %s, 'manual', 'none', "
        "'order', 'sent', 0, now() "
        "FROM generate_series(0, %s - 1) AS m",
        (company.id, company.currency.id, customer.id, start.isoformat(),
            warehouse.id, months))
    cursor.execute(
        "INSERT INTO sale_line (sale, type, product, quantity, unit, "
        "unit_price, sequence, create_uid, create_date) "
        "SELECT s.id, 'line', p.id, q.quantity, %s, 1000, 1, 0, now() "
        "FROM sale_sale AS s "
        "CROSS JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n "
        "FROM product_product WHERE code LIKE 'BENCH-%%') AS p "
        "CROSS JOIN LATERAL (SELECT ((EXTRACT(YEAR FROM s.sale_date) - %s) "
        "* 12 + EXTRACT(MONTH FROM s.sale_date) - %s)::int AS m) AS mm "
        "CROSS JOIN LATERAL (SELECT ("
        + QUANTITY.format(n='p.n', m='mm.m') + ") AS quantity) AS q "
        "WHERE s.reference = 'bench-forecast' AND q.quantity > 0",
        (unit.id, start.year, start.month))
    cursor.execute(
        "INSERT INTO stock_move (product, unit, quantity, internal_quantity, "
        "from_location, to_location, company, currency, unit_price, "
        "cost_price, state, effective_date, planned_date, origin, "
        "create_uid, create_date) "
        "SELECT l.product, l.unit, l.quantity, l.quantity, %s, %s, "
        "s.company, s.currency, l.unit_price, 600, 'done', "
        "s.sale_date + 14, s.sale_date + 14, 'sale.line,' || l.id, 0, now() "
        "FROM sale_line AS l JOIN sale_sale AS s ON l.sale = s.id "
        "WHERE s.reference = 'bench-forecast'",
        (warehouse.output_location.id, customer_location.id))
    cursor.execute(
        "SELECT COUNT(*) FROM sale_line AS l JOIN sale_sale AS s "
        "ON l.sale = s.id WHERE s.reference = 'bench-forecast'")
    lines, = cursor.fetchone()
    cursor.execute("ANALYZE")
    return lines


def main():
    args = parse_args()
    os.environ['TRYTOND_DATABASE__URI'] = args.uri
    ensure_database(args)

    from trytond.modules.shop_sale_insight import forecast_methods
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(args.database)
    pool.init()
    origin = dt.date(2027, 1, 1)
    with Transaction().start(args.database, 0) as transaction:
        company = bench_company(pool)
        customer = bench_customer(pool)
        lines = generate(
            pool, company, customer, args.products, args.months, origin)
        transaction.commit()
        with Transaction().set_context(company=company.id):
            Forecast = pool.get('sale.insight.forecast')

            def read():
                from trytond.modules.shop_sale_insight.forecast import (
                    period_delta)
                dates = [origin - period_delta('month', args.months - i)
                    for i in range(args.months)]
                series = Forecast._history(
                    company.id, dates[0], origin - dt.timedelta(days=1),
                    'month', dates)
                assert len(series) == args.products, len(series)

            def compute():
                Forecast.compute(history=args.months, date=origin)

            def baseline():
                candidates = forecast_methods.candidates
                forecast_methods.candidates = (
                    lambda *a, **k: ['moving_average'])
                try:
                    compute()
                finally:
                    forecast_methods.candidates = candidates

            timings = [
                ('baseline (moving average only)', timed(
                        baseline, args.repeat)),
                ('read (one SQL query)', timed(read, args.repeat)),
                ('sale.insight.forecast|compute', timed(
                        compute, args.repeat)),
                ]
            methods = {}
            for method in ['moving_average', 'exponential_smoothing',
                    'holt_winters', 'croston']:
                methods[method] = Forecast.search([
                        ('method', '=', method),
                        ('quantity', '!=', None),
                        ('date', '=', origin),
                        ], count=True)
            rows = Forecast.search([], count=True)
        transaction.commit()

    print("%d products x %d months, %d sale lines (done moves), "
        "%d forecast rows" % (args.products, args.months, lines, rows))
    print("methods chosen: %s" % ', '.join(
            '%s %d' % m for m in methods.items()))
    base = timings[0][1]
    for name, seconds in timings:
        print("%-36s %8.2f s  ratio %5.2f" % (name, seconds, seconds / base))


if __name__ == '__main__':
    main()
