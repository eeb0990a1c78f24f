# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""PostgreSQL steps of the deployment that trytond-admin does not do.

    database.py -c FILE [-c FILE] wait [--timeout SECONDS]
        wait until the PostgreSQL server of [database] uri answers
    database.py -c FILE [-c FILE] create NAME
        create the database NAME unless it exists
    database.py -c FILE [-c FILE] initialised NAME
        exit 0 when NAME is a Tryton database, 1 when it is still empty
    database.py -c FILE [-c FILE] imported NAME
        exit 0 when the countries, the subdivisions of SHOP_SUBDIVISIONS
        (see countries.py) and the currencies of pycountry are in NAME and
        were translated into every translatable language that pycountry
        translates; 1 when the import is still to do

The connection is trytond's own, made from the configuration files.
"""
import argparse
import gettext
import sys
import time

from trytond import backend, config

import countries

IMPORTS = [
    # table, translation name, pycountry database, pycountry catalogue
    ('country_country', 'country.country,name', 'countries', 'iso3166-1'),
    ('country_subdivision', 'country.subdivision,name', 'subdivisions',
        'iso3166-2'),
    ('currency_currency', 'currency.currency,name', 'currencies', 'iso4217'),
    ]


def wait(timeout):
    "Connect to the server until it answers or timeout seconds passed"
    end = time.monotonic() + timeout
    while True:
        try:
            database = backend.Database()
            connection = database.get_connection(autocommit=True)
            database.put_connection(connection)
            return
        except Exception as exception:
            if time.monotonic() > end:
                sys.exit("PostgreSQL did not answer within %ss: %s"
                    % (timeout, exception))
            time.sleep(1)


def create(name):
    database = backend.Database()
    connection = database.get_connection(autocommit=True)
    try:
        if name in database.list():
            print('Database "%s" exists' % name)
        else:
            database.create(connection, name)
            print('Database "%s" created' % name)
    finally:
        database.put_connection(connection)


def initialised(name):
    return backend.Database(name).test()


def _count(cursor, query, *args):
    cursor.execute(query, args)
    return cursor.fetchone()[0]


def imported(name):
    import pycountry

    database = backend.Database(name)
    connection = database.get_connection(readonly=True)
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT code FROM ir_lang WHERE translatable AND code != 'en'")
        languages = [code for code, in cursor]
        expected = {
            'countries': {c.alpha_2 for c in pycountry.countries},
            'subdivisions': {s.code for s in countries.subdivisions()},
            'currencies': {c.alpha_3 for c in pycountry.currencies},
            }
        for table, field, data, catalogue in IMPORTS:
            codes = list(expected[data])
            if _count(cursor,
                    'SELECT COUNT(*) FROM "%s" WHERE code = ANY(%%s)' % table,
                    codes) < len(codes):
                return False
            for language in languages:
                if not gettext.find(
                        catalogue, pycountry.LOCALES_DIR, [language]):
                    continue
                # Names equal to the English one are not stored.
                if not _count(cursor,
                        "SELECT COUNT(*) FROM ir_translation "
                        "WHERE name = %s AND lang = %s AND type = 'model'",
                        field, language):
                    return False
        return True
    finally:
        database.put_connection(connection)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-c', '--config', dest='configfiles',
        action='append', required=True, metavar='FILE')
    commands = parser.add_subparsers(dest='command', required=True)
    command = commands.add_parser('wait')
    command.add_argument('--timeout', type=int, default=60)
    commands.add_parser('create').add_argument('name')
    commands.add_parser('initialised').add_argument('name')
    commands.add_parser('imported').add_argument('name')
    options = parser.parse_args()
    config.update_etc(options.configfiles)

    if options.command == 'wait':
        wait(options.timeout)
    elif options.command == 'create':
        create(options.name)
    elif options.command == 'initialised':
        sys.exit(0 if initialised(options.name) else 1)
    elif options.command == 'imported':
        sys.exit(0 if imported(options.name) else 1)


if __name__ == '__main__':
    main()
