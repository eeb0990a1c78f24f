#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Measure the PostgreSQL settings that matter for the customer reports.

On the shop of bench_customers.py (--customers parties, --lines sale
lines), the script runs the SQL of sale.insight.customer (the
profitability per customer over two years) under EXPLAIN (ANALYZE,
BUFFERS) and prints, in the same run:

- the size of the tables and indexes its plan reads, per sale line, to
  size shared_buffers and effective_cache_size for the shop's number of
  lines;
- the memory its sorts and hashes used and whether they spilled to disk at
  each work_mem given (--work-mem), to size work_mem;
- its time at each random_page_cost given (--random-page-cost) and the
  plan's chosen scans, against the first value as baseline.

Usage (the database of bench_customers.py is reused):

    PYTHONOPTIMIZE=1 .venv-test/bin/python bench/bench_postgresql_settings.py
        [--customers 10000] [--lines 100000] [--work-mem 4MB 64MB]
        [--random-page-cost 4 1.1]
"""
import argparse
import datetime as dt
import json

from bench_customers import generated_shop
from shop_bench import add_database_arguments, timed


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--customers', type=int, default=10000)
    parser.add_argument('--lines', type=int, default=100000)
    parser.add_argument('--work-mem', nargs='+', default=['4MB', '64MB'])
    parser.add_argument(
        '--random-page-cost', nargs='+', default=['4', '1.1'])
    parser.add_argument('--repeat', type=int, default=3)
    add_database_arguments(parser, 'bench_shop')
    return parser.parse_args()


def report_sql(pool):
    "The SQL and parameters of sale.insight.customer in the context"
    Insight = pool.get('sale.insight.customer')
    query = Insight.table_query()
    return tuple(query)


def explain(cursor, query, params):
    cursor.execute('EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ' + query, params)
    plan, = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return plan[0]


def nodes(plan):
    yield plan
    for child in plan.get('Plans', []):
        yield from nodes(child)


def memory(plan):
    "(peak kB of sorts and hashes in memory, kB spilled to disk)"
    in_memory = spilled = 0
    for node in nodes(plan['Plan']):
        if node.get('Sort Space Type') == 'Disk':
            spilled += node.get('Sort Space Used', 0)
        elif 'Sort Space Used' in node:
            in_memory = max(in_memory, node['Sort Space Used'])
        # Hash joins split in batches, aggregates write "Disk Usage"
        spilled += node.get('Disk Usage', 0)
        if node.get('Hash Batches', 1) > 1:
            spilled += node.get('Peak Memory Usage', 0)
        elif 'Peak Memory Usage' in node:
            in_memory = max(in_memory, node['Peak Memory Usage'])
    return in_memory, spilled


def scans(plan):
    return sorted({n['Node Type'] for n in nodes(plan['Plan'])
            if n['Node Type'].endswith('Scan')})


def relations(plan):
    return sorted({n['Relation Name'] for n in nodes(plan['Plan'])
            if 'Relation Name' in n})


def sizes(cursor, tables):
    result = {}
    for table in tables:
        cursor.execute(
            "SELECT pg_table_size(%s), pg_indexes_size(%s)", (table, table))
        result[table] = cursor.fetchone()
    return result


def main():
    args = parse_args()
    with generated_shop(args) as (pool, transaction, company):
        # imported once generated_shop has configured the database
        from trytond.transaction import Transaction
        cursor = transaction.connection.cursor()
        cursor.execute("SHOW shared_buffers")
        shared_buffers, = cursor.fetchone()
        context = {
            'company': company.id,
            'from_date': dt.date(2025, 1, 1),
            'to_date': dt.date(2026, 12, 31),
            }
        with Transaction().set_context(context):
            query, params = report_sql(pool)
            table_sizes = sizes(
                cursor, relations(explain(cursor, query, params)))
            print("%d customers, %d sale lines; shared_buffers %s" % (
                    args.customers, args.lines, shared_buffers))
            total = 0
            for table, (heap, indexes) in table_sizes.items():
                total += heap + indexes
                print("  %-24s %8.1f MB table %8.1f MB indexes" % (
                        table, heap / 2**20, indexes / 2**20))
            print("  %-24s %8.1f MB, %.0f bytes per sale line" % (
                    "read by the report", total / 2**20, total / args.lines))

            for work_mem in args.work_mem:
                cursor.execute("SET work_mem = '%s'" % work_mem)
                plan = explain(cursor, query, params)
                in_memory, spilled = memory(plan)
                print("work_mem %-6s sorts/hashes %7d kB in memory, "
                    "%7d kB on disk, %8.1f ms" % (
                        work_mem, in_memory, spilled,
                        plan['Execution Time']))
            cursor.execute("SET work_mem = '%s'" % args.work_mem[-1])

            base = None
            for cost in args.random_page_cost:
                cursor.execute("SET random_page_cost = %s" % float(cost))
                plan = explain(cursor, query, params)
                seconds = timed(
                    lambda: cursor.execute(query, params)
                    or cursor.fetchall(), args.repeat)
                base = base or seconds
                hit = plan['Plan'].get('Shared Hit Blocks', 0)
                read = plan['Plan'].get('Shared Read Blocks', 0)
                print("random_page_cost %-4s %8.3f s ratio %5.2f, "
                    "buffers hit %d read %d, %s" % (
                        cost, seconds, seconds / base, hit, read,
                        ', '.join(scans(plan))))
        transaction.rollback()


if __name__ == '__main__':
    main()
