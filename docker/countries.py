# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Import the countries and the subdivisions of the shop's countries.

    countries.py -d DATABASE [-c FILE]

Core's trytond_import_countries, run with pycountry's subdivisions limited
to the countries of SHOP_SUBDIVISIONS (country codes separated by spaces or
commas, default JP: the 47 prefectures; "all" for the 5,000 subdivisions of
every country).  Every country is imported, with its name in each
translatable language, and so are the subdivisions asked for: importing
them all takes about 20 minutes on 2 cores, most of it for subdivisions a
shop in Japan never uses.  Running it again with more countries adds their
subdivisions; it never deletes any.
"""
import os
import re
import types

import pycountry

DEFAULT = 'JP'


def subdivision_countries():
    "The country codes whose subdivisions are imported, None for all"
    codes = re.split(r'[\s,]+',
        (os.environ.get('SHOP_SUBDIVISIONS') or DEFAULT).strip().upper())
    if codes == ['ALL']:
        return None
    unknown = [c for c in codes if not pycountry.countries.get(alpha_2=c)]
    if unknown:
        raise SystemExit(
            "SHOP_SUBDIVISIONS: unknown country codes %s" % ' '.join(unknown))
    return set(codes)


def subdivisions():
    "pycountry's subdivisions to import"
    countries = subdivision_countries()
    return [s for s in pycountry.subdivisions
        if countries is None or s.country_code in countries]


def main():
    from trytond.modules.country.scripts import import_countries

    # The core script reads pycountry's databases from its module: give it
    # the same ones with only the subdivisions asked for.
    import_countries.pycountry = types.SimpleNamespace(
        countries=pycountry.countries, subdivisions=subdivisions(),
        LOCALES_DIR=pycountry.LOCALES_DIR)
    import_countries.run()


if __name__ == '__main__':
    main()
