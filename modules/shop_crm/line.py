# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""LINE Official Account: channel, webhook events and outgoing messages."""
import datetime as dt
import email.utils
import json
import logging
import secrets
import time
import urllib.parse
import uuid
from collections import defaultdict

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.url import http_host
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .engagement import SEGMENTS
from .placeholder import party_placeholders

logger = logging.getLogger(__name__)

API_URL = 'https://api.line.me'
MULTICAST_SIZE = 500
RETRY_STATUSES = {429, 500, 502, 503, 504}


class LineChannel(DeactivableMixin, ModelSQL, ModelView):
    __string__ = "LINE Channel"
    __name__ = 'party.crm.line.channel'
    name = fields.Char("Name", required=True)
    company = fields.Many2One('company.company', "Company", required=True)
    channel_secret = fields.Char(
        "Channel Secret", required=True, strip=True,
        help="The channel secret of the Messaging API channel, "
        "used to check the webhook signature.")
    access_token = fields.Char(
        "Channel Access Token", required=True, strip=True,
        help="The long-lived channel access token used to send messages.")
    api_url = fields.Char(
        "API URL", required=True, strip=True,
        help="The base URL of the Messaging API.")
    identifier = fields.Char(
        "Identifier", readonly=True, required=True,
        help="The random part of the webhook URL.")
    webhook_url = fields.Function(
        fields.Char(
            "Webhook URL",
            help="The URL to paste as webhook URL in the LINE console."),
        'get_webhook_url')
    create_inquiries = fields.Boolean(
        "Create Inquiries",
        help="Open an inquiry when a customer without an open inquiry "
        "sends a message.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('identifier_unique', Unique(t, t.identifier),
                'shop_crm.msg_line_channel_identifier_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_api_url(cls):
        return API_URL

    @classmethod
    def default_identifier(cls):
        return uuid.uuid4().hex

    @classmethod
    def default_create_inquiries(cls):
        return True

    def get_webhook_url(self, name):
        if not self.identifier:
            return None
        return '%s/%s/shop_crm/line/%s/webhook' % (
            http_host(),
            urllib.parse.quote(Transaction().database.name),
            self.identifier)

    @classmethod
    def copy(cls, channels, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('identifier', None)
        default.setdefault('channel_secret', None)
        default.setdefault('access_token', None)
        return super().copy(channels, default=default)

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('identifier'):
            values['identifier'] = cls.default_identifier()
        return values

    def _api_client(self):
        from linebot.v3.messaging import ApiClient, Configuration
        configuration = Configuration(
            host=self.api_url.rstrip('/'), access_token=self.access_token)
        return ApiClient(configuration)

    def get_profile_name(self, user_id):
        "Return the LINE display name of the user or None"
        from linebot.v3.messaging import MessagingApi
        try:
            with self._api_client() as client:
                profile = MessagingApi(client).get_profile(
                    user_id, _request_timeout=10)
            return profile.display_name
        except Exception as exception:
            logger.info(
                "LINE profile of %s on channel %s failed: %s",
                user_id, self.id, exception.__class__.__name__)
            return None


class LineEvent(ModelSQL, ModelView):
    __string__ = "LINE Event"
    __name__ = 'party.crm.line.event'
    _rec_name = 'webhook_event_id'
    webhook_event_id = fields.Char("Webhook Event ID", required=True,
        readonly=True)
    channel = fields.Many2One(
        'party.crm.line.channel', "Channel", required=True, readonly=True,
        ondelete='CASCADE')
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    type = fields.Char("Type", readonly=True)
    timestamp = fields.DateTime("Timestamp", readonly=True)
    user_id = fields.Char("User ID", readonly=True)
    payload = fields.Text("Payload", readonly=True)
    is_redelivery = fields.Boolean("Redelivery", readonly=True)
    state = fields.Selection([
            ('pending', "Pending"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", readonly=True, required=True, sort=False)
    error = fields.Text("Error", readonly=True,
        states={
            'invisible': Eval('state') != 'failed',
            })
    party = fields.Many2One(
        'party.party', "Party", readonly=True, ondelete='SET NULL',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('webhook_event_id_unique', Unique(t, t.webhook_event_id),
                'shop_crm.msg_line_event_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.party, Index.Equality())),
                Index(t,
                    (t.state, Index.Equality(cardinality='low')),
                    where=t.state.in_(['pending', 'failed'])),
                })
        cls._order = [('timestamp', 'DESC NULLS FIRST'), ('id', 'DESC')]
        cls._buttons.update({
                'process': {
                    'invisible': Eval('state') == 'done',
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'pending'

    @property
    def data(self):
        return json.loads(self.payload or '{}')

    @classmethod
    def values_from_payload(cls, channel, event):
        "Return the create values of a webhook event dictionary"
        timestamp = event.get('timestamp')
        if timestamp is not None:
            timestamp = dt.datetime.fromtimestamp(
                timestamp / 1000, dt.timezone.utc).replace(tzinfo=None)
        return {
            'webhook_event_id': event['webhookEventId'],
            'channel': channel.id,
            'company': channel.company.id,
            'type': event.get('type'),
            'timestamp': timestamp,
            'user_id': (event.get('source') or {}).get('userId'),
            'payload': json.dumps(event, separators=(',', ':')),
            'is_redelivery': bool(
                (event.get('deliveryContext') or {}).get('isRedelivery')),
            }

    @classmethod
    @ModelView.button
    def process(cls, events):
        "Process the events and mark them done or failed"
        for event in events:
            if event.state == 'done':
                continue
            try:
                getattr(event, '_process_%s' % event.type,
                    event._process_other)()
            except Exception as exception:
                logger.warning(
                    "LINE event %s failed", event.webhook_event_id,
                    exc_info=True)
                event.state = 'failed'
                event.error = str(exception)
            else:
                event.state = 'done'
                event.error = None
            event.save()

    def _process_other(self):
        pass

    def _get_contact(self, create=True):
        "Return the line contact mechanism of the event user"
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        Party = pool.get('party.party')
        if not self.user_id:
            return None
        with Transaction().set_context(active_test=False):
            contacts = ContactMechanism.search([
                    ('type', '=', 'line'),
                    ('value', '=', self.user_id),
                    ], order=[('active', 'DESC'), ('id', 'ASC')], limit=1)
        if contacts:
            contact, = contacts
            self.party = contact.party
            return contact
        if not create:
            return None
        name = self.channel.get_profile_name(self.user_id) or gettext(
            'shop_crm.msg_line_party_name', user=self.user_id[-6:])
        party = Party(name=name)
        party.contact_mechanisms = [
            ContactMechanism(type='line', value=self.user_id)]
        party.save()
        self.party = party
        contact, = party.contact_mechanisms
        return contact

    def _log(self, subject, description=None):
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        interaction = Interaction(
            company=self.company, party=self.party,
            date=self.timestamp or dt.datetime.now(), type='line',
            direction='inbound', subject=subject, description=description,
            origin=self)
        interaction.save()
        return interaction

    def _process_follow(self):
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        contact = self._get_contact()
        if not contact.active:
            contact.active = True
            ContactMechanism.save([contact])
        self._log(gettext('shop_crm.msg_line_interaction_follow'))
        Scenario = Pool().get('party.crm.line.scenario')
        Scenario.enroll('follow', [self.party], self.company)

    def _process_unfollow(self):
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        contact = self._get_contact(create=False)
        if not contact:
            return
        if contact.active:
            contact.active = False
            ContactMechanism.save([contact])
        self._log(gettext('shop_crm.msg_line_interaction_unfollow'))
        Enrollment = Pool().get('party.crm.line.scenario.enrollment')
        Enrollment.leave([self.party])

    def _process_message(self):
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        LinkCode = pool.get('party.crm.line.link_code')
        contact = self._get_contact()
        message = self.data.get('message') or {}
        if message.get('type') == 'text':
            text = message.get('text') or ''
            code = LinkCode.find(text, self.company)
            if code and contact:
                code.link(self, contact)
                return
        else:
            text = gettext(
                'shop_crm.msg_line_message_type', type=message.get('type'))
        subject = text.splitlines()[0][:80] if text.strip() else text
        self._log(subject, description=text)
        if self.channel.create_inquiries and self.party:
            if not Inquiry.search([
                        ('company', '=', self.company.id),
                        ('party', '=', self.party.id),
                        ('state', 'in', ['draft', 'open', 'answered']),
                        ], limit=1):
                Inquiry.create([{
                            'company': self.company.id,
                            'party': self.party.id,
                            'contact': contact.id,
                            'channel': 'line',
                            'subject': subject or '-',
                            'description': text,
                            'state': 'open',
                            'opened_date': dt.datetime.now(),
                            }])

    def _process_postback(self):
        self._get_contact()
        data = (self.data.get('postback') or {}).get('data')
        self._log(
            gettext('shop_crm.msg_line_interaction_postback'),
            description=data)


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
        help="The UUID sent as X-Line-Retry-Key.")
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
    def copy(cls, messages, default=None):
        default = default.copy() if default is not None else {}
        for name in ['retry_key', 'sent_date', 'http_status', 'error']:
            default.setdefault(name, None)
        return super().copy(messages, default=default)

    @classmethod
    def validate_fields(cls, messages, field_names):
        super().validate_fields(messages, field_names)
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
        return (self.channel.id, self.text, self.payload)

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
        cls.__queue__.send(messages)

    @classmethod
    def reachable_parties(cls, parties):
        "Return the ids of parties with an active LINE contact and consent"
        pool = Pool()
        Party = pool.get('party.party')
        result = set()
        for sub_parties in grouped_slice(parties, backend.MAX_QUERY_PARAMS):
            result.update(p.id for p in Party.search([
                        ('id', 'in', [p.id for p in sub_parties]),
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
                        ('party', 'in', [p.id for p in sub_parties]),
                        ('type', '=', 'line'),
                        ('active', '=', True),
                        ], order=[('id', 'ASC')]):
                user_ids.setdefault(contact.party.id, contact.value)
        return user_ids

    @classmethod
    def send(cls, messages):
        "Send the queued messages: push for one, multicast for many"
        messages = [m for m in cls.browse(messages) if m.state == 'queued']
        reachable = cls.reachable_parties([m.party for m in messages])
        user_ids = cls._line_user_ids([m.party for m in messages])
        unreachable = [m for m in messages
            if m.party.id not in reachable or m.party.id not in user_ids]
        for message in unreachable:
            message.state = 'failed'
            message.error = gettext(
                'shop_crm.msg_line_message_unreachable',
                party=message.party.rec_name)
        cls.save(unreachable)
        groups = defaultdict(list)
        for message in messages:
            if message not in unreachable:
                groups[message._message_key()].append(message)
        for group in groups.values():
            for batch in grouped_slice(group, MULTICAST_SIZE):
                cls._send_batch(list(batch), user_ids)

    @classmethod
    def _send_batch(cls, batch, user_ids):
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        from linebot.v3.messaging import (
            MessagingApi, MulticastRequest, PushMessageRequest)
        first = batch[0]
        channel = first.channel
        retry_key = first.retry_key
        line_messages = first._line_messages()
        to = [user_ids[m.party.id] for m in batch]
        status, error = None, None
        with channel._api_client() as client:
            api = MessagingApi(client)
            for attempt in range(cls._max_attempts()):
                try:
                    if len(batch) == 1:
                        response = api.push_message_with_http_info(
                            PushMessageRequest(
                                to=to[0], messages=line_messages),
                            x_line_retry_key=retry_key,
                            _request_timeout=30)
                    else:
                        response = api.multicast_with_http_info(
                            MulticastRequest(to=to, messages=line_messages),
                            x_line_retry_key=retry_key,
                            _request_timeout=30)
                    status, error = response.status_code, None
                    break
                except Exception as exception:
                    status = getattr(exception, 'status', None)
                    error = cls._error_text(exception)
                    if status == 409:
                        # The retry key was already accepted
                        error = None
                        break
                    if status is not None and status not in RETRY_STATUSES:
                        break
                    if attempt + 1 < cls._max_attempts():
                        cls._sleep(cls._retry_delay(exception, attempt))
        now = dt.datetime.now()
        if error is None:
            cls.write(batch, {
                    'state': 'sent',
                    'sent_date': now,
                    'http_status': status,
                    'retry_key': retry_key,
                    'error': None,
                    })
            Interaction.save([Interaction(
                        company=m.company, party=m.party, date=now,
                        type='line', direction='outbound',
                        subject=(m.text or '').splitlines()[0][:80]
                        if m.text else gettext(
                            'shop_crm.msg_line_interaction_rich'),
                        description=m.text or m.payload,
                        origin=m) for m in batch])
        else:
            cls.write(batch, {
                    'state': 'failed',
                    'http_status': status,
                    'retry_key': retry_key,
                    'error': error,
                    })

    @classmethod
    def _error_text(cls, exception):
        status = getattr(exception, 'status', None)
        body = getattr(exception, 'body', None)
        if isinstance(body, bytes):
            body = body.decode('utf-8', 'replace')
        if status is not None:
            return ('%s %s' % (status, body or '')).strip()[:1000]
        return exception.__class__.__name__

    @classmethod
    def _max_attempts(cls):
        return Transaction().context.get('line_max_attempts', 5)

    @classmethod
    def _retry_delay(cls, exception, attempt):
        "Return the seconds to wait, honouring Retry-After"
        headers = getattr(exception, 'headers', None) or {}
        value = None
        for key in headers:
            if key.lower() == 'retry-after':
                value = headers[key]
        base = Transaction().context.get('line_retry_base', 1.0)
        delay = base * 2 ** attempt
        if value:
            try:
                delay = float(value)
            except ValueError:
                try:
                    date = email.utils.parsedate_to_datetime(value)
                    delay = (date - dt.datetime.now(dt.timezone.utc)
                        ).total_seconds()
                except (TypeError, ValueError):
                    pass
        return max(0, min(delay, 60))

    @classmethod
    def _sleep(cls, seconds):
        time.sleep(seconds)


class Interaction(metaclass=PoolMeta):
    __name__ = 'party.crm.interaction'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + [
            'party.crm.line.event', 'party.crm.line.message']


class Replace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('party.crm.line.event', 'party'),
            ('party.crm.line.message', 'party'),
            ('party.crm.line.scenario.enrollment', 'party'),
            ('party.crm.line.link_code', 'party'),
            ]


class Erase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Event = pool.get('party.crm.line.event')
        Message = pool.get('party.crm.line.message')
        return super().to_erase(party_id) + [
            (Event, [('party', '=', party_id)], True,
                ['payload', 'user_id'], [None, None]),
            (Message, [('party', '=', party_id)], True,
                ['text', 'payload'], ['****', None]),
            ]


class PushStart(ModelView):
    __string__ = "LINE Segment Push"
    __name__ = 'party.crm.line.push.start'
    company = fields.Many2One('company.company', "Company", required=True)
    channel = fields.Many2One(
        'party.crm.line.channel', "Channel", required=True,
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    text = fields.Text("Text", required=True)
    recipients = fields.Many2Many(
        'party.party', None, None, "Recipients", readonly=True,
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="The selected customers with an active LINE contact "
        "and marketing consent.")
    excluded = fields.Integer(
        "Excluded", readonly=True,
        help="The selected customers that cannot receive the message.")


class Push(Wizard):
    __string__ = "LINE Segment Push"
    __name__ = 'party.crm.line.push'
    start = StateView('party.crm.line.push.start',
        'shop_crm.line_push_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Send", 'send', 'tryton-ok', default=True),
            ])
    send = StateTransition()

    def _selected_parties(self):
        pool = Pool()
        Party = pool.get('party.party')
        if self.model and self.model.__name__ == 'party.party':
            return list(self.records)
        parties = []
        for record in self.records:
            # CRM lists name the customer party, sales lists customer
            party = getattr(record, 'party', None) or getattr(
                record, 'customer', None)
            if isinstance(party, Party) and party not in parties:
                parties.append(party)
        return parties

    def default_start(self, fields):
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        Channel = pool.get('party.crm.line.channel')
        company = Transaction().context.get('company')
        parties = self._selected_parties()
        reachable = Message.reachable_parties(parties)
        recipients = [p.id for p in parties if p.id in reachable]
        channels = Channel.search([('company', '=', company)], limit=2)
        return {
            'company': company,
            'channel': channels[0].id if len(channels) == 1 else None,
            'recipients': recipients,
            'excluded': len(parties) - len(recipients),
            }

    def transition_send(self):
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        parties = self._selected_parties()
        reachable = Message.reachable_parties(parties)
        messages = Message.create([{
                    'company': self.start.company.id,
                    'channel': self.start.channel.id,
                    'party': p.id,
                    'text': self.start.text,
                    } for p in parties if p.id in reachable])
        if messages:
            Message.queue(messages)
        return 'end'


class _SafeFormat(dict):
    def __missing__(self, key):
        return ''


class LineScenario(DeactivableMixin, ModelSQL, ModelView):
    __string__ = "LINE Scenario"
    __name__ = 'party.crm.line.scenario'
    name = fields.Char("Name", required=True)
    company = fields.Many2One('company.company', "Company", required=True)
    channel = fields.Many2One(
        'party.crm.line.channel', "Channel", required=True,
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    trigger = fields.Selection([
            ('follow', "Follow"),
            ('first_sale', "First Sale Confirmed"),
            ('category_sale', "Sale in Category"),
            ('segment', "Entering Segment"),
            ('repurchase_due', "Repurchase Due"),
            ], "Trigger", required=True)
    category = fields.Many2One(
        'product.category', "Category",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        states={
            'invisible': Eval('trigger') != 'category_sale',
            'required': Eval('trigger') == 'category_sale',
            })
    segment = fields.Selection(
        SEGMENTS, "Segment",
        states={
            'invisible': Eval('trigger') != 'segment',
            'required': Eval('trigger') == 'segment',
            })
    repurchase_days = fields.Integer(
        "Repurchase Days",
        domain=['OR',
            ('repurchase_days', '=', None),
            ('repurchase_days', '>=', 0),
            ],
        states={
            'invisible': Eval('trigger') != 'repurchase_due',
            'required': Eval('trigger') == 'repurchase_due',
            },
        help="Enroll the customers expected to buy within this many days.")
    steps = fields.One2Many(
        'party.crm.line.scenario.step', 'scenario', "Steps")
    enrollments = fields.One2Many(
        'party.crm.line.scenario.enrollment', 'scenario', "Enrollments",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_repurchase_days(cls):
        return 7

    @classmethod
    def _now(cls):
        return Transaction().context.get('line_now') or dt.datetime.now()

    @classmethod
    def enroll(cls, trigger, parties, company, category_ids=None):
        "Enroll the parties in the active scenarios of the trigger"
        pool = Pool()
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        domain = [
            ('trigger', '=', trigger),
            ('company', '=', int(company)),
            ]
        if trigger == 'category_sale':
            domain.append(('category', 'in', list(category_ids or [])))
        scenarios = cls.search(domain)
        if not scenarios or not parties:
            return []
        existing = {(e.scenario.id, e.party.id) for e in Enrollment.search([
                    ('scenario', 'in', [s.id for s in scenarios]),
                    ('party', 'in', [int(p) for p in parties]),
                    ])}
        now = cls._now()
        to_create = []
        for scenario in scenarios:
            for party in parties:
                key = (scenario.id, int(party))
                if key not in existing:
                    existing.add(key)
                    to_create.append({
                            'scenario': scenario.id,
                            'company': scenario.company.id,
                            'party': int(party),
                            'entry_date': now,
                            })
        return Enrollment.create(to_create)

    @classmethod
    def run(cls):
        "Enroll list triggers and send the due steps (cron)"
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        RepurchaseDue = pool.get('party.crm.repurchase_due')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        company = Transaction().context.get('company')
        if company is None:
            return
        for scenario in cls.search([
                    ('company', '=', company),
                    ('trigger', 'in', ['segment', 'repurchase_due']),
                    ]):
            if scenario.trigger == 'segment':
                parties = [e.party for e in Engagement.search([
                            ('company', '=', company),
                            ('segment', '=', scenario.segment),
                            ])]
            else:
                with Transaction().set_context(
                        company=company, days=scenario.repurchase_days):
                    parties = [r.party for r in RepurchaseDue.search([])]
            cls.enroll(scenario.trigger, parties, company)
        Enrollment.send_due(Enrollment.search([
                    ('company', '=', company),
                    ('state', '=', 'running'),
                    ]))


class LineScenarioStep(ModelSQL, ModelView):
    __string__ = "LINE Scenario Step"
    __name__ = 'party.crm.line.scenario.step'
    scenario = fields.Many2One(
        'party.crm.line.scenario', "Scenario", required=True,
        ondelete='CASCADE')
    sequence = fields.Integer("Sequence")
    delay = fields.TimeDelta(
        "Delay", required=True,
        help="The time after the entry in the scenario to send the step.")
    text = fields.Text(
        "Text", required=True,
        help="Placeholders: {name}, {last_product}, "
        "{preferred_category}.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('scenario')
        cls._order = [
            ('scenario', 'ASC'), ('sequence', 'ASC NULLS FIRST'),
            ('delay', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_delay(cls):
        return dt.timedelta()

    def render(self, party):
        pool = Pool()
        SaleLine = pool.get('sale.line')
        Preference = pool.get('party.crm.preference')
        values = _SafeFormat(party_placeholders(party))
        lines = SaleLine.search([
                ('sale.party', '=', party.id),
                ('sale.state', 'in', ['confirmed', 'processing', 'done']),
                ('type', '=', 'line'),
                ('product', '!=', None),
                ], order=[('sale.sale_date', 'DESC'), ('id', 'DESC')],
            limit=1)
        if lines:
            values['last_product'] = lines[0].product.rec_name
        preferences = Preference.search([
                ('party', '=', party.id),
                ('kind', '=', 'like'),
                ('category', '!=', None),
                ], limit=1)
        if preferences:
            values['preferred_category'] = (
                preferences[0].category.rec_name)
        try:
            return self.text.format_map(values)
        except (ValueError, IndexError, AttributeError, KeyError):
            return self.text


class LineScenarioEnrollment(ModelSQL, ModelView):
    __string__ = "LINE Scenario Enrollment"
    __name__ = 'party.crm.line.scenario.enrollment'
    scenario = fields.Many2One(
        'party.crm.line.scenario', "Scenario", required=True,
        readonly=True, ondelete='CASCADE')
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    party = fields.Many2One(
        'party.party', "Party", required=True, readonly=True,
        ondelete='CASCADE',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    entry_date = fields.DateTime("Entry Date", required=True, readonly=True)
    last_step = fields.Many2One(
        'party.crm.line.scenario.step', "Last Step", readonly=True,
        ondelete='SET NULL')
    state = fields.Selection([
            ('running', "Running"),
            ('done', "Done"),
            ('left', "Left"),
            ], "State", required=True, readonly=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('scenario_party_unique', Unique(t, t.scenario, t.party),
                'shop_crm.msg_line_enrollment_unique'),
            ]
        cls._sql_indexes.add(
            Index(t,
                (t.state, Index.Equality(cardinality='low')),
                where=t.state == 'running'))
        cls._order = [('entry_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'running'

    @classmethod
    def leave(cls, parties):
        "Stop the running scenarios of the parties"
        enrollments = cls.search([
                ('party', 'in', [int(p) for p in parties]),
                ('state', '=', 'running'),
                ])
        cls.write(enrollments, {'state': 'left'})

    @classmethod
    def send_due(cls, enrollments):
        "Create and queue the messages of the steps that are due"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        Scenario = pool.get('party.crm.line.scenario')
        now = Scenario._now()
        reachable = Message.reachable_parties([e.party for e in enrollments])
        messages, to_save = [], []
        for enrollment in enrollments:
            if enrollment.state != 'running':
                continue
            if enrollment.party.id not in reachable:
                enrollment.state = 'left'
                to_save.append(enrollment)
                continue
            steps = list(enrollment.scenario.steps)
            if enrollment.last_step in steps:
                steps = steps[steps.index(enrollment.last_step) + 1:]
            elif enrollment.last_step:
                steps = []
            for step in steps:
                if enrollment.entry_date + step.delay > now:
                    break
                messages.append(Message(
                        company=enrollment.company,
                        channel=enrollment.scenario.channel,
                        party=enrollment.party,
                        text=step.render(enrollment.party)))
                enrollment.last_step = step
            if (not steps or enrollment.last_step == steps[-1]):
                enrollment.state = 'done'
            to_save.append(enrollment)
        cls.save(to_save)
        Message.save(messages)
        if messages:
            Message.queue(messages)
        return messages


class Sale(metaclass=PoolMeta):
    __name__ = 'sale.sale'

    @classmethod
    def confirm(cls, sales):
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        to_check = [s for s in sales if s.state != 'confirmed']
        super().confirm(sales)
        confirmed = [s for s in to_check if s.state == 'confirmed']
        by_company = defaultdict(list)
        for sale in confirmed:
            by_company[sale.company].append(sale)
        for company, company_sales in by_company.items():
            parties = {s.party for s in company_sales}
            previous = {s.party for s in cls.search([
                        ('company', '=', company.id),
                        ('party', 'in', [p.id for p in parties]),
                        ('state', 'in', ['confirmed', 'processing', 'done']),
                        ('id', 'not in', [s.id for s in company_sales]),
                        ])}
            Scenario.enroll(
                'first_sale', [p for p in parties if p not in previous],
                company)
            for sale in company_sales:
                category_ids = set()
                for line in sale.lines:
                    if getattr(line, 'product', None):
                        category_ids.update(
                            c.id for c in
                            line.product.template.categories_all)
                if category_ids:
                    Scenario.enroll(
                        'category_sale', [sale.party], company,
                        category_ids=category_ids)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('party.crm.line.scenario|run', "Send LINE Scenario Steps"))


LINK_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'
LINK_CODE_LENGTH = 8
LINK_CODE_VALIDITY = dt.timedelta(days=1)


class LineLinkCode(ModelSQL, ModelView):
    __string__ = "LINE Link Code"
    __name__ = 'party.crm.line.link_code'
    _rec_name = 'code'
    code = fields.Char("Code", required=True, readonly=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    party = fields.Many2One(
        'party.party', "Party", required=True, readonly=True,
        ondelete='CASCADE',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    expiration_date = fields.DateTime(
        "Expiration Date", required=True, readonly=True)
    used_date = fields.DateTime("Used Date", readonly=True)
    event = fields.Many2One(
        'party.crm.line.event', "Event", readonly=True, ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'shop_crm.msg_line_link_code_unique'),
            ]
        cls._order = [('expiration_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def _now(cls):
        return Transaction().context.get('line_now') or dt.datetime.now()

    @classmethod
    def generate(cls, party, company):
        "Return a new one-time link code for the party"
        while True:
            code = ''.join(secrets.choice(LINK_CODE_ALPHABET)
                for _ in range(LINK_CODE_LENGTH))
            if not cls.search([('code', '=', code)], limit=1):
                break
        link_code = cls(
            code=code, company=company, party=party,
            expiration_date=cls._now() + LINK_CODE_VALIDITY)
        link_code.save()
        return link_code

    @classmethod
    def find(cls, text, company):
        "Return the unused and valid link code of the text or None"
        text = (text or '').strip().upper().replace(' ', '')
        if (len(text) != LINK_CODE_LENGTH
                or set(text) - set(LINK_CODE_ALPHABET)):
            return None
        codes = cls.search([
                ('code', '=', text),
                ('company', '=', int(company)),
                ('used_date', '=', None),
                ('expiration_date', '>', cls._now()),
                ], limit=1)
        if codes:
            code, = codes
            return code

    def link(self, event, contact):
        "Move the LINE friend of the event onto the party of the code"
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        Event = pool.get('party.crm.line.event')
        Interaction = pool.get('party.crm.interaction')
        Inquiry = pool.get('party.crm.inquiry')
        Message = pool.get('party.crm.line.message')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        Party = pool.get('party.party')
        source, target = contact.party, self.party
        if source != target:
            with Transaction().set_context(active_test=False):
                # The party of a contact mechanism cannot change
                new_contact, = ContactMechanism.copy(
                    [contact], default={'party': target.id})
                for Model in [Event, Interaction, Inquiry, Message]:
                    records = Model.search([('party', '=', source.id)])
                    if records:
                        Model.write(records, {'party': target.id})
                inquiries = Inquiry.search([('contact', '=', contact.id)])
                if inquiries:
                    Inquiry.write(inquiries, {'contact': new_contact.id})
                ContactMechanism.delete([contact])
                enrollments = Enrollment.search([
                        ('party', '=', source.id)])
                existing = {e.scenario for e in Enrollment.search([
                            ('party', '=', target.id)])}
                Enrollment.delete(
                    [e for e in enrollments if e.scenario in existing])
                Enrollment.write(
                    [e for e in enrollments if e.scenario not in existing],
                    {'party': target.id})
                if not ContactMechanism.search([
                            ('party', '=', source.id)], limit=1):
                    Party.write([source], {'active': False})
        event.party = target
        self.used_date = self._now()
        self.event = event
        self.save()
        event._log(gettext(
                'shop_crm.msg_line_interaction_linked',
                party=target.rec_name))


class LinkCodeShow(ModelView):
    __string__ = "LINE Link Code"
    __name__ = 'party.crm.line.link_code.show'
    code = fields.Char("Code", readonly=True)
    expiration_date = fields.DateTime("Expiration Date", readonly=True)


class LinkCodeWizard(Wizard):
    __string__ = "LINE Link Code"
    __name__ = 'party.crm.line.link_code.create'
    start = StateTransition()
    show = StateView('party.crm.line.link_code.show',
        'shop_crm.line_link_code_show_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def transition_start(self):
        pool = Pool()
        LinkCode = pool.get('party.crm.line.link_code')
        company = Transaction().context.get('company')
        link_code = LinkCode.generate(self.record, company)
        self.show.code = link_code.code
        self.show.expiration_date = link_code.expiration_date
        return 'show'

    def default_show(self, fields):
        return {
            'code': self.show.code,
            'expiration_date': self.show.expiration_date,
            }
