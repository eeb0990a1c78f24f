# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""LINE webhook events: validation, storage and one handler per type."""
import datetime as dt
import hashlib
import json
import logging
import re
from contextlib import contextmanager

from sql import Select

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.model.modelsql import SQLConstraintError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .line_channel import TEXT_MAX_LENGTH

logger = logging.getLogger(__name__)

EVENT_ID = re.compile(r'[0-9A-Za-z_-]{1,64}')
USER_ID = re.compile(r'U[0-9a-f]{32}')
EVENT_TYPE = re.compile(r'[A-Za-z]{1,64}')
# 2000-01-01 to 2100-01-01 in milliseconds
TIMESTAMP_RANGE = (946684800000, 4102444800000)
POSTBACK_MAX_LENGTH = 300
# The size of a party name that keeps lists and letters readable
NAME_MAX_LENGTH = 100
RECEIVED_FIELDS = {
    'webhook_event_id', 'channel', 'company', 'type', 'timestamp',
    'user_id', 'payload', 'is_redelivery'}
WORKFLOW_FIELDS = {'state', 'error', 'party'}


class InvalidWebhookBody(ValueError):
    "The webhook body is not a LINE callback request"


def _bad_string(value):
    "Return the reason a received string cannot be stored, or None"
    if '\x00' in value:
        return "NUL character"
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        return "lone surrogate"


def _bad_strings(value, path='event'):
    if isinstance(value, str):
        reason = _bad_string(value)
        return reason and '%s: %s' % (path, reason)
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and _bad_string(key):
            return '%s: bad key' % path
        reason = _bad_strings(item, '%s.%s' % (path, key))
        if reason:
            return reason


def event_error(event):
    "Return why a webhook event with a valid id cannot be processed, or None"
    reason = _bad_strings(event)
    if reason:
        return reason
    type_ = event.get('type')
    if not isinstance(type_, str) or not EVENT_TYPE.fullmatch(type_):
        return "type is not an event type"
    timestamp = event.get('timestamp')
    if (not isinstance(timestamp, int) or isinstance(timestamp, bool)
            or not TIMESTAMP_RANGE[0] <= timestamp < TIMESTAMP_RANGE[1]):
        return "timestamp out of range"
    source = event.get('source')
    if source is not None and not isinstance(source, dict):
        return "source is not an object"
    user_id = (source or {}).get('userId')
    if user_id is not None and (
            not isinstance(user_id, str) or not USER_ID.fullmatch(user_id)):
        return "source.userId is not a LINE user ID"
    if type_ in LineEvent._user_event_types() and user_id is None:
        return "source.userId is missing"
    delivery = event.get('deliveryContext')
    if delivery is not None and not (isinstance(delivery, dict)
            and isinstance(delivery.get('isRedelivery', False), bool)):
        return "deliveryContext is not valid"
    if type_ == 'message':
        return _message_error(event.get('message'))
    if type_ == 'postback':
        postback = event.get('postback')
        if not isinstance(postback, dict):
            return "postback is not an object"
        data = postback.get('data')
        if not isinstance(data, str) or len(data) > POSTBACK_MAX_LENGTH:
            return "postback.data is not valid"


def _message_error(message):
    if not isinstance(message, dict):
        return "message is not an object"
    if not isinstance(message.get('type'), str):
        return "message.type is missing"
    if message['type'] == 'text':
        text = message.get('text')
        if not isinstance(text, str) or not text.strip():
            return "message.text is empty"
        if len(text) > TEXT_MAX_LENGTH:
            return "message.text is too long"


def webhook_events(data):
    "Return the events of a callback body or raise InvalidWebhookBody"
    if not isinstance(data, dict) or not isinstance(data.get('events'), list):
        raise InvalidWebhookBody("events is not a list")
    events = {}
    for event in data['events']:
        if not isinstance(event, dict):
            raise InvalidWebhookBody("event is not an object")
        event_id = event.get('webhookEventId')
        if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
            raise InvalidWebhookBody("webhookEventId is not valid")
        events.setdefault(event_id, event)
    return list(events.values())


