# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.modules.company.model import (
    CompanyMultiValueMixin, CompanyValueMixin)
from trytond.pool import Pool
from trytond.pyson import Eval, Id

inquiry_sequence = fields.Many2One(
    'ir.sequence', "Inquiry Sequence", required=True,
    domain=[
        ('company', 'in', [Eval('company', -1), None]),
        ('sequence_type', '=', Id('shop_crm', 'sequence_type_inquiry')),
        ])
default_channel = fields.Many2One(
    'sale.channel', "Default Sale Channel",
    domain=[
        ('company', '=', Eval('company', -1)),
        ],
    help="The channel new sales get when none is given.")


class Configuration(
        ModelSingleton, ModelSQL, ModelView, CompanyMultiValueMixin):
    __string__ = "CRM Configuration"
    __name__ = 'party.crm.configuration'
    inquiry_sequence = fields.MultiValue(fields.Many2One(
            'ir.sequence', "Inquiry Sequence", required=True,
            domain=[
                ('company', 'in',
                    [Eval('context', {}).get('company', -1), None]),
                ('sequence_type', '=',
                    Id('shop_crm', 'sequence_type_inquiry')),
                ]))
    default_channel = fields.MultiValue(fields.Many2One(
            'sale.channel', "Default Sale Channel",
            domain=[
                ('company', '=', Eval('context', {}).get('company', -1)),
                ],
            help="The channel new sales get when none is given."))

    @classmethod
    def multivalue_model(cls, field):
        pool = Pool()
        if field in {'inquiry_sequence', 'default_channel'}:
            return pool.get('party.crm.configuration.company')
        return super().multivalue_model(field)

    @classmethod
    def default_inquiry_sequence(cls, **pattern):
        return cls.multivalue_model(
            'inquiry_sequence').default_inquiry_sequence()


class ConfigurationCompany(ModelSQL, CompanyValueMixin):
    __string__ = "CRM Configuration per Company"
    __name__ = 'party.crm.configuration.company'
    inquiry_sequence = inquiry_sequence
    default_channel = default_channel

    @classmethod
    def default_inquiry_sequence(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        try:
            return ModelData.get_id('shop_crm', 'sequence_inquiry')
        except KeyError:
            return None
