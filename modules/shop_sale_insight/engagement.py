# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The realised sales behind the CRM engagement, and its figures on the
customer profitability rows."""
from decimal import Decimal

from sql import Column

from trytond.model import fields
from trytond.modules.currency.fields import Monetary
from trytond.modules.shop_crm.engagement import SEGMENTS
from trytond.modules.shop_crm.party import _ENGAGEMENT_COLUMNS
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .facts import MAX_IDS, in_ids, insight_company
from .reporting import to_date


def realised_lines():
    """Return the realised sale lines of the context company, all dates,
    read from ``sale.insight.fact``"""
    pool = Pool()
    Customer = pool.get('sale.insight.customer')
    with Transaction().set_context(from_date=None, to_date=None):
        return Customer._realised_facts()


class Engagement(metaclass=PoolMeta):
    __name__ = 'party.crm.engagement'

    @classmethod
    def _sale_query(cls):
        lines = realised_lines()
        return lines.select(
            lines.customer.as_('party'),
            lines.sale.as_('sale'),
            lines.date.as_('date'),
            lines.revenue.as_('revenue'),
            (lines.revenue - lines.cost).as_('profit'))


class Customer(metaclass=PoolMeta):
    __name__ = 'sale.insight.customer'
    rfm_segment = fields.Function(
        fields.Selection(SEGMENTS, "RFM Segment"), 'get_engagement')
    engagement_score = fields.Function(
        fields.Numeric("Engagement Score", digits=(3, 2)), 'get_engagement')
    lifetime_value = fields.Function(
        Monetary(
            "Lifetime Value", currency='currency', digits='currency'),
        'get_engagement')
    expected_next_sale = fields.Function(
        fields.Date("Expected Next Sale"), 'get_engagement')

    @classmethod
    def get_engagement(cls, records, names):
        """Read the engagement of the customers rows (ids are party ids)
        with one query per slice"""
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        engagement = Engagement.__table__()
        cursor = Transaction().connection.cursor()
        company = insight_company()
        ids = [r.id for r in records]
        result = {name: dict.fromkeys(ids) for name in names}
        if company is None:
            return result
        columns = [Column(engagement, _ENGAGEMENT_COLUMNS[n]) for n in names]
        for sub_ids in grouped_slice(ids, MAX_IDS):
            cursor.execute(*engagement.select(
                    engagement.party, *columns,
                    where=(engagement.company == company)
                    & in_ids(engagement.party, list(sub_ids))))
            for party, *values in cursor:
                for name, value in zip(names, values):
                    result[name][party] = cls._engagement_value(name, value)
        return result

    @classmethod
    def _engagement_value(cls, name, value):
        "Return the Python value of a database value of the column"
        if value is None:
            return None
        if name == 'expected_next_sale':
            return to_date(value)
        if name in {'engagement_score', 'lifetime_value'}:
            return Decimal(str(value))
        return value
