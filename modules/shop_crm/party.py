# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
from trytond.i18n import gettext
from trytond.model import DictSchemaMixin, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .rating import get_average_rating, search_average_rating


class Attribute(DictSchemaMixin, ModelSQL, ModelView):
    __string__ = "Customer Attribute"
    __name__ = 'party.crm.attribute'


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'
    birthday = fields.Date("Birthday")
    age = fields.Function(fields.Integer("Age"), 'get_age')
    acquisition_channel = fields.Many2One(
        'sale.channel', "Acquisition Channel", ondelete='SET NULL',
        help="Where the customer first came from.")
    referred_by = fields.Many2One(
        'party.party', "Referred by", ondelete='SET NULL',
        domain=[
            ('id', '!=', Eval('id', -1)),
            ],
        help="The customer who introduced this one.")
    marketing_consent = fields.Boolean(
        "Marketing Consent",
        help="The customer agreed to receive marketing messages.")
    marketing_consent_date = fields.Date(
        "Marketing Consent Date",
        states={
            'invisible': ~Eval('marketing_consent'),
            })
    crm_attributes = fields.Dict(
        'party.crm.attribute', "Attributes",
        help="The shop's own profile fields (size, skin type…).")
    crm_preferences = fields.One2Many(
        'party.crm.preference', 'party', "Preferences")
    crm_inquiries = fields.One2Many(
        'party.crm.inquiry', 'party', "Inquiries")
    crm_interactions = fields.One2Many(
        'party.crm.interaction', 'party', "Interactions")
    crm_ratings = fields.One2Many('party.crm.rating', 'party', "Ratings")
    average_rating = fields.Function(
        fields.Numeric("Average Rating", digits=(1, 2)),
        'get_average_rating', searcher='search_average_rating')
    purchase_history = fields.Function(
        fields.Many2Many(
            'sale.line', None, None, "Purchase History"),
        'get_purchase_history')

    @classmethod
    def default_marketing_consent(cls):
        return False

    @classmethod
    def validate_fields(cls, parties, field_names):
        super().validate_fields(parties, field_names)
        if 'referred_by' in field_names:
            for party in parties:
                if party.referred_by == party:
                    raise ValidationError(gettext(
                            'shop_crm.msg_party_referred_by_itself',
                            party=party.rec_name))

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Date = pool.get('ir.date')
        values = super().preprocess_values(mode, values)
        if ('marketing_consent' in values
                and 'marketing_consent_date' not in values):
            values['marketing_consent_date'] = (
                Date.today() if values['marketing_consent'] else None)
        return values

    @fields.depends('marketing_consent')
    def on_change_marketing_consent(self):
        pool = Pool()
        Date = pool.get('ir.date')
        self.marketing_consent_date = (
            Date.today() if self.marketing_consent else None)

    def get_age(self, name):
        pool = Pool()
        Date = pool.get('ir.date')
        if not self.birthday:
            return None
        today = Transaction().context.get('date') or Date.today()
        before_birthday = (
            (today.month, today.day)
            < (self.birthday.month, self.birthday.day))
        return today.year - self.birthday.year - before_birthday

    @classmethod
    def get_average_rating(cls, parties, name):
        return get_average_rating(parties, 'party')

    @classmethod
    def search_average_rating(cls, name, clause):
        return search_average_rating(clause, 'party')

    @classmethod
    def get_purchase_history(cls, parties, name):
        pool = Pool()
        SaleLine = pool.get('sale.line')
        history = {p.id: [] for p in parties}
        for sub_parties in grouped_slice(parties):
            for line in SaleLine.search([
                        ('sale.party', 'in', [p.id for p in sub_parties]),
                        ('sale.state', 'in', cls._purchase_states()),
                        ('type', '=', 'line'),
                        ]):
                history[line.sale.party.id].append(line.id)
        return history

    @classmethod
    def _purchase_states(cls):
        return ['confirmed', 'processing', 'done']


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.type.selection.append(('line', "LINE"))


class Replace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('party.party', 'referred_by'),
            ('party.crm.preference', 'party'),
            ('party.crm.inquiry', 'party'),
            ('party.crm.interaction', 'party'),
            ('party.crm.rating', 'party'),
            ]


class Erase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Party = pool.get('party.party')
        Preference = pool.get('party.crm.preference')
        Inquiry = pool.get('party.crm.inquiry')
        Interaction = pool.get('party.crm.interaction')
        Rating = pool.get('party.crm.rating')
        return super().to_erase(party_id) + [
            (Party, [('id', '=', party_id)], True,
                ['birthday', 'crm_attributes', 'marketing_consent',
                    'marketing_consent_date'],
                [None, None, False, None]),
            (Preference, [('party', '=', party_id)], True,
                ['note'], [None]),
            (Inquiry, [('party', '=', party_id)], True,
                ['subject', 'description'], ['****', None]),
            (Interaction, [('party', '=', party_id)], True,
                ['subject', 'description'], [None, None]),
            (Rating, [('party', '=', party_id)], True,
                ['comment'], [None]),
            ]
