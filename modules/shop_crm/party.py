# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import datetime as dt
import json
from decimal import Decimal

from trytond import backend
from trytond.i18n import gettext
from trytond.model import DictSchemaMixin, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .company import context_company
from .engagement import SEGMENTS
from .rating import get_average_rating, search_average_rating

_ENGAGEMENT_COLUMNS = {
    'engagement_score': 'engagement_score',
    'rfm_segment': 'segment',
    'lifetime_value': 'lifetime_value',
    'expected_next_sale': 'expected_next_sale',
    }


class Attribute(DictSchemaMixin, ModelSQL, ModelView):
    __string__ = "Customer Attribute"
    __name__ = 'party.crm.attribute'

    @classmethod
    def check_values(cls, values, party):
        "Raise a ValidationError unless values fit the attributes"
        attributes = {a.name: a for a in cls.search([
                    ('name', 'in', list(values)),
                    ])}
        for key, value in values.items():
            attribute = attributes.get(key)
            if attribute is None:
                raise ValidationError(gettext(
                        'shop_crm.msg_party_attribute_unknown',
                        party=party.rec_name, attribute=key))
            if value is not None and not attribute.accepts(value):
                raise ValidationError(gettext(
                        'shop_crm.msg_party_attribute_type',
                        party=party.rec_name, attribute=attribute.string,
                        value=value))

    def accepts(self, value):
        "Tell whether the value has the type of the attribute"
        number = (int, float, Decimal)
        if isinstance(value, bool):
            return self.type_ == 'boolean'
        if self.type_ == 'selection':
            return value in self._selection_keys()
        if self.type_ == 'multiselection':
            return (isinstance(value, (list, tuple))
                and set(value) <= self._selection_keys())
        if self.type_ == 'date':
            return (isinstance(value, dt.date)
                and not isinstance(value, dt.datetime))
        return isinstance(value, {
                'boolean': bool,
                'integer': int,
                'float': number,
                'numeric': number,
                'char': str,
                'datetime': dt.datetime,
                }.get(self.type_, object))

    def _selection_keys(self):
        return {k for k, _ in json.loads(
                self.get_selection_json('selection_json'))}


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
    crm_engagements = fields.One2Many(
        'party.crm.engagement', 'party', "Engagements", readonly=True)
    average_rating = fields.Function(
        fields.Numeric("Average Rating", digits=(1, 2)),
        'get_average_rating', searcher='search_average_rating')
    engagement_score = fields.Function(
        fields.Numeric("Engagement Score", digits=(3, 2)),
        'get_engagement', searcher='search_engagement')
    rfm_segment = fields.Function(
        fields.Selection(SEGMENTS, "RFM Segment"),
        'get_engagement', searcher='search_engagement')
    lifetime_value = fields.Function(
        Monetary(
            "Lifetime Value", currency='company_currency',
            digits='company_currency'),
        'get_engagement', searcher='search_engagement')
    company_currency = fields.Function(
        fields.Many2One('currency.currency', "Company Currency"),
        'get_company_currency')
    expected_next_sale = fields.Function(
        fields.Date("Expected Next Sale"),
        'get_engagement', searcher='search_engagement')
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
            cls.check_referral_cycle(parties)
        if 'birthday' in field_names:
            cls.check_birthday(parties)
        if 'crm_attributes' in field_names:
            cls.check_crm_attributes(parties)

    @classmethod
    def check_referral_cycle(cls, parties):
        "Refuse a chain of referrers that comes back to the party"
        for party in parties:
            if party.referred_by == party:
                raise ValidationError(gettext(
                        'shop_crm.msg_party_referred_by_itself',
                        party=party.rec_name))
            seen = {party.id}
            referrer = party.referred_by
            while referrer and referrer.id not in seen:
                seen.add(referrer.id)
                referrer = referrer.referred_by
            if referrer:
                raise ValidationError(gettext(
                        'shop_crm.msg_party_referral_cycle',
                        party=party.rec_name,
                        referrer=party.referred_by.rec_name))

    @classmethod
    def check_birthday(cls, parties):
        pool = Pool()
        Date = pool.get('ir.date')
        today = Date.today()
        for party in parties:
            if party.birthday and party.birthday > today:
                raise ValidationError(gettext(
                        'shop_crm.msg_party_birthday_future',
                        party=party.rec_name, birthday=party.birthday))

    @classmethod
    def check_crm_attributes(cls, parties):
        pool = Pool()
        Attribute = pool.get('party.crm.attribute')
        for party in parties:
            if party.crm_attributes:
                Attribute.check_values(party.crm_attributes, party)

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
    def get_company_currency(cls, parties, name):
        pool = Pool()
        Company = pool.get('company.company')
        company = Transaction().context.get('company')
        currency = Company(company).currency.id if company else None
        return dict.fromkeys(map(int, parties), currency)

    @classmethod
    def get_engagement(cls, parties, names):
        "Read the stored engagement of the context company"
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        company = context_company()
        result = {n: dict.fromkeys(map(int, parties)) for n in names}
        if company is None:
            return result
        for sub_parties in grouped_slice(parties, backend.MAX_QUERY_PARAMS):
            for engagement in Engagement.search([
                        ('company', '=', company),
                        ('party', 'in', [p.id for p in sub_parties]),
                        ]):
                for name in names:
                    result[name][engagement.party.id] = getattr(
                        engagement, _ENGAGEMENT_COLUMNS[name])
        return result

    @classmethod
    def search_engagement(cls, name, clause):
        company = context_company() or -1
        _, operator, *values = clause
        return [('crm_engagements', 'where', [
                    ('company', '=', company),
                    (_ENGAGEMENT_COLUMNS[name], operator, *values),
                    ])]

    @classmethod
    def get_purchase_history(cls, parties, name):
        pool = Pool()
        SaleLine = pool.get('sale.line')
        history = {p.id: [] for p in parties}
        for sub_parties in grouped_slice(parties, backend.MAX_QUERY_PARAMS):
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
            ('party.crm.engagement', 'party'),
            ]

    def transition_replace(self):
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        # Scores of the source no longer mean anything once its sales move.
        Engagement.delete(Engagement.search([
                    ('party', '=', self.ask.source.id),
                    ]))
        return super().transition_replace()


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
