# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""What the PostgreSQL benchmarks share: the database with the modules
activated, the JPY bench company and the timing."""
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal


def add_database_arguments(parser, database):
    parser.add_argument(
        '--uri', default='postgresql://postgres@127.0.0.1:5432/')
    parser.add_argument('--database', default=database)


def ensure_database(args):
    "Create the database with shop_sale_insight activated, once"
    import psycopg
    with psycopg.connect(args.uri + 'postgres', autocommit=True) as conn:
        exists = conn.execute(
            'SELECT 1 FROM pg_database WHERE datname = %s',
            (args.database,)).fetchone()
        if exists:
            return
        conn.execute('CREATE DATABASE "%s"' % args.database)
    admin = os.path.join(os.path.dirname(sys.executable), 'trytond-admin')
    with tempfile.NamedTemporaryFile('w', suffix='.pass') as password:
        password.write('admin\n')
        password.flush()
        env = dict(os.environ, TRYTOND_DATABASE__URI=args.uri,
            TRYTONPASSFILE=password.name)
        print("activating the modules in %s…" % args.database, flush=True)
        subprocess.run([admin, '-d', args.database, '-u', 'shop_sale_insight',
                '--activate-dependencies', '--email', 'admin@example.com'],
            env=env, check=True, stdout=subprocess.DEVNULL)


def bench_company(pool):
    "Return the bench company in JPY, created once"
    Company = pool.get('company.company')
    Currency = pool.get('currency.currency')
    Party = pool.get('party.party')
    User = pool.get('res.user')
    companies = Company.search([('party.name', '=', "Bench Shop")])
    if companies:
        return companies[0]
    jpy, = Currency.create([{
                'name': "Japanese Yen", 'code': 'JPY', 'symbol': "¥",
                'digits': 0, 'rounding': Decimal(1),
                'rates': [('create', [{
                                'date': dt.date(2000, 1, 1),
                                'rate': Decimal(1)}])],
                }])
    party, = Party.create([{'name': "Bench Shop"}])
    company, = Company.create([{'party': party.id, 'currency': jpy.id}])
    User.write([User(0), User(1)], {
            'companies': [('add', [company.id])],
            'company': company.id})
    return company


def timed(function, repeat=1):
    "Return the best time of repeat calls"
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best
