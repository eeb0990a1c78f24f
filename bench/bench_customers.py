#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Time the customer figures of a generated shop on PostgreSQL.

The shop has --customers parties and --lines sale lines (services of
processing sales, so every line is realised revenue and cost) spread over
two years.  The script times, in the same run and on the same data:

- baseline: Tryton core's revenue per customer (sale.reporting.customer)
  over the whole period;
- insight: sale.insight.customer, the same customers with cost, profit and
  the CRM columns;
- engagement: party.crm.engagement|compute, which rewrites the RFM,
  engagement score and lifetime value of every customer;

and prints each time and its ratio to the baseline.  Usage:

    bench/bench_customers.py [--customers 10000] [--lines 100000]
        [--uri postgresql://postgres@127.0.0.1:5432/] [--database bench_shop]

Run it with the project installed (scripts/test.sh makes .venv-test) and
with PYTHONOPTIMIZE=1 as servers run.  The database is created (modules
activated) on the first run and the generated data replaced on each run.
"""
import argparse
import datetime as dt
import os
from contextlib import contextmanager

from shop_bench import (
    add_database_arguments, bench_company, ensure_database, timed)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--customers', type=int, default=10000)
    parser.add_argument('--lines', type=int, default=100000)
    add_database_arguments(parser, 'bench_shop')
    parser.add_argument('--repeat', type=int, default=3)
    return parser.parse_args()


def service_product(pool):
    "Return the bench service product, created once"
    Template = pool.get('product.template')
    Uom = pool.get('product.uom')
    unit, = Uom.search([('name', '=', 'Unit')])
    templates = Template.search([('name', '=', "Bench Service")])
    if not templates:
        templates = Template.create([{
                    'name': "Bench Service", 'type': 'service',
                    'default_uom': unit.id, 'salable': True,
                    'sale_uom': unit.id,
                    'products': [('create', [{}])]}])
    product, = templates[0].products
    return product


def generate(pool, company, product, customers, lines):
    "Replace the generated parties and sales with one statement each"
    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    uom = product.default_uom.id
    cursor.execute(
        "DELETE FROM sale_line WHERE sale IN "
        "(SELECT id FROM sale_sale WHERE reference = 'bench')")
    cursor.execute("DELETE FROM sale_sale WHERE reference = 'bench'")
    cursor.execute(
        "DELETE FROM party_crm_engagement WHERE party IN "
        "(SELECT id FROM party_party WHERE code LIKE 'BENCH%%')")
    cursor.execute("DELETE FROM party_party WHERE code LIKE 'BENCH%%'")
    cursor.execute(
        "INSERT INTO party_party (code, name, active, create_uid, "
        "create_date) SELECT 'BENCH' || n, 'Customer ' || n, true, 0, "
        "now() FROM generate_series(1, %s) AS n", (customers,))
    # Two lines per sale; every customer buys, the first ones more often.
    cursor.execute(
        "INSERT INTO sale_sale (company, currency, party, reference, "
        "state, sale_date, invoice_method, invoice_state, "
        "shipment_method, shipment_state, create_uid, create_date) "
        "SELECT %s, %s, p.id, 'bench', 'processing', "
        "DATE '2025-01-01' + (n::bigint * 7919 %% 730)::int, "
        "'manual', 'none', 'manual', 'none', 0, now() "
        "FROM generate_series(1, %s) AS n "
        "JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rank "
        "FROM party_party WHERE code LIKE 'BENCH%%') AS p "
        "ON p.rank = CASE WHEN n <= %s THEN n "
        "ELSE 1 + (n::bigint * 7919) %% GREATEST(%s * (1 + n %% 4) / 4, 1) "
        "END",
        (company.id, company.currency.id, lines // 2, customers, customers))
    cursor.execute(
        "INSERT INTO sale_line (sale, type, product, quantity, unit, "
        "unit_price, sequence, create_uid, create_date) "
        "SELECT s.id, 'line', %s, 1 + (s.id %% 3), %s, "
        "1000 + (s.id * k %% 50) * 100, k, 0, now() "
        "FROM sale_sale AS s CROSS JOIN generate_series(1, 2) AS k "
        "WHERE s.reference = 'bench'",
        (product.id, uom))
    cursor.execute("ANALYZE")


@contextmanager
def generated_shop(args):
    """Start the database of args, fill it with the generated shop and
    yield the pool, the transaction and the company"""
    os.environ['TRYTOND_DATABASE__URI'] = args.uri
    ensure_database(args)

    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(args.database)
    pool.init()
    with Transaction().start(args.database, 0) as transaction:
        company = bench_company(pool)
        product = service_product(pool)
        generate(pool, company, product, args.customers, args.lines)
        # Written in SQL, the sales are not seen by the facts' events
        pool.get('sale.insight.fact').fill([company.id])
        transaction.commit()
        yield pool, transaction, company

def main():
    args = parse_args()
    with generated_shop(args) as (pool, transaction, company):
        # imported once generated_shop has configured the database
        from trytond.transaction import Transaction
        context = {
            'company': company.id,
            'from_date': dt.date(2025, 1, 1),
            'to_date': dt.date(2026, 12, 31),
            'date': dt.date(2027, 1, 1),
            }
        with Transaction().set_context(context):
            Baseline = pool.get('sale.reporting.customer')
            Insight = pool.get('sale.insight.customer')
            Engagement = pool.get('party.crm.engagement')

            def baseline():
                Baseline.read(
                    [r.id for r in Baseline.search([])], ['revenue'])

            def insight():
                Insight.read([r.id for r in Insight.search([])],
                    ['revenue', 'cost', 'profit', 'margin',
                        'inquiry_count', 'average_rating'])

            def engagement():
                Engagement.compute()

            timings = [
                ('baseline sale.reporting.customer', timed(
                        baseline, args.repeat)),
                ('sale.insight.customer', timed(insight, args.repeat)),
                ('party.crm.engagement|compute', timed(
                        engagement, args.repeat)),
                ]
            rows = Engagement.search([], count=True)
            customers = len(Insight.search([]))
        transaction.commit()

    print("%d customers, %d sale lines, %d engagement rows, "
        "%d insight rows" % (args.customers, args.lines, rows, customers))
    base = timings[0][1]
    for name, seconds in timings:
        print("%-36s %8.2f s  ratio %5.2f" % (name, seconds, seconds / base))


if __name__ == '__main__':
    main()
