# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
from sql import Null

from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction


class Channel(DeactivableMixin, ModelSQL, ModelView):
    __string__ = "Sale Channel"
    __name__ = 'sale.channel'
    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char(
        "Code", required=True, strip=True,
        help="The short code of the channel, unique per company.")
    company = fields.Many2One('company.company', "Company", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_company_unique', Unique(t, t.company, t.code),
                'shop_crm.msg_channel_code_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    def get_rec_name(self, name):
        return '[%s] %s' % (self.code, self.name) if self.code else self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('name', operator, operand, *extra),
            ('code', operator, operand, *extra),
            ]


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
        to_log = [s for s in sales if s.state != 'confirmed']
        super().confirm(sales)
        Interaction.log_sales([s for s in to_log if s.state == 'confirmed'])


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
