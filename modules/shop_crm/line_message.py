# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Outgoing LINE messages: grouping, sending and retrying through the queue."""
import datetime as dt
import json
import uuid
from collections import defaultdict

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .line_channel import (
    MAX_ATTEMPTS, MULTICAST_SIZE, TEXT_MAX_LENGTH, batch_retry_key,
    is_retryable, is_sent, retry_delay)

QUEUE_NAME = 'shop_crm_line'
WORKFLOW_FIELDS = {'state', 'retry_key', 'sent_date', 'http_status', 'error'}


def pack(groups, size=MULTICAST_SIZE):
    """Return the lists of at most size items made of the groups

    A group larger than size is cut; smaller groups share a list."""
    batches, current = [], []
    for group in groups:
        for chunk in grouped_slice(group, size):
            chunk = list(chunk)
            if len(current) + len(chunk) > size:
                batches.append(current)
                current = []
            current.extend(chunk)
    if current:
        batches.append(current)
    return batches


class LineMessage(Workflow, ModelSQL, ModelView):
    __string__ = "LINE Message"
    __name__ = 'party.crm.line.message'
    _states = {
        'readonly': Eval('state') != 'draft',
        }
    company = fields.Many2One(
        'company.company', "Company", required=True, states=_states)
    channel = fields.Many2One(
        'party.crm.line.channel', "Channel", required=True,
        states=_states,
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    party = fields.Many2One(
        'party.party', "Party", required=True, states=_states,
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    text = fields.Text(
        "Text", states={
            'readonly': _states['readonly'],
            'required': ~Eval('payload'),
            })
    payload = fields.Text(
        "Payload", states=_states,
        help="A JSON list of LINE message objects, used instead of the text.")
    state = fields.Selection([
            ('draft', "Draft"),
            ('queued', "Queued"),
            ('sent', "Sent"),
            ('failed', "Failed"),
            ], "State", readonly=True, required=True, sort=False)
    retry_key = fields.Char(
        "Retry Key", readonly=True, required=True,
        help="The UUID from which the X-Line-Retry-Key of the batch "
        "of recipients is derived.")
    sent_date = fields.DateTime("Sent Date", readonly=True)
    http_status = fields.Integer("HTTP Status", readonly=True)
    error = fields.Text("Error", readonly=True,
        states={
            'invisible': Eval('state') != 'failed',
            })
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.party, Index.Equality())),
                Index(t,
                    (t.state, Index.Equality(cardinality='low')),
                    where=t.state.in_(['draft', 'queued', 'failed'])),
                })
        cls._order = [('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'queued'),
            ('failed', 'queued'),
            ('queued', 'sent'),
            ('queued', 'failed'),
            ('failed', 'draft'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': Eval('state') != 'failed',
                    'icon': 'tryton-undo',
                    'depends': ['state'],
                    },
                'queue': {
                    'invisible': ~Eval('state').in_(['draft', 'failed']),
                    'icon': 'tryton-launch',
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
    def default_retry_key(cls):
        return str(uuid.uuid4())

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('retry_key'):
            values['retry_key'] = cls.default_retry_key()
        return values

    @classmethod
    def check_modification(cls, mode, messages, values=None, external=False):
        super().check_modification(
            mode, messages, values=values, external=external)
        if not external or mode == 'delete':
            return
        if mode == 'create':
            tampered = any(
                m.state != 'draft' or m.sent_date or m.http_status
                or m.error for m in messages)
        else:
            tampered = bool(set(values) & WORKFLOW_FIELDS)
        if tampered:
            raise AccessError(gettext(
                    'shop_crm.msg_line_message_workflow_field'))

    @classmethod
    def copy(cls, messages, default=None):
        default = default.copy() if default is not None else {}
        for name in ['retry_key', 'sent_date', 'http_status', 'error']:
            default.setdefault(name, None)
        return super().copy(messages, default=default)

    @classmethod
    def validate_fields(cls, messages, field_names):
        super().validate_fields(messages, field_names)
        if 'text' in field_names:
            for message in messages:
                if message.text and len(message.text) > TEXT_MAX_LENGTH:
                    raise ValidationError(gettext(
                            'shop_crm.msg_line_text_too_long',
                            length=len(message.text),
                            maximum=TEXT_MAX_LENGTH))
        if 'payload' in field_names:
            for message in messages:
                if message.payload:
                    try:
                        message._line_messages()
                    except Exception:
                        raise ValidationError(gettext(
                                'shop_crm.msg_line_message_payload_invalid',
                                message=message.rec_name))

    def get_rec_name(self, name):
        return '%s: %s' % (
            self.party.rec_name, (self.text or '').splitlines()[0][:40]
            if self.text else '')

    def _message_key(self):
        return (self.channel.id, self.text or '', self.payload or '')

    def _line_messages(self):
        from linebot.v3.messaging import Message, TextMessage
        if self.payload:
            data = json.loads(self.payload)
            if isinstance(data, dict):
                data = [data]
            if not (1 <= len(data) <= 5):
                raise ValueError
            return [Message.from_dict(d) for d in data]
        return [TextMessage(text=self.text)]

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, messages):
        cls.write(messages, {
                'retry_key': cls.default_retry_key(),
                'http_status': None,
                'error': None,
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('queued')
    def queue(cls, messages):
        cls._enqueue(messages)

    @classmethod
    def _groups(cls, messages):
        "Return the lists of messages with the same channel and content"
        groups = defaultdict(list)
        for message in messages:
            groups[message._message_key()].append(message)
        return [groups[k] for k in sorted(groups)]

    @classmethod
    def _enqueue(cls, messages, attempt=0, delay=None):
        "Queue one send task per batch of at most 500 recipients"
        context = {'queue_name': QUEUE_NAME}
        if delay:
            context['queue_scheduled_at'] = dt.timedelta(seconds=delay)
        with Transaction().set_context(**context):
            for batch in pack(cls._groups(messages)):
                cls.__queue__.send(batch, attempt)

    @classmethod
    def reachable_parties(cls, parties):
        "Return the ids of parties with an active LINE contact and consent"
        pool = Pool()
        Party = pool.get('party.party')
        result = set()
        for sub_parties in grouped_slice(parties, backend.MAX_QUERY_PARAMS):
            result.update(p.id for p in Party.search([
                        ('id', 'in', [int(p) for p in sub_parties]),
                        ('marketing_consent', '=', True),
                        ('contact_mechanisms', 'where', [
                                ('type', '=', 'line'),
                                ('active', '=', True),
                                ]),
                        ]))
        return result

    @classmethod
    def _line_user_ids(cls, parties):
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        user_ids = {}
        for sub_parties in grouped_slice(parties, backend.MAX_QUERY_PARAMS):
            for contact in ContactMechanism.search([
                        ('party', 'in', [int(p) for p in sub_parties]),
                        ('type', '=', 'line'),
                        ('active', '=', True),
                        ], order=[('id', 'ASC')]):
                user_ids.setdefault(contact.party.id, contact.value)
        return user_ids

    @classmethod
    def _max_attempts(cls):
        return Transaction().context.get('line_max_attempts', MAX_ATTEMPTS)

    @classmethod
    def send(cls, messages, attempt=0):
        """Send the queued messages: one push or multicast per content

        A 429, a 5xx or a network error queues the batch again after
        Retry-After, with the same retry key."""
        messages = [m for m in cls.browse(messages) if m.state == 'queued']
        parties = {m.party for m in messages}
        reachable = cls.reachable_parties(parties)
        user_ids = cls._line_user_ids(parties)
        unreachable = [m for m in messages
            if m.party.id not in reachable or m.party.id not in user_ids]
        for message in unreachable:
            cls.fail([message], None, gettext(
                    'shop_crm.msg_line_message_unreachable',
                    party=message.party.rec_name))
        unreachable = set(unreachable)
        to_retry, delay = [], 0
        sent, failed = defaultdict(list), defaultdict(list)
        for group in cls._groups(m for m in messages if m not in unreachable):
            for batch in grouped_slice(group, MULTICAST_SIZE):
                batch = list(batch)
                delivery = cls._deliver(batch, user_ids)
                if is_sent(delivery.status):
                    sent[delivery.status].extend(batch)
                elif (is_retryable(delivery.status)
                        and attempt + 1 < cls._max_attempts()):
                    failed[delivery.status, delivery.error, True].extend(batch)
                    delay = max(delay, retry_delay(
                            delivery.retry_after, attempt,
                            base=Transaction().context.get(
                                'line_retry_base', 1.0)))
                else:
                    failed[delivery.status, delivery.error, False].extend(
                        batch)
        # The states are written once per outcome, not per call
        for status, batch in sent.items():
            cls.succeed(batch, status)
        for (status, error, retry), batch in failed.items():
            if retry:
                cls.write(batch, {'http_status': status, 'error': error})
                to_retry.extend(batch)
            else:
                cls.fail(batch, status, error)
        if to_retry:
            cls._enqueue(to_retry, attempt=attempt + 1, delay=delay)

    @classmethod
    def _deliver(cls, batch, user_ids):
        first = batch[0]
        to = [user_ids[m.party.id] for m in batch]
        return first.channel.deliver(
            to[0] if len(to) == 1 else to, first._line_messages(),
            batch_retry_key(m.retry_key for m in batch))

    @classmethod
    @Workflow.transition('sent')
    def succeed(cls, messages, status):
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        now = dt.datetime.now()
        cls.write(messages, {
                'sent_date': now,
                'http_status': status,
                'error': None,
                })
        Interaction.save([Interaction(
                    company=m.company, party=m.party, date=now,
                    type='line', direction='outbound',
                    subject=(m.text or '').splitlines()[0][:80]
                    if m.text else gettext(
                        'shop_crm.msg_line_interaction_rich'),
                    description=m.text or m.payload,
                    origin=m) for m in messages])

    @classmethod
    @Workflow.transition('failed')
    def fail(cls, messages, status, error):
        cls.write(messages, {
                'http_status': status,
                'error': error,
                })
