# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Import the currencies with their ISO 4217 decimals.

    currencies.py -d DATABASE [-c FILE]

Core's trytond_import_currencies creates every currency of pycountry with
Tryton's default of 2 decimals, pycountry having no minor units.  The
currencies whose ISO 4217 minor unit is 0 or 3 are then given it (JPY: 0
decimals, rounding 1), unless their decimals were changed already.
"""
from decimal import Decimal

# ISO 4217, list one (current currencies), column "minor unit"
MINOR_UNITS = {
    0: ['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG',
        'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'],
    3: ['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'],
    }


def set_minor_units():
    from proteus import Model

    Currency = Model.get('currency.currency')
    records = []
    for digits, codes in MINOR_UNITS.items():
        for currency in Currency.find([
                    ('code', 'in', codes),
                    ('digits', '=', 2),
                    ('rounding', '=', Decimal('0.01')),
                    ]):
            currency.digits = digits
            currency.rounding = Decimal(1).scaleb(-digits)
            records.append(currency)
    Currency.save(records)


def main():
    from trytond.modules.currency.scripts import import_currencies

    import_currencies.run()
    set_minor_units()


if __name__ == '__main__':
    main()