@contextmanager
def savepoint(name):
    "Roll back the database work of the block if it raises"
    transaction = Transaction()
    connection = transaction.connection
    cursor = connection.cursor()
    if backend.name == 'sqlite' and not connection.in_transaction:
        # A savepoint outside a transaction would commit on release
        cursor.execute('BEGIN IMMEDIATE')
    cursor.execute('SAVEPOINT %s' % name)
    tasks = len(transaction.tasks)
    try:
        yield
    except BaseException:
        cursor.execute('ROLLBACK TO SAVEPOINT %s' % name)
        cursor.execute('RELEASE SAVEPOINT %s' % name)
        del transaction.tasks[tasks:]
        for cache in transaction.cache.values():
            cache.clear()
        raise
    else:
        cursor.execute('RELEASE SAVEPOINT %s' % name)


class LineEvent(Workflow, ModelSQL, ModelView):
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
        cls._transitions |= {
            ('pending', 'done'),
            ('pending', 'failed'),
            ('failed', 'done'),
            ('failed', 'failed'),
            }
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

    @classmethod
    def check_modification(cls, mode, events, values=None, external=False):
        super().check_modification(
            mode, events, values=values, external=external)
        if not external:
            return
        if mode == 'create':
            # Events are received by the webhook only
            raise AccessError(gettext('shop_crm.msg_line_event_create'))
        if mode == 'write' and set(values) & (
                RECEIVED_FIELDS | WORKFLOW_FIELDS):
            raise AccessError(gettext(
                    'shop_crm.msg_line_event_received_data'))

    @property
    def data(self):
        return json.loads(self.payload or '{}')

    @classmethod
    def _user_event_types(cls):
        return {'follow', 'unfollow', 'message', 'postback'}

    @classmethod
    def values_from_payload(cls, channel, event):
        "Return the create values of a webhook event dictionary"
        error = event_error(event)
        values = {
            'webhook_event_id': event['webhookEventId'],
            'channel': channel.id,
            'company': channel.company.id,
            'payload': json.dumps(event, separators=(',', ':')),
            }
        if error:
            values.update(state='failed', error=gettext(
                    'shop_crm.msg_line_event_invalid', reason=error))
            type_ = event.get('type')
            if isinstance(type_, str) and EVENT_TYPE.fullmatch(type_):
                values['type'] = type_
            return values
        values.update({
                'type': event['type'],
                'timestamp': dt.datetime.fromtimestamp(
                    event['timestamp'] / 1000, dt.timezone.utc
                    ).replace(tzinfo=None),
                'user_id': (event.get('source') or {}).get('userId'),
                'is_redelivery': bool(
                    (event.get('deliveryContext') or {}).get('isRedelivery')),
                })
        return values

    @classmethod
    def receive(cls, channel, data):
        """Store the new events of a webhook body and queue their processing

        Raise InvalidWebhookBody when the body is not a callback request."""
        events = webhook_events(data)
        if not events:
            return []
        ids = [e['webhookEventId'] for e in events]
        existing = {e.webhook_event_id for e in cls.search([
                    ('webhook_event_id', 'in', ids),
                    ])}
        to_create = [cls.values_from_payload(channel, e) for e in events
            if e['webhookEventId'] not in existing]
        if not to_create:
            return []
        try:
            records = cls.create(to_create)
        except (SQLConstraintError, backend.DatabaseIntegrityError):
            # A concurrent request stored the same event: retry the
            # transaction which will then skip it.
            raise backend.DatabaseOperationalError("concurrent LINE event")
        with Transaction().set_context(
                company=channel.company.id, queue_name='shop_crm_line'):
            for record in records:
                if record.state == 'pending':
                    cls.__queue__.process([record])
        return records

    @classmethod
    @ModelView.button
    def process(cls, events):
        "Process each event all or nothing, and mark it done or failed"
        for event in events:
            if event.state == 'done':
                continue
            try:
                with savepoint('line_event'):
                    event = cls(event.id)
                    event._handler()()
                    cls.save([event])
            except backend.DatabaseOperationalError:
                raise
            except Exception as exception:
                logger.warning(
                    "LINE event %s failed", event.webhook_event_id,
                    exc_info=True)
                cls.fail([cls(event.id)], str(exception)[:1000])
            else:
                cls.do([event])

    @classmethod
    @Workflow.transition('done')
    def do(cls, events):
        cls.write(events, {'error': None})

    @classmethod
    @Workflow.transition('failed')
    def fail(cls, events, error):
        cls.write(events, {'error': error})

    def _handler(self):
        "Return the method that processes the event"
        reason = event_error(self.data)
        if reason:
            raise ValueError(gettext(
                    'shop_crm.msg_line_event_invalid', reason=reason))
        return getattr(self, '_process_%s' % self.type, self._process_other)

    def _process_other(self):
        pass

    def _lock_user(self):
        "Serialize the processing of the events of one LINE user"
        transaction = Transaction()
        database = transaction.database
        if database.has_select_for():
            cursor = transaction.connection.cursor()
            key = hashlib.blake2b(
                self.user_id.encode(), digest_size=8).digest()
            cursor.execute(*Select([database.lock_id(
                            int.from_bytes(key, 'big', signed=True), True)]))

    def _get_contact(self, create=True):
        "Return the line contact mechanism of the event user"
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        if not self.user_id:
            return None
        self._lock_user()
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
        return self._create_contact()

    def _create_contact(self):
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        Party = pool.get('party.party')
        name = (self.channel.get_profile_name(self.user_id) or '').strip()
        name = name[:NAME_MAX_LENGTH] or gettext(
            'shop_crm.msg_line_party_name', user=self.user_id[-6:])
        party = Party(name=name)
        party.contact_mechanisms = [
            ContactMechanism(type='line', value=self.user_id)]
        try:
            party.save()
        except (SQLConstraintError, backend.DatabaseIntegrityError):
            # Another transaction created the friend: retry to find it
            raise backend.DatabaseOperationalError("concurrent LINE friend")
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
        Scenario = pool.get('party.crm.line.scenario')
        contact = self._get_contact()
        if not contact.active:
            contact.active = True
            ContactMechanism.save([contact])
        self._log(gettext('shop_crm.msg_line_interaction_follow'))
        Scenario.enroll('follow', [self.party], self.company)

    def _process_unfollow(self):
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        contact = self._get_contact(create=False)
        if not contact:
            return
        if contact.active:
            contact.active = False
            ContactMechanism.save([contact])
        self._log(gettext('shop_crm.msg_line_interaction_unfollow'))
        Enrollment.leave([self.party])

    def _process_message(self):
        pool = Pool()
        LinkCode = pool.get('party.crm.line.link_code')
        contact = self._get_contact()
        message = self.data['message']
        if message['type'] == 'text':
            text = message['text']
            code = LinkCode.find(text, self.company)
            if code:
                code.link(self, contact)
                return
        else:
            text = gettext(
                'shop_crm.msg_line_message_type', type=message['type'])
        subject = text.strip().splitlines()[0][:80]
        self._log(subject, description=text)
        if self.channel.create_inquiries:
            self._open_inquiry(contact, subject, text)

    def _open_inquiry(self, contact, subject, text):
        "Open an inquiry unless the party has one not yet closed"
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        if Inquiry.search([
                    ('company', '=', self.company.id),
                    ('party', '=', self.party.id),
                    ('state', 'in', ['draft', 'open', 'answered']),
                    ], limit=1):
            return
        Inquiry.create([{
                    'company': self.company.id,
                    'party': self.party.id,
                    'contact': contact.id,
                    'channel': 'line',
                    'subject': subject,
                    'description': text,
                    'state': 'open',
                    'opened_date': dt.datetime.now(),
                    }])

    def _process_postback(self):
        self._get_contact()
        data = self.data['postback']['data']
        self._log(
            gettext('shop_crm.msg_line_interaction_postback'),
            description=data)
