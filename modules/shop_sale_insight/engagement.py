# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The realised sales behind the CRM engagement, and its figures on the
customer profitability rows."""
from trytond.model import fields
from trytond.modules.currency.fields import Monetary
from trytond.modules.shop_crm.engagement import SEGMENTS
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


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
        "Read the engagement of the customers rows (ids are party ids)"
        pool = Pool()
        Party = pool.get('party.party')
        parties = Party.browse([r.id for r in records])
        values = Party.get_engagement(parties, names)
        return values
