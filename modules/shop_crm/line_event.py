# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""LINE webhook events: validation, storage and one handler per type."""
import datetime as dt
import hashlib
import json
import logging
import re
from collections import defaultdict
from contextlib import contextmanager

from sql import Column, Conflict, Select

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.model.modelsql import SQLConstraintError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .line_channel import TEXT_MAX_LENGTH

logger = logging.getLogger(__name__)

EVENT_ID = re.compile(r'[0-9A-Za-z_-]{1,64}')
USER_ID = re.compile(r'U[0-9a-f]{32}')
EVENT_TYPE = re.compile(r'[A-Za-z]{1,64}')
# 2000-01-01 to 2100-01-01 in milliseconds
TIMESTAMP_RANGE = (946684800000, 4102444800000)
POSTBACK_MAX_LENGTH = 300
# The events processed by one queue task
EVENT_BATCH_SIZE = 100
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


def lock_users(user_ids):
    "Serialize the processing of the events of the LINE users"
    transaction = Transaction()
    database = transaction.database
    if not user_ids or not database.has_select_for():
        return
    # Always in the same order, so that two batches cannot deadlock
    keys = sorted(int.from_bytes(
            hashlib.blake2b(u.encode(), digest_size=8).digest(), 'big',
            signed=True) for u in set(user_ids))
    cursor = transaction.connection.cursor()
    cursor.execute(*Select([database.lock_id(k, True) for k in keys]))


