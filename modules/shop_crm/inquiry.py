# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import datetime as dt

from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from .reference import check_references

_CHANNEL_INTERACTION_TYPES = {
    'line': 'line',
    'email': 'email',
    'phone': 'call',
    'web': 'web',
    'store': 'visit',
    }


class Inquiry(Workflow, ModelSQL, ModelView):
    __string__ = "Customer Inquiry"
    __name__ = 'party.crm.inquiry'
    _rec_name = 'number'
    _states = {
        'readonly': Eval('state').in_(['closed', 'cancelled']),
        }

    number = fields.Char("Number", readonly=True)
    company = fields.Many2One(
        'company.company', "Company", required=True,
        states={
            'readonly': (Eval('state') != 'draft') | Eval('number'),
            })
    party = fields.Many2One(
        'party.party', "Party", required=True, states=_states,
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    contact = fields.Many2One(
        'party.contact_mechanism', "Contact", states=_states,
        domain=[
            ('party', '=', Eval('party', -1)),
            ],
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    channel = fields.Selection([
            ('line', "LINE"),
            ('email', "Email"),
            ('phone', "Phone"),
            ('web', "Web"),
            ('store', "Store"),
            ('other', "Other"),
            ], "Channel", required=True, states=_states)
    subject = fields.Char("Subject", required=True, states=_states)
    description = fields.Text("Description", states=_states)
    sale = fields.Many2One(
        'sale.sale', "Sale", states=_states,
        domain=[
            ('company', '=', Eval('company', -1)),
            If(Eval('party'), ('party', '=', Eval('party', -1)), ()),
            ])
    product = fields.Many2One(
        'product.product', "Product", states=_states,
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    employee = fields.Many2One(
        'company.employee', "Employee", states=_states,
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    opened_date = fields.DateTime("Opened Date", readonly=True)
    answered_date = fields.DateTime("Answered Date", readonly=True)
    closed_date = fields.DateTime("Closed Date", readonly=True)
    response_time = fields.Function(
        fields.TimeDelta(
            "Response Time", help="The time from opening to answer."),
        'get_response_time')
    state = fields.Selection([
            ('draft', "Draft"),
            ('open', "Open"),
            ('answered', "Answered"),
            ('closed', "Closed"),
            ('cancelled', "Cancelled"),
            ], "State", readonly=True, required=True, sort=False)

    del _states

    # Set only by the workflow
    _workflow_fields = {
        'number', 'state', 'opened_date', 'answered_date', 'closed_date'}

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('company_number_unique', Unique(t, t.company, t.number),
                'shop_crm.msg_inquiry_number_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.party, Index.Equality())),
                Index(t,
                    (t.state, Index.Equality(cardinality='low')),
                    where=t.state.in_(['draft', 'open', 'answered'])),
                })
        cls._order = [('opened_date', 'DESC NULLS FIRST'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'open'),
            ('open', 'answered'),
            ('answered', 'open'),
            ('answered', 'closed'),
            ('open', 'closed'),
            ('draft', 'cancelled'),
            ('open', 'cancelled'),
            ('cancelled', 'draft'),
            }
        cls._buttons.update({
                'cancel': {
                    'invisible': ~Eval('state').in_(['draft', 'open']),
                    'depends': ['state'],
                    },
                'draft': {
                    'invisible': Eval('state') != 'cancelled',
                    'icon': 'tryton-undo',
                    'depends': ['state'],
                    },
                'open': {
                    'invisible': ~Eval('state').in_(['draft', 'answered']),
                    'icon': If(Eval('state') == 'answered',
                        'tryton-back', 'tryton-forward'),
                    'depends': ['state'],
                    },
                'answer': {
                    'invisible': Eval('state') != 'open',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': ~Eval('state').in_(['open', 'answered']),
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_channel(cls):
        return 'store'

    @classmethod
    def default_employee(cls):
        return Transaction().context.get('employee')

    @property
    def interaction_type(self):
        return _CHANNEL_INTERACTION_TYPES.get(self.channel, 'inquiry')

    def get_response_time(self, name):
        if self.opened_date and self.answered_date:
            return self.answered_date - self.opened_date

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Configuration = pool.get('party.crm.configuration')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            # The number comes from the sequence only
            values.pop('number', None)
            company_id = values.get(
                'company', cls.default_company())
            if company_id is not None:
                configuration = Configuration(1)
                sequence = configuration.get_multivalue(
                    'inquiry_sequence', company=company_id)
                if sequence:
                    values['number'] = sequence.get()
        return values

    @classmethod
    def check_modification(cls, mode, inquiries, values=None, external=False):
        super().check_modification(
            mode, inquiries, values=values, external=external)
        if external and mode == 'create':
            for inquiry in inquiries:
                if (inquiry.state != 'draft' or inquiry.opened_date
                        or inquiry.answered_date or inquiry.closed_date):
                    raise AccessError(gettext(
                            'shop_crm.msg_inquiry_workflow_fields',
                            inquiry=inquiry.rec_name))
        elif external and mode == 'write':
            if cls._workflow_fields & set(values):
                raise AccessError(gettext(
                        'shop_crm.msg_inquiry_workflow_fields',
                        inquiry=', '.join(i.rec_name for i in inquiries)))
        if mode == 'delete':
            for inquiry in inquiries:
                if inquiry.state not in {'draft', 'cancelled'}:
                    raise AccessError(gettext(
                            'shop_crm.msg_inquiry_delete_draft_cancelled',
                            inquiry=inquiry.rec_name))

    @classmethod
    def validate_fields(cls, inquiries, field_names):
        super().validate_fields(inquiries, field_names)
        check_references(
            inquiries, field_names,
            ['company', 'party', 'contact', 'sale', 'product', 'employee'])
        cls.check_dates(inquiries, field_names)

    @classmethod
    def check_dates(cls, inquiries, field_names=None):
        "Refuse an answer or a closing before the opening"
        if field_names and not (field_names & {
                    'opened_date', 'answered_date', 'closed_date'}):
            return
        for inquiry in inquiries:
            if not inquiry.opened_date:
                continue
            for date in [inquiry.answered_date, inquiry.closed_date]:
                if date and date < inquiry.opened_date:
                    raise ValidationError(gettext(
                            'shop_crm.msg_inquiry_date_before_opened',
                            inquiry=inquiry.rec_name))

    @classmethod
    def copy(cls, inquiries, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'opened_date', 'answered_date',
                'closed_date']:
            default.setdefault(name, None)
        default.setdefault('state', 'draft')
        return super().copy(inquiries, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, inquiries):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, inquiries):
        cls.write(inquiries, {
                'opened_date': None,
                'answered_date': None,
                'closed_date': None,
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def open(cls, inquiries):
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        to_open = [i for i in inquiries if not i.opened_date]
        if to_open:
            cls.write(to_open, {'opened_date': dt.datetime.now()})
        reopened = [i for i in inquiries if i.answered_date]
        if reopened:
            cls.write(reopened, {'answered_date': None})
        Interaction.log_inquiries(
            to_open, 'shop_crm.msg_interaction_inquiry_opened', 'inbound')

    @classmethod
    @ModelView.button
    @Workflow.transition('answered')
    def answer(cls, inquiries):
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        cls.write(inquiries, {'answered_date': dt.datetime.now()})
        Interaction.log_inquiries(
            inquiries, 'shop_crm.msg_interaction_inquiry_answered',
            'outbound')

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, inquiries):
        cls.write(inquiries, {'closed_date': dt.datetime.now()})
