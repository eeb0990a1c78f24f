# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Validation of the context values of the reports.

The context comes from the client: the view domains of the context forms
are not enforced on the server, so every report checks its context values
before it builds its query."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model.exceptions import ValidationError
from trytond.transaction import Transaction

PERIODS = {'year', 'month', 'day'}
MAX_DAYS = 36600


def _is_date(value):
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def check_dates():
    "Refuse from and to dates that are not dates or not in order"
    context = Transaction().context
    from_date, to_date = context.get('from_date'), context.get('to_date')
    for name, value in [('from_date', from_date), ('to_date', to_date)]:
        if value is not None and not _is_date(value):
            raise ValidationError(gettext(
                    'shop_sale_insight.msg_context_date_type',
                    name=name, value=value))
    if from_date and to_date and from_date > to_date:
        raise ValidationError(gettext(
                'shop_sale_insight.msg_context_dates_order',
                from_date=from_date, to_date=to_date))


def check_period():
    "Refuse a period that the time series do not know"
    period = Transaction().context.get('period')
    if period is not None and period not in PERIODS:
        raise ValidationError(gettext(
                'shop_sale_insight.msg_context_period', period=period))


def check_sales_context():
    "Check the context of the sales reports"
    check_dates()
    check_period()


def check_inventory_context():
    "Check the context of the inventory reports"
    context = Transaction().context
    check_dates()
    abc_a, abc_b = context.get('abc_a'), context.get('abc_b')
    for value in [abc_a, abc_b]:
        if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value <= 1):
            raise ValidationError(gettext(
                    'shop_sale_insight.msg_context_abc_range', value=value))
    if abc_a is not None and abc_b is not None and abc_a >= abc_b:
        raise ValidationError(gettext(
                'shop_sale_insight.msg_context_abc_order',
                abc_a=abc_a, abc_b=abc_b))
    for name, minimum in [('recent_days', 1), ('overstock_days', 0)]:
        value = context.get(name)
        if value is not None and (
                isinstance(value, bool) or not isinstance(value, int)
                or not minimum <= value <= MAX_DAYS):
            raise ValidationError(gettext(
                    'shop_sale_insight.msg_context_days',
                    name=name, value=value, minimum=minimum,
                    maximum=MAX_DAYS))