class EventBatch:
    """What the events of one task share: their users locked, their contacts
    and the parties with an inquiry not yet closed, read once for all"""

    def __init__(self, events, defer=False):
        self.defer = defer
        self.interactions = []
        self._new_interactions = []
        self.friends = []
        self._new_friends = []
        user_ids = sorted({e.user_id for e in events if e.user_id})
        lock_users(user_ids)
        self.contacts = self._read_contacts(user_ids)
        self.inquiring = self._read_inquiring(
            [c.party.id for c in self.contacts.values()])
        self._new_inquiring = set()

    @staticmethod
    def _read_contacts(user_ids):
        ContactMechanism = Pool().get('party.contact_mechanism')
        contacts = {}
        with Transaction().set_context(active_test=False):
            for sub_ids in grouped_slice(user_ids, backend.MAX_QUERY_PARAMS):
                for contact in ContactMechanism.search([
                            ('type', '=', 'line'),
                            ('value', 'in', list(sub_ids)),
                            ], order=[('active', 'DESC'), ('id', 'ASC')]):
                    contacts.setdefault(contact.value, contact)
        return contacts

    @staticmethod
    def _read_inquiring(party_ids):
        "Return the (company, party) with an inquiry not yet closed"
        Inquiry = Pool().get('party.crm.inquiry')
        keys = set()
        for sub_ids in grouped_slice(party_ids, backend.MAX_QUERY_PARAMS):
            keys.update((i.company.id, i.party.id) for i in Inquiry.search([
                        ('party', 'in', list(sub_ids)),
                        ('state', 'in', ['draft', 'open', 'answered']),
                        ]))
        return keys

    def has_inquiry(self, company, party):
        key = (company.id, party.id)
        return key in self.inquiring or key in self._new_inquiring

    def add_inquiry(self, company, party):
        self._new_inquiring.add((company.id, party.id))

    def add_interaction(self, interaction):
        self._new_interactions.append(interaction)

    def add_friend(self, channel, party):
        "Keep the party created for a new friend, to name after the batch"
        self._new_friends.append((channel.id, party.id, party.name))

    def done(self):
        "Keep what the processed event created"
        self.inquiring |= self._new_inquiring
        self._new_inquiring.clear()
        self.interactions += self._new_interactions
        self._new_interactions = []
        self.friends += self._new_friends
        self._new_friends = []

    def refresh(self, user_id):
        "Read again what a failed or merging event may have changed"
        self._new_inquiring.clear()
        self._new_interactions = []
        self._new_friends = []
        if user_id:
            self.contacts.pop(user_id, None)
            self.contacts.update(self._read_contacts([user_id]))


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

        The events are inserted in one statement that skips the ids already
        stored, and queued by batches of EVENT_BATCH_SIZE.
        Raise InvalidWebhookBody when the body is not a callback request."""
        events = webhook_events(data)
        if not events:
            return []
        rows = cls._insert_new(
            [cls.values_from_payload(channel, e) for e in events])
        pending = [id_ for id_, state in rows if state == 'pending']
        if pending:
            with Transaction().set_context(
                    company=channel.company.id, queue_name='shop_crm_line',
                    queue_batch=EVENT_BATCH_SIZE):
                cls.__queue__.process(cls.browse(pending))
        return cls.browse([id_ for id_, _ in rows])

    @classmethod
    def _insert_new(cls, values):
        "Insert the values of the events not yet stored; return (id, state)"
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        names = ['webhook_event_id', 'channel', 'company', 'type',
            'timestamp', 'user_id', 'payload', 'is_redelivery', 'state',
            'error']
        columns = [table.create_uid, table.create_date] + [
            Column(table, n) for n in names]
        now = dt.datetime.now()
        rows = [[transaction.user, now] + [
                v.get(n, 'pending' if n == 'state' else None)
                for n in names]
            for v in values]
        conflict = None
        if database.has_insert_on_conflict():
            conflict = Conflict(
                table, indexed_columns=[table.webhook_event_id])
        if not (conflict and database.has_returning()):
            return cls._insert_checked(table, columns, rows, conflict)
        result = []
        for sub_rows in grouped_slice(
                rows, backend.MAX_QUERY_PARAMS // len(columns)):
            cursor.execute(*table.insert(columns, list(sub_rows),
                    on_conflict=conflict,
                    returning=[table.id, table.state]))
            result.extend(cursor)
        return result

    @classmethod
    def _insert_checked(cls, table, columns, rows, conflict):
        "Insert the rows whose event id is not stored, without RETURNING"
        cursor = Transaction().connection.cursor()
        select = table.select(table.id, table.state, table.webhook_event_id,
            where=table.webhook_event_id.in_([r[2] for r in rows]))
        cursor.execute(*select)
        existing = {i for _, _, i in cursor}
        rows = [r for r in rows if r[2] not in existing]
        if not rows:
            return []
        try:
            cursor.execute(*table.insert(columns, rows, on_conflict=conflict))
        except backend.DatabaseIntegrityError:
            # A concurrent request stored the same event: retry the
            # transaction which will then skip it.
            raise backend.DatabaseOperationalError("concurrent LINE event")
        cursor.execute(*select)
        return [(id_, state) for id_, state, i in cursor if i not in existing]

    @classmethod
    @ModelView.button
    def process(cls, events):
        """Process each event all or nothing, and mark it done or failed

        The contacts of the users of the events are locked and read once
        for all of them, and their interactions are created together.
        If creating them together fails, the batch is processed again with
        each interaction created with its event."""
        ids = list(map(int, events))
        try:
            with savepoint('line_batch'):
                cls._process_batch(ids, defer=True)
        except backend.DatabaseOperationalError:
            raise
        except Exception:
            logger.warning("LINE events processed one by one", exc_info=True)
            cls._process_batch(ids, defer=False)

    @classmethod
    def _process_batch(cls, ids, defer):
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        events = [e for e in cls.browse(ids) if e.state != 'done']
        batch = EventBatch(events, defer=defer)
        done = []
        for event in events:
            try:
                with savepoint('line_event'):
                    event._handler()(batch)
            except backend.DatabaseOperationalError:
                raise
            except Exception as exception:
                logger.warning(
                    "LINE event %s failed", event.webhook_event_id,
                    exc_info=True)
                batch.refresh(event.user_id)
                cls.fail([cls(event.id)], str(exception)[:1000])
            else:
                batch.done()
                done.append(event)
        Interaction.save(batch.interactions)
        cls.do(done)
        cls._queue_line_names(batch.friends)

    @classmethod
    def _queue_line_names(cls, friends):
        """Queue one task per channel to fetch the names of the new friends

        The Get Profile calls happen there, once the batch has committed and
        released the locks on its users."""
        Channel = Pool().get('party.crm.line.channel')
        by_channel = defaultdict(list)
        for channel, party, name in friends:
            by_channel[channel].append([party, name])
        with Transaction().set_context(queue_name='shop_crm_line'):
            for channel, parties in by_channel.items():
                Channel.__queue__.fetch_line_names([Channel(channel)], parties)

    @classmethod
    @Workflow.transition('done')
    def do(cls, events):
        by_party = defaultdict(list)
        for event in events:
            by_party[event.party.id if event.party else None].append(event)
        args = []
        for party, sub_events in by_party.items():
            args.extend([sub_events, {'error': None, 'party': party}])
        if args:
            cls.write(*args)

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

    def _process_other(self, batch):
        pass

    def _get_contact(self, batch, create=True):
        "Return the line contact mechanism of the event user"
        if not self.user_id:
            return None
        contact = batch.contacts.get(self.user_id)
        if contact:
            self.party = contact.party
            return contact
        if not create:
            return None
        contact = self._create_contact()
        batch.contacts[self.user_id] = contact
        batch.add_friend(self.channel, contact.party)
        return contact

    def _create_contact(self):
        "Create the party of a new friend, named until its profile is read"
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        Party = pool.get('party.party')
        party = Party(name=gettext(
                'shop_crm.msg_line_party_name', user=self.user_id[-6:]))
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

    def _log(self, subject, description=None, batch=None):
        "Log the interaction, at the end of the batch if it defers them"
        pool = Pool()
        Interaction = pool.get('party.crm.interaction')
        interaction = Interaction(
            company=self.company, party=self.party,
            date=self.timestamp or dt.datetime.now(), type='line',
            direction='inbound', subject=subject, description=description,
            origin=self)
        if batch and batch.defer:
            batch.add_interaction(interaction)
        else:
            interaction.save()
        return interaction

    def _process_follow(self, batch):
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        Scenario = pool.get('party.crm.line.scenario')
        contact = self._get_contact(batch)
        if not contact.active:
            contact.active = True
            ContactMechanism.save([contact])
        self._log(gettext('shop_crm.msg_line_interaction_follow'), batch=batch)
        Scenario.enroll('follow', [self.party], self.company)

    def _process_unfollow(self, batch):
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        contact = self._get_contact(batch, create=False)
        if not contact:
            return
        if contact.active:
            contact.active = False
            ContactMechanism.save([contact])
        self._log(
            gettext('shop_crm.msg_line_interaction_unfollow'), batch=batch)
        Enrollment.leave([self.party])

    def _process_message(self, batch):
        pool = Pool()
        LinkCode = pool.get('party.crm.line.link_code')
        contact = self._get_contact(batch)
        message = self.data['message']
        if message['type'] == 'text':
            text = message['text']
            code = LinkCode.find(text, self.company)
            if code:
                code.link(self, contact)
                batch.refresh(self.user_id)
                return
        else:
            text = gettext(
                'shop_crm.msg_line_message_type', type=message['type'])
        subject = text.strip().splitlines()[0][:80]
        self._log(subject, description=text, batch=batch)
        if self.channel.create_inquiries:
            self._open_inquiry(batch, contact, subject, text)

    def _open_inquiry(self, batch, contact, subject, text):
        "Open an inquiry unless the party has one not yet closed"
        pool = Pool()
        Inquiry = pool.get('party.crm.inquiry')
        if batch.has_inquiry(self.company, self.party):
            return
        batch.add_inquiry(self.company, self.party)
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

    def _process_postback(self, batch):
        self._get_contact(batch)
        data = self.data['postback']['data']
        self._log(
            gettext('shop_crm.msg_line_interaction_postback'),
            description=data, batch=batch)
