# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The sale channel, the CRM log and the LINE scenarios of sales."""
from collections import defaultdict

from sql import Null

from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access


class Sale(metaclass=PoolMeta):
    __name__ = 'sale.sale'
    channel = fields.Many2One(
        'sale.channel', "Channel", ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        states={
            'readonly': ~Eval('state').in_(['draft', 'quotation']),
            },
        help="Where the customer bought: store, web shop, LINE, phone…")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            # Reports group confirmed sales by channel.
            Index(t, (t.channel, Index.Equality()),
                where=t.channel != Null))

    @classmethod
    def default_channel(cls):
        pool = Pool()
        Configuration = pool.get('party.crm.configuration')
        company = Transaction().context.get('company')
        if company is None:
            return None
        channel = Configuration(1).get_multivalue(
            'default_channel', company=company)
        return channel.id if channel else None

    @classmethod
    def confirm(cls, sales):
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        to_check = [s for s in sales if s.state != 'confirmed']
        super().confirm(sales)
        confirmed = [s for s in to_check if s.state == 'confirmed']
        Interaction.log_sales(confirmed)
        # Enrolment is a system action: the seller needs no CRM rights
        with Transaction().set_user(0), without_check_access():
            cls._enroll_line_scenarios(cls.browse(confirmed))

    @classmethod
    def _enroll_line_scenarios(cls, sales):
        "Enroll the buyers in the first sale and category scenarios"
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        by_company = defaultdict(list)
        for sale in sales:
            by_company[sale.company].append(sale)
        for company, company_sales in by_company.items():
            parties = {s.party for s in company_sales}
            previous = {s.party for s in cls.search([
                        ('company', '=', company.id),
                        ('party', 'in', [p.id for p in parties]),
                        ('state', 'in', ['confirmed', 'processing', 'done']),
                        ('id', 'not in', [s.id for s in company_sales]),
                        ])}
            Scenario.enroll('first_sale', parties - previous, company)
            for sale in company_sales:
                category_ids = {
                    c.id for line in sale.lines
                    if getattr(line, 'product', None)
                    for c in line.product.template.categories_all}
                if category_ids:
                    Scenario.enroll(
                        'category_sale', [sale.party], company,
                        category_ids=category_ids)


class SaleLine(metaclass=PoolMeta):
    __name__ = 'sale.line'
    channel = fields.Function(
        fields.Many2One('sale.channel', "Channel"),
        'on_change_with_channel', searcher='search_channel')

    @fields.depends('sale', '_parent_sale.channel')
    def on_change_with_channel(self, name=None):
        return self.sale.channel if self.sale else None

    @classmethod
    def search_channel(cls, name, clause):
        return [('sale.' + clause[0],) + tuple(clause[1:])]
