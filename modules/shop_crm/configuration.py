# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
from decimal import Decimal

from trytond.model import ModelSingleton, ModelSQL, ModelView, Unique, fields
from trytond.modules.company.model import (
    CompanyMultiValueMixin, CompanyValueMixin)
from trytond.pool import Pool
from trytond.pyson import Eval, Id
from trytond.transaction import Transaction

from .company import check_company

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

    engagement_window = fields.Integer(
        "Engagement Window", required=True,
        domain=[('engagement_window', '>', 0)],
        help="The number of days of history that scores look at.")
    engagement_half_life = fields.Integer(
        "Interaction Half-Life", required=True,
        domain=[('engagement_half_life', '>', 0)],
        help="After this many days an interaction counts half.")
    engagement_interaction_target = fields.Numeric(
        "Interaction Target", digits=(16, 2), required=True,
        domain=[('engagement_interaction_target', '>', 0)],
        help="The decayed interaction weight that scores in full.")
    engagement_inquiry_target = fields.Integer(
        "Inquiry Target", required=True,
        domain=[('engagement_inquiry_target', '>', 0)],
        help="The number of answered inquiries that scores in full.")
    recency_weight = fields.Numeric(
        "Recency Weight", digits=(16, 2), required=True)
    frequency_weight = fields.Numeric(
        "Frequency Weight", digits=(16, 2), required=True)
    monetary_weight = fields.Numeric(
        "Monetary Weight", digits=(16, 2), required=True)
    interaction_weight = fields.Numeric(
        "Interaction Weight", digits=(16, 2), required=True)
    rating_weight = fields.Numeric(
        "Rating Weight", digits=(16, 2), required=True)
    inquiry_weight = fields.Numeric(
        "Inquiry Weight", digits=(16, 2), required=True)
    interaction_type_weights = fields.One2Many(
        'party.crm.configuration.interaction_weight', 'configuration',
        "Interaction Type Weights",
        help="The weight of each interaction type; 1 when not listed.")
    engagement_remaining_years = fields.Numeric(
        "Expected Remaining Years", digits=(16, 2), required=True,
        help="How many more years a customer is expected to buy, "
        "for the lifetime value.")
    at_risk_interval_multiple = fields.Numeric(
        "At Risk Interval Multiple", digits=(16, 2), required=True,
        help="A repeat customer is at risk when the days since the last "
        "sale exceed this multiple of the usual interval.")
    at_risk_one_time_days = fields.Integer(
        "At Risk One-Time Days", required=True,
        help="A one-time buyer is at risk after this many days.")

    @classmethod
    def default_engagement_window(cls):
        return 365

    @classmethod
    def default_engagement_half_life(cls):
        return 30

    @classmethod
    def default_engagement_interaction_target(cls):
        return Decimal(5)

    @classmethod
    def default_engagement_inquiry_target(cls):
        return 1

    @classmethod
    def default_recency_weight(cls):
        return Decimal(30)

    @classmethod
    def default_frequency_weight(cls):
        return Decimal(20)

    @classmethod
    def default_monetary_weight(cls):
        return Decimal(20)

    @classmethod
    def default_interaction_weight(cls):
        return Decimal(15)

    @classmethod
    def default_rating_weight(cls):
        return Decimal(10)

    @classmethod
    def default_inquiry_weight(cls):
        return Decimal(5)

    @classmethod
    def default_engagement_remaining_years(cls):
        return Decimal(3)

    @classmethod
    def default_at_risk_interval_multiple(cls):
        return Decimal(2)

    @classmethod
    def default_at_risk_one_time_days(cls):
        return 90

    def engagement_weights(self):
        "Return the weight of each engagement component"
        return {name: getattr(self, '%s_weight' % name)
            for name in ['recency', 'frequency', 'monetary', 'interaction',
                'rating', 'inquiry']}

    def get_interaction_type_weights(self):
        return {w.type: w.weight for w in self.interaction_type_weights}

    @classmethod
    @ModelView.button
    def recompute_engagement(cls, configurations):
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        check_company(Transaction().context.get('company'))
        Engagement.compute()

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'recompute_engagement': {},
                })

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


class ConfigurationInteractionWeight(ModelSQL, ModelView):
    __string__ = "CRM Interaction Type Weight"
    __name__ = 'party.crm.configuration.interaction_weight'
    configuration = fields.Many2One(
        'party.crm.configuration', "Configuration", required=True,
        ondelete='CASCADE')
    type = fields.Selection('get_types', "Type", required=True)
    weight = fields.Numeric("Weight", digits=(16, 2), required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls.__access__.add('configuration')
        cls._sql_constraints += [
            ('type_unique', Unique(t, t.configuration, t.type),
                'shop_crm.msg_interaction_weight_type_unique'),
            ]

    @classmethod
    def get_types(cls):
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        return Interaction.fields_get(['type'])['type']['selection']

    @classmethod
    def default_configuration(cls):
        return 1
