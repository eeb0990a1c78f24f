# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import threading
import urllib.parse
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch

from trytond import backend
from trytond.config import config
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.shop_crm.line_channel import (
    batch_retry_key, retry_delay)
from trytond.modules.shop_crm.line_event import EVENT_ID
from trytond.modules.shop_crm.line_message import pack
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, RouteTestCase, with_transaction)
from trytond.transaction import Transaction, check_access

SECRET = 'test-channel-secret'
TOKEN = 'test-access-token'


class FakeMessagingAPI:
    "A Messaging API on 127.0.0.1 that records requests"

    def __init__(self, token=TOKEN):
        self.token = token
        self.requests = []
        self.responses = []
        self.failing_profiles = set()
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body=None, headers=None):
                data = json.dumps(body if body is not None else {}).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self):
                return (self.headers.get('Authorization')
                    == 'Bearer %s' % api.token)

            def do_GET(self):
                if not self._authorized():
                    return self._reply(401, {'message': 'bad token'})
                prefix = '/v2/bot/profile/'
                if self.path.startswith(prefix):
                    user_id = self.path[len(prefix):]
                    with api.lock:
                        api.requests.append({
                                'method': 'GET', 'path': self.path})
                    if user_id in api.failing_profiles:
                        return self._reply(500, {'message': 'error'})
                    return self._reply(200, {
                            'userId': user_id,
                            'displayName': 'Taro %s' % user_id[-4:],
                            })
                return self._reply(404, {'message': 'not found'})

            def do_POST(self):
                if not self._authorized():
                    return self._reply(401, {'message': 'bad token'})
                length = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(length))
                retry_key = self.headers.get('X-Line-Retry-Key')
                try:
                    uuid.UUID(retry_key)
                except (TypeError, ValueError):
                    return self._reply(400, {'message': 'retry key'})
                messages = body.get('messages')
                if (not isinstance(messages, list)
                        or not 1 <= len(messages) <= 5
                        or not all('type' in m for m in messages)):
                    return self._reply(400, {'message': 'messages'})
                if self.path == '/v2/bot/message/push':
                    if not isinstance(body.get('to'), str):
                        return self._reply(400, {'message': 'to'})
                elif self.path == '/v2/bot/message/multicast':
                    to = body.get('to')
                    if (not isinstance(to, list)
                            or not 1 <= len(to) <= 500):
                        return self._reply(400, {'message': 'to'})
                else:
                    return self._reply(404, {'message': 'not found'})
                with api.lock:
                    api.requests.append({
                            'method': 'POST', 'path': self.path,
                            'retry_key': retry_key, 'body': body})
                    response = (
                        api.responses.pop(0) if api.responses else None)
                if response:
                    status, headers = response
                    return self._reply(
                        status, {'message': 'fake %s' % status}, headers)
                if self.path.endswith('/push'):
                    return self._reply(200, {'sentMessages': [
                                {'id': '1', 'quoteToken': 'q'}]})
                return self._reply(200, {})

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return 'http://127.0.0.1:%s' % self.server.server_address[1]

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def posts(self):
        return [r for r in self.requests if r['method'] == 'POST']


def sign(body, secret=SECRET):
    return base64.b64encode(
        hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event(type_, user_id, event_id=None, **extra):
    data = {
        'type': type_,
        'mode': 'active',
        'timestamp': 1767225600000,
        'source': {'type': 'user', 'userId': user_id},
        'webhookEventId': event_id or uuid.uuid4().hex.upper()[:26],
        'deliveryContext': {'isRedelivery': False},
        }
    if type_ in {'follow', 'message', 'postback'}:
        data['replyToken'] = uuid.uuid4().hex
    if type_ == 'follow':
        data['follow'] = {'isUnblocked': False}
    data.update(extra)
    return data


def user_id():
    return 'U' + uuid.uuid4().hex


class FakeMessagingAPITestMixin:
    "Run a fake Messaging API for the test case, emptied before each test"

    @classmethod
    def setUpClass(cls):
        cls.api = FakeMessagingAPI()
        cls.api.start()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.api.stop()

    def setUp(self):
        super().setUp()
        self.api.requests.clear()
        self.api.responses.clear()
        self.api.failing_profiles.clear()


class LineTestCase(FakeMessagingAPITestMixin, RouteTestCase):
    "Test LINE channel of Shop CRM"
    module = 'shop_crm'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Channel = pool.get('party.crm.line.channel')
        company = create_company()
        cls.company_id = company.id
        channel, = Channel.create([{
                    'name': "Shop",
                    'company': company.id,
                    'channel_secret': SECRET,
                    'access_token': TOKEN,
                    'api_url': cls.api.url,
                    'create_inquiries': True,
                    }])
        cls.identifier = channel.identifier
        cls.channel_id = channel.id

    def setUp(self):
        super().setUp()
        # Each test runs only the LINE tasks it queued
        with Transaction().start(self.db_name, 0) as transaction:
            Queue = Pool().get('ir.queue')
            Queue.delete(Queue.search([
                        ('name', '=', 'shop_crm_line'),
                        ('dequeued_at', '=', None),
                        ]))
            transaction.tasks.clear()
            transaction.commit()

    def url(self, identifier=None):
        return '/%s/shop_crm/line/%s/webhook' % (
            self.db_name, identifier or self.identifier)

    def post(self, events, secret=SECRET, signature=None, identifier=None,
            body=None):
        if body is None:
            body = json.dumps({
                    'destination': 'U' + '0' * 32,
                    'events': events,
                    }).encode()
        headers = {'Content-Type': 'application/json'}
        if signature is None and secret:
            signature = sign(body, secret)
        if signature:
            headers['X-Line-Signature'] = signature
        return self.client().post(
            self.url(identifier), data=body, headers=headers)

    def search(self, model, domain):
        with Transaction().start(self.db_name, 0, context={
                    'active_test': False}):
            Model = Pool().get(model)
            return [r.id for r in Model.search(domain)]

    def read(self, model, ids, names):
        with Transaction().start(self.db_name, 0, context={
                    'active_test': False}):
            Model = Pool().get(model)
            return Model.read(ids, names)

    @with_transaction()
    def test_webhook_url(self):
        "Test the webhook URL of the channel"
        pool = Pool()
        Channel = pool.get('party.crm.line.channel')
        channel = Channel(self.channel_id)
        self.assertTrue(channel.webhook_url.endswith(
                '/%s/shop_crm/line/%s/webhook' % (
                    urllib.parse.quote(DB_NAME), self.identifier)))
        self.assertEqual(len(self.identifier), 32)

    def test_connectivity_check(self):
        "Test an empty event list answers 200"
        response = self.post([])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json, {})

    def test_signature_errors(self):
        "Test forged, missing and wrong-channel signatures"
        uid = user_id()
        events = [event('follow', uid)]
        for kwargs, status in [
                ({'signature': 'Zm9yZ2Vk'}, 401),
                ({'secret': None}, 400),
                ({'secret': 'another-channel-secret'}, 401),
                ({'identifier': 'unknown'}, 404),
                ]:
            with self.subTest(**kwargs):
                response = self.post(events, **kwargs)
                self.assertEqual(response.status_code, status)
                self.assertIn('error', response.json)
                self.assertNotIn(SECRET, response.get_data(as_text=True))
        self.assertEqual(self.search('party.crm.line.event', [
                    ('user_id', '=', uid)]), [])

    def test_malformed_bodies(self):
        "Test malformed and oversize bodies are refused"
        for body, status in [
                (b'{not json', 400),
                (b'{"destination": "x"}', 400),
                (b'{"events": [{"type": "follow"}]}', 400),
                (b'\xff\xfe', 400),
                (b'{"events": []}' + b' ' * (1024 * 1024), 413),
                ]:
            with self.subTest(body=body[:20]):
                response = self.post(None, body=body)
                self.assertEqual(response.status_code, status)
                self.assertIn('error', response.json)

    def test_follow_message_postback_unfollow(self):
        "Test a friend's follow, message, postback and unfollow"
        uid = user_id()
        response = self.post([event('follow', uid)])
        self.assertEqual(response.status_code, 200)

        contact_ids = self.search('party.contact_mechanism', [
                ('type', '=', 'line'), ('value', '=', uid)])
        self.assertEqual(len(contact_ids), 1)
        contact, = self.read(
            'party.contact_mechanism', contact_ids, ['party', 'active'])
        self.assertTrue(contact['active'])
        party_id = contact['party']
        party, = self.read('party.party', [party_id], ['name'])
        self.assertEqual(party['name'], 'Taro %s' % uid[-4:])
        event_ids = self.search('party.crm.line.event', [
                ('user_id', '=', uid)])
        event_, = self.read(
            'party.crm.line.event', event_ids, ['state', 'party', 'type'])
        self.assertEqual(event_['state'], 'done')
        self.assertEqual(event_['party'], party_id)

        response = self.post([event('message', uid, message={
                        'type': 'text', 'id': '1', 'quoteToken': 'q',
                        'text': "Is the red one in stock?"})])
        self.assertEqual(response.status_code, 200)
        inquiry_ids = self.search('party.crm.inquiry', [
                ('party', '=', party_id)])
        inquiry, = self.read('party.crm.inquiry', inquiry_ids,
            ['channel', 'state', 'subject'])
        self.assertEqual(inquiry['channel'], 'line')
        self.assertEqual(inquiry['state'], 'open')
        self.assertEqual(inquiry['subject'], "Is the red one in stock?")

        # A second message does not open another inquiry
        self.post([event('message', uid, message={
                        'type': 'text', 'id': '2', 'quoteToken': 'q',
                        'text': "Thanks"})])
        self.assertEqual(len(self.search('party.crm.inquiry', [
                        ('party', '=', party_id)])), 1)

        self.post([event('postback', uid, postback={'data': 'coupon=10'})])

        response = self.post([event('unfollow', uid)])
        self.assertEqual(response.status_code, 200)
        contact, = self.read(
            'party.contact_mechanism', contact_ids, ['active'])
        self.assertFalse(contact['active'])

        interaction_ids = self.search('party.crm.interaction', [
                ('party', '=', party_id)])
        interactions = self.read('party.crm.interaction', interaction_ids,
            ['type', 'direction', 'description', 'origin'])
        self.assertEqual(len(interactions), 5)
        self.assertTrue(all(i['type'] == 'line' for i in interactions))
        self.assertTrue(all(i['direction'] == 'inbound'
                for i in interactions))
        self.assertTrue(all(i['origin'].startswith('party.crm.line.event,')
                for i in interactions))
        self.assertIn('coupon=10', [i['description'] for i in interactions])

        # A re-follow reactivates the same contact
        self.post([event('follow', uid, follow={'isUnblocked': True})])
        contact, = self.read(
            'party.contact_mechanism', contact_ids, ['active', 'party'])
        self.assertTrue(contact['active'])
        self.assertEqual(contact['party'], party_id)

    def test_follow_profile_failure(self):
        "Test a fallback name when the profile call fails"
        uid = user_id()
        self.api.failing_profiles.add(uid)
        with self.worker():
            self.post([event('follow', uid)])
            self._run_tasks('party.crm.line.event', 'process')
            self.assertEqual(
                self._friend_name(uid), 'LINE Friend %s' % uid[-6:])
            with self.assertLogs(
                    'trytond.modules.shop_crm.line_channel', 'INFO') as logs:
                self._run_tasks('party.crm.line.channel', 'fetch_line_names')
        self.assertEqual(self._profile_calls([uid]), [uid])
        self.assertIn("LINE profile of %s" % uid, logs.output[0])
        self.assertEqual(self._friend_name(uid), 'LINE Friend %s' % uid[-6:])

    def test_other_event_type(self):
        "Test other event types are stored and done"
        uid = user_id()
        response = self.post([event(
                    'beacon', uid,
                    beacon={'hwid': 'd41d8cd98f', 'type': 'enter'}),
                {**event('somethingNew', uid), 'foo': 1}])
        self.assertEqual(response.status_code, 200)
        ids = self.search('party.crm.line.event', [('user_id', '=', uid)])
        events = self.read('party.crm.line.event', ids, ['state'])
        self.assertEqual([e['state'] for e in events], ['done', 'done'])

    def test_duplicate_event(self):
        "Test the same event id twice is stored and processed once"
        uid = user_id()
        follow = event('follow', uid)
        redelivered = dict(follow, deliveryContext={'isRedelivery': True})
        for events in [[follow], [redelivered], [follow, follow]]:
            response = self.post(events)
            self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self.search('party.crm.line.event', [
                        ('webhook_event_id', '=',
                            follow['webhookEventId'])])), 1)
        self.assertEqual(len(self.search('party.contact_mechanism', [
                        ('value', '=', uid)])), 1)
        self.assertEqual(len(self.search('party.crm.interaction', [
                        ('party.contact_mechanisms.value', '=', uid)])), 1)

    def test_duplicate_event_concurrent(self):
        "Test the same event id from two threads is stored once"
        if backend.name == 'sqlite' and DB_NAME == ':memory:':
            self.skipTest("in-memory SQLite is per thread")
        uid = user_id()
        follow = event('follow', uid)
        statuses = []
        barrier = threading.Barrier(2)

        def run():
            barrier.wait()
            statuses.append(self.post([follow]).status_code)
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(statuses, [200, 200])
        self.assertEqual(len(self.search('party.crm.line.event', [
                        ('webhook_event_id', '=',
                            follow['webhookEventId'])])), 1)
        self.assertEqual(len(self.search('party.contact_mechanism', [
                        ('value', '=', uid)])), 1)

    @with_transaction()
    def test_duplicate_event_race(self):
        "Test a body stored in part returns and queues only its new events"
        pool = Pool()
        Event = pool.get('party.crm.line.event')
        Channel = pool.get('party.crm.line.channel')
        transaction = Transaction()
        channel = Channel(self.channel_id)
        first, second, third = [event('follow', user_id()) for _ in range(3)]
        stored = Event.receive(channel, {'events': [first, second]})
        transaction.tasks.clear()
        records = Event.receive(channel, {'events': [second, third, first]})
        self.assertEqual(
            [r.webhook_event_id for r in records],
            [third['webhookEventId']])
        self.assertEqual(len(transaction.tasks), 1)
        self.assertEqual(Event.search([
                    ('webhook_event_id', 'in', [
                            e['webhookEventId']
                            for e in [first, second, third]]),
                    ], count=True), 3)
        self.assertEqual(len(stored), 2)
        transaction.tasks.clear()

    def test_link_code(self):
        "Test a friend sending a link code is merged onto the party"
        with Transaction().start(self.db_name, 0) as transaction:
            pool = Pool()
            Party = pool.get('party.party')
            LinkCode = pool.get('party.crm.line.link_code')
            customer = Party(name="Existing Customer")
            customer.save()
            code = LinkCode.generate(customer, self.company_id).code
            customer_id = customer.id
            transaction.commit()
        uid = user_id()
        self.post([event('follow', uid)])
        friend_id, = self.search('party.contact_mechanism', [
                ('value', '=', uid)])
        friend, = self.read(
            'party.contact_mechanism', [friend_id], ['party'])
        source_id = friend['party']
        self.assertNotEqual(source_id, customer_id)

        response = self.post([event('message', uid, message={
                        'type': 'text', 'id': '1', 'quoteToken': 'q',
                        'text': " %s " % code.lower()})])
        self.assertEqual(response.status_code, 200)
        contact, = self.read('party.contact_mechanism', self.search(
                'party.contact_mechanism', [('value', '=', uid)]),
            ['party', 'active'])
        self.assertEqual(contact['party'], customer_id)
        self.assertTrue(contact['active'])
        events = self.read('party.crm.line.event', self.search(
                'party.crm.line.event', [('user_id', '=', uid)]),
            ['party', 'state'])
        self.assertEqual(len(events), 2)
        self.assertEqual({e['party'] for e in events}, {customer_id})
        self.assertEqual(len(self.search('party.crm.interaction', [
                        ('party', '=', customer_id)])), 2)
        self.assertEqual(self.search('party.crm.inquiry', [
                    ('party', 'in', [customer_id, source_id])]), [])
        source, = self.read('party.party', [source_id], ['active'])
        self.assertFalse(source['active'])

        # The code is one-time
        uid2 = user_id()
        self.post([event('message', uid2, message={
                        'type': 'text', 'id': '2', 'quoteToken': 'q',
                        'text': code})])
        other, = self.read('party.contact_mechanism', self.search(
                'party.contact_mechanism', [('value', '=', uid2)]),
            ['party'])
        self.assertNotEqual(other['party'], customer_id)

    def _message_setup(self, count=1, consent=True):
        pool = Pool()
        Party = pool.get('party.party')
        parties = Party.create([{
                    'name': "Customer %s" % i,
                    'marketing_consent': consent,
                    'contact_mechanisms': [('create', [{
                                    'type': 'line',
                                    'value': user_id(),
                                    }])],
                    } for i in range(count)])
        return parties

    def _messages(self, parties, text="Hello"):
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        return Message.create([{
                    'company': self.company_id,
                    'channel': self.channel_id,
                    'party': p.id,
                    'text': text,
                    } for p in parties])

    @with_transaction()
    def test_push_one(self):
        "Test push of one message logs an outbound interaction"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        Interaction = pool.get('party.crm.interaction')
        party, = self._message_setup()
        message, = self._messages([party])
        Message.queue([message])
        Message.send([message])
        self.assertEqual(message.state, 'sent')
        self.assertEqual(message.http_status, 200)
        request, = self.api.posts()
        self.assertEqual(request['path'], '/v2/bot/message/push')
        self.assertEqual(
            request['retry_key'], batch_retry_key([message.retry_key]))
        self.assertEqual(
            request['body']['to'], party.contact_mechanisms[0].value)
        self.assertEqual(
            request['body']['messages'], [{'type': 'text', 'text': "Hello"}])
        interaction, = Interaction.search([('party', '=', party.id)])
        self.assertEqual(interaction.direction, 'outbound')
        self.assertEqual(interaction.type, 'line')
        self.assertEqual(interaction.origin, message)

    @with_transaction()
    def test_send_without_consent_or_contact(self):
        "Test no message goes to a party without consent or active contact"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        ContactMechanism = pool.get('party.contact_mechanism')
        no_consent, = self._message_setup(consent=False)
        blocked, = self._message_setup()
        ContactMechanism.write(list(blocked.contact_mechanisms), {
                'active': False})
        messages = self._messages([no_consent, blocked])
        Message.queue(messages)
        Message.send(messages)
        self.assertEqual([m.state for m in messages], ['failed', 'failed'])
        self.assertEqual(self.api.posts(), [])

    @with_transaction()
    def test_multicast_batches(self):
        "Test 1,200 recipients are sent in 3 multicast calls"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        parties = self._message_setup(1200)
        messages = self._messages(parties)
        Message.queue(messages)
        Message.send(messages)
        posts = self.api.posts()
        self.assertEqual(len(posts), 3)
        self.assertEqual(
            [len(p['body']['to']) for p in posts], [500, 500, 200])
        self.assertTrue(all(
                p['path'] == '/v2/bot/message/multicast' for p in posts))
        self.assertEqual(len({p['retry_key'] for p in posts}), 3)
        self.assertEqual({m.state for m in messages}, {'sent'})

    def _send_tasks(self):
        pool = Pool()
        Queue = pool.get('ir.queue')
        return [t for t in Queue.search([], order=[('id', 'ASC')])
            if t.data['model'] == 'party.crm.line.message'
            and t.data['method'] == 'send']

    def assertScheduledIn(self, task, before, seconds):
        delay = (task.scheduled_at - before).total_seconds()
        self.assertGreaterEqual(delay, seconds)
        self.assertLess(delay, seconds + 1)

    @with_transaction()
    def test_retry_same_key(self):
        "Test 429 and 500 are queued again after Retry-After, same key"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        party, = self._message_setup()
        message, = self._messages([party])
        self.api.responses.extend([
                (429, {'Retry-After': '7'}), (500, {})])
        Message.queue([message])
        with patch('time.sleep') as sleep, \
                Transaction().set_context(line_retry_base=0.5):
            first, = self._send_tasks()
            self.assertEqual(list(first.data['args']), [0])
            before = dt.datetime.now()
            Message.send([message])
            self.assertEqual(message.state, 'queued')
            self.assertEqual(message.http_status, 429)
            _, second = self._send_tasks()
            self.assertEqual(list(second.data['instances']), [message.id])
            self.assertEqual(list(second.data['args']), [1])
            self.assertScheduledIn(second, before, 7)

            before = dt.datetime.now()
            Message.send([message], 1)
            _, _, third = self._send_tasks()
            self.assertEqual(list(third.data['args']), [2])
            # no Retry-After: 0.5 * 2 ** 1
            self.assertScheduledIn(third, before, 1)
            Message.send([message], 2)
        sleep.assert_not_called()
        posts = self.api.posts()
        self.assertEqual(len(posts), 3)
        self.assertEqual({p['retry_key'] for p in posts},
            {batch_retry_key([message.retry_key])})
        self.assertEqual(message.state, 'sent')
        self.assertEqual(len(self._send_tasks()), 3)

    def test_retry_policy(self):
        "Test the retry delay honours Retry-After in seconds and as a date"
        now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        self.assertEqual(retry_delay('7', 3), 7)
        self.assertEqual(retry_delay(None, 0), 1)
        self.assertEqual(retry_delay(None, 3, base=0.5), 4)
        self.assertEqual(retry_delay(
                'Thu, 01 Jan 2026 00:00:30 GMT', 0, now=now), 30)
        self.assertEqual(retry_delay('soon', 2), 4)
        self.assertEqual(retry_delay('-5', 0), 0)

    def test_batch_retry_key(self):
        "Test the retry key depends on the whole batch, not its order"
        self.assertEqual(
            batch_retry_key(['a', 'b']), batch_retry_key(['b', 'a']))
        self.assertNotEqual(
            batch_retry_key(['a', 'b']), batch_retry_key(['a']))
        uuid.UUID(batch_retry_key(['a']))

    def test_pack(self):
        "Test groups are packed into batches of at most 500"
        batches = pack([[1] * 700, [2] * 3, [3] * 499, [4]])
        self.assertEqual([len(b) for b in batches], [500, 203, 500])
        self.assertEqual(batches[2], [3] * 499 + [4])

    @with_transaction()
    def test_conflict_is_sent(self):
        "Test a 409 for a reused retry key counts as sent"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        party, = self._message_setup()
        message, = self._messages([party])
        self.api.responses.append((409, {}))
        Message.queue([message])
        Message.send([message])
        self.assertEqual(message.state, 'sent')

    @with_transaction()
    def test_retry_exhausted_and_client_error(self):
        "Test failures keep the status and error"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        party, = self._message_setup()
        message, = self._messages([party])
        self.api.responses.extend([(500, {})] * 5)
        Message.queue([message])
        for attempt in range(5):
            self.assertEqual(message.state, 'queued')
            Message.send([message], attempt)
        self.assertEqual(message.state, 'failed')
        self.assertEqual(message.http_status, 500)
        self.assertEqual(len(self.api.posts()), 5)
        self.assertNotIn(TOKEN, message.error)

        self.api.requests.clear()
        self.api.responses.append((400, {}))
        Message.draft([message])
        Message.queue([message])
        Message.send([message])
        self.assertEqual(message.state, 'failed')
        self.assertEqual(message.http_status, 400)
        self.assertEqual(len(self.api.posts()), 1)

    @with_transaction()
    def test_personalised_texts(self):
        "Test the same text is multicast and different texts are pushed"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        parties = self._message_setup(4)
        messages = (self._messages(parties[:3], "Sale")
            + self._messages(parties[3:], "Hello Customer 3"))
        Message.queue(messages)
        self.assertEqual(len(self._send_tasks()), 1)
        Message.send(messages)
        paths = sorted(p['path'] for p in self.api.posts())
        self.assertEqual(paths, [
                '/v2/bot/message/multicast', '/v2/bot/message/push'])
        self.assertEqual({m.state for m in messages}, {'sent'})

    @with_transaction()
    def test_segment_push_wizard(self):
        "Test the segment push previews and sends to reachable parties"
        pool = Pool()
        Party = pool.get('party.party')
        Message = pool.get('party.crm.line.message')
        Push = pool.get('party.crm.line.push', type='wizard')
        company = pool.get('company.company')(self.company_id)
        reachable = self._message_setup(2)
        other, = Party.create([{'name': "No LINE"}])
        parties = reachable + [other]
        with set_company(company):
            session_id, _, _ = Push.create()
            push = Push(session_id)
            with Transaction().set_context(
                    active_model='party.party',
                    active_ids=[p.id for p in parties],
                    active_id=parties[0].id):
                push = Push(session_id)
                defaults = push.default_start(None)
                self.assertEqual(
                    sorted(defaults['recipients']),
                    sorted(p.id for p in reachable))
                self.assertEqual(defaults['excluded'], 1)
                self.assertEqual(defaults['channel'], self.channel_id)
                push.start.company = company
                push.start.channel = self.channel_id
                push.start.text = "Sale this weekend"
                push.start.holdout_share = 0
                push.transition_send()
        messages = Message.search([('party', 'in', [p.id for p in parties])])
        self.assertEqual(len(messages), 2)
        self.assertEqual({m.state for m in messages}, {'queued'})

    def _scenario(self, trigger='follow', **values):
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        scenario, = Scenario.create([{
                    'name': "Welcome",
                    'company': self.company_id,
                    'channel': self.channel_id,
                    'trigger': trigger,
                    'holdout_share': 0,
                    'steps': [('create', [{
                                    'sequence': 1,
                                    'delay': dt.timedelta(0),
                                    'text': "Welcome {name}!",
                                    }, {
                                    'sequence': 2,
                                    'delay': dt.timedelta(days=1),
                                    'text': "Like {preferred_category}?"
                                    "{unknown}",
                                    }])],
                    **values}])
        Scenario.start([scenario])
        return scenario

    @with_transaction()
    def test_scenario_timing(self):
        "Test the steps of a scenario are sent at their time"
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        Message = pool.get('party.crm.line.message')
        self._scenario()
        party, = self._message_setup()
        start = dt.datetime(2026, 1, 5, 9, 0)
        with Transaction().set_context(line_now=start):
            enrollment, = Scenario.enroll('follow', [party], self.company_id)
            # Enrolling twice does nothing
            self.assertEqual(
                Scenario.enroll('follow', [party], self.company_id), [])
        for now, texts, state in [
                (start, ["Welcome Customer 0!"], 'running'),
                (start + dt.timedelta(hours=23), [], 'running'),
                (start + dt.timedelta(days=1), ["Like ?"], 'done'),
                (start + dt.timedelta(days=9), [], 'done'),
                ]:
            with self.subTest(now=now), \
                    Transaction().set_context(line_now=now):
                messages = Enrollment.send_due([enrollment])
                self.assertEqual([m.text for m in messages], texts)
                self.assertTrue(all(m.state == 'queued' for m in messages))
                self.assertEqual(enrollment.state, state)
        self.assertEqual(len(Message.search([('party', '=', party.id)])), 2)

    @with_transaction()
    def test_scenario_sale_triggers(self):
        "Test the first sale and the sale in a category enroll the buyer"
        pool = Pool()
        Category = pool.get('product.category')
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        Sale = pool.get('sale.sale')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        tea, cups = Category.create([{'name': "Tea"}, {'name': "Cups"}])
        unit, = Uom.search([('name', '=', 'Unit')])
        template, = Template.create([{
                    'name': "Tasting", 'type': 'service', 'salable': True,
                    'default_uom': unit.id, 'sale_uom': unit.id,
                    'categories': [('add', [tea.id])],
                    'products': [('create', [{}])]}])
        product, = template.products
        first = self._scenario('first_sale')
        tea_scenario = self._scenario('category_sale', category=tea.id)
        cups_scenario = self._scenario('category_sale', category=cups.id)
        party, = self._message_setup()
        party.addresses = [{}]
        party.save()

        def confirm():
            sale = Sale(
                company=self.company_id, party=party,
                invoice_address=party.addresses[0],
                invoice_method='manual', shipment_method='manual',
                lines=[{'product': product.id, 'quantity': 1,
                        'unit': unit.id, 'unit_price': 1000}])
            sale.save()
            Sale.quote([sale])
            Sale.confirm([sale])

        with Transaction().set_context(company=self.company_id):
            confirm()
            self.assertEqual(
                {e.scenario for e in Enrollment.search(
                        [('party', '=', party.id)])},
                {first, tea_scenario})
            self.assertNotIn(cups_scenario, {e.scenario for e in
                    Enrollment.search([('party', '=', party.id)])})
            confirm()
            # A second sale is no first sale; the category enrollment exists
            self.assertEqual(
                Enrollment.search([('party', '=', party.id)], count=True), 2)

    @with_transaction()
    def test_scenario_leave(self):
        "Test a party leaves on unfollow or lost consent"
        pool = Pool()
        Party = pool.get('party.party')
        Scenario = pool.get('party.crm.line.scenario')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        self._scenario()
        unfollowed, no_consent = self._message_setup(2)
        enrollments = Scenario.enroll(
            'follow', [unfollowed, no_consent], self.company_id)
        Enrollment.leave([unfollowed])
        Party.write([no_consent], {'marketing_consent': False})
        self.assertEqual(Enrollment.send_due(enrollments), [])
        self.assertEqual([e.state for e in enrollments], ['left', 'left'])

    @with_transaction()
    def test_scenario_cron_segment(self):
        "Test the cron enrolls a segment and sends its first step"
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        Engagement = pool.get('party.crm.engagement')
        Message = pool.get('party.crm.line.message')
        self._scenario(trigger='segment', segment='at_risk')
        at_risk, loyal = self._message_setup(2)
        Engagement.create([{
                    'company': self.company_id, 'party': at_risk.id,
                    'segment': 'at_risk',
                    }, {
                    'company': self.company_id, 'party': loyal.id,
                    'segment': 'loyal',
                    }])
        with Transaction().set_context(company=self.company_id):
            Scenario.run()
        message, = Message.search([
                ('party', 'in', [at_risk.id, loyal.id])])
        self.assertEqual(message.party, at_risk)
        self.assertEqual(message.state, 'queued')

    @with_transaction()
    def test_scenario_due_at_fraction_of_second(self):
        "Test a step without delay is due when entered past half a second"
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        self._scenario()
        party, = self._message_setup()
        now = dt.datetime(2026, 3, 1, 10, 0, 0, 600000)
        with Transaction().set_context(line_now=now):
            enrollment, = Scenario.enroll('follow', [party], self.company_id)
            message, = Enrollment.send_due([enrollment])
        self.assertEqual(message.text, "Welcome Customer 0!")

    def _counts(self):
        with Transaction().start(self.db_name, 0, context={
                    'active_test': False}):
            pool = Pool()
            return {name: pool.get(name).search([], count=True)
                for name in [
                    'party.party', 'party.contact_mechanism',
                    'party.crm.interaction', 'party.crm.inquiry',
                    'party.crm.line.scenario.enrollment']}

    def _malformed_events(self):
        "Yield signed bodies of malformed events"
        def message(text):
            return {'type': 'text', 'id': '1', 'quoteToken': 'q',
                'text': text}
        common = [
            ('source', None), ('source', []), ('source', 'user'),
            ('source', {'type': 'user'}),
            ('source', {'type': 'user', 'userId': None}),
            ('source', {'type': 'user', 'userId': ''}),
            ('source', {'type': 'user', 'userId': 42}),
            ('source', {'type': 'user', 'userId': ' U' + '0' * 32}),
            ('source', {'type': 'user', 'userId': 'U\x00' + '0' * 31}),
            ('source', {'type': 'user', 'userId': 'u' + '0' * 32}),
            ('source', {'type': 'user', 'userId': 'U' + '0' * 33}),
            ('source', {'type': 'user', 'userId': 'U' + 'g' * 32}),
            ('timestamp', '1767225600000'), ('timestamp', -1),
            ('timestamp', 0), ('timestamp', 10 ** 20), ('timestamp', True),
            ('timestamp', 1.5e300), ('timestamp', None), ('timestamp', []),
            ('type', None), ('type', 42), ('type', ''), ('type', 'a' * 100),
            ('type', []), ('type', 'fo\x00llow'), ('type', '\ud800'),
            ('deliveryContext', 'yes'), ('deliveryContext', []),
            ('deliveryContext', {'isRedelivery': 'no'}),
            ('deliveryContext', {'isRedelivery': None}),
            ('replyToken', '\ud800'), ('mode', '\x00'),
            ('extra\x00key', 1), ('extra', ['\ud800']),
            ('extra', {'key': '\x00'}),
            ]
        specific = {
            'message': [
                ('message', None), ('message', 'hello'), ('message', {}),
                ('message', message('')), ('message', message('   \n')),
                ('message', message(None)), ('message', message(42)),
                ('message', message('x' * 5001)),
                ('message', message('a\x00b')),
                ('message', message('\udc00')),
                ('message', message('ok \ud83d')),
                ('message', {'type': 42}),
                ],
            'postback': [
                ('postback', None), ('postback', {}),
                ('postback', {'data': 1}), ('postback', {'data': 'x' * 301}),
                ('postback', {'data': '\x00'}),
                ],
            }
        for type_ in ['follow', 'unfollow', 'message', 'postback']:
            for key, value in common + specific.get(type_, []):
                data = event(type_, user_id(),
                    message=message("hi"), postback={'data': 'a=1'})
                data[key] = value
                yield [data]
        for event_id in [None, 42, '', ' ABC', 'A' * 65, 'A\x00B', '\ud800',
                ['A']]:
            yield [dict(event('follow', user_id()), webhookEventId=event_id)]
        yield ['not an event']
        yield [None]
        yield {'events': {}}
        yield 'events'

    def test_malformed_events(self):
        "Test signed malformed events leave nothing partial or pending"
        before = self._counts()
        answers, event_ids = [], []
        for events in self._malformed_events():
            if isinstance(events, list):
                body = json.dumps({'destination': 'U' + '0' * 32,
                        'events': events}).encode()
                event_ids += [e['webhookEventId'] for e in events
                    if isinstance(e, dict)
                    and isinstance(e.get('webhookEventId'), str)
                    and EVENT_ID.fullmatch(e['webhookEventId'])]
            else:
                body = json.dumps(events).encode()
            answers.append(self.post(None, body=body))
        # The same events together in one body
        batch = [dict(e[0], webhookEventId=uuid.uuid4().hex)
            for e in self._malformed_events()
            if isinstance(e, list) and isinstance(e[0], dict)
            and isinstance(e[0].get('webhookEventId'), str)
            and len(e[0]['webhookEventId']) == 26]
        event_ids += [e['webhookEventId'] for e in batch]
        answers.append(self.post(batch))
        answers.append(self.post(None, body=b'[' * 100000 + b']' * 100000))
        self.assertGreaterEqual(len(event_ids), 200)
        self.assertEqual([a.status_code for a in answers
                if a.status_code >= 500], [])
        self.assertEqual([a.content_type for a in answers
                if a.content_type != 'application/json'], [])
        for answer in answers:
            self.assertIsInstance(answer.json, dict)
        self.assertEqual(self._counts(), before)
        states = {e['state'] for e in self.read(
                'party.crm.line.event',
                self.search('party.crm.line.event', [
                        ('webhook_event_id', 'in', event_ids)]),
                ['state'])}
        self.assertEqual(states, {'failed'})
        self.assertEqual(self.search('party.crm.line.event', [
                    ('state', '=', 'pending')]), [])

    def test_failed_processing_rolls_back(self):
        "Test a failing event keeps nothing and re-processing is idempotent"
        pool = Pool(self.db_name)
        Event = pool.get('party.crm.line.event')
        uid = user_id()
        before = self._counts()

        def broken(self, *args):
            raise RuntimeError("inquiry failed")
        with patch.object(Event, '_open_inquiry', broken):
            response = self.post([event('message', uid, message={
                            'type': 'text', 'id': '1', 'quoteToken': 'q',
                            'text': "Hello"})])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self._counts(), before)
        event_id, = self.search('party.crm.line.event', [
                ('user_id', '=', uid)])
        record, = self.read(
            'party.crm.line.event', [event_id], ['state', 'error'])
        self.assertEqual(record['state'], 'failed')
        self.assertEqual(record['error'], "inquiry failed")

        for _ in range(2):
            with Transaction().start(self.db_name, 0) as transaction:
                Event.process([Event(event_id)])
                transaction.commit()
        record, = self.read('party.crm.line.event', [event_id], ['state'])
        self.assertEqual(record['state'], 'done')
        after = self._counts()
        self.assertEqual(
            after['party.crm.interaction'],
            before['party.crm.interaction'] + 1)
        self.assertEqual(after['party.party'], before['party.party'] + 1)
        self.assertEqual(
            after['party.crm.inquiry'], before['party.crm.inquiry'] + 1)

    def test_database_error_not_swallowed(self):
        "Test a database error raised while processing is not swallowed"
        pool = Pool(self.db_name)
        Event = pool.get('party.crm.line.event')
        uid = user_id()
        with Transaction().start(self.db_name, 0) as transaction:
            channel = pool.get('party.crm.line.channel')(self.channel_id)
            record, = Event.receive(channel, {'events': [
                        event('follow', uid)]})
            transaction.tasks.clear()

            def busy(self, batch):
                raise backend.DatabaseOperationalError("busy")
            with patch.object(Event, '_process_follow', busy):
                with self.assertRaises(backend.DatabaseOperationalError):
                    Event.process([record])
            self.assertEqual(Event(record.id).state, 'pending')
            transaction.rollback()

    def test_follow_and_message_threads(self):
        "Test follow and message of 30 new users in two threads"
        if backend.name == 'sqlite':
            self.skipTest("concurrent transactions need PostgreSQL")
        users = [user_id() for _ in range(30)]
        statuses = []
        barrier = threading.Barrier(2)

        def run(type_):
            barrier.wait()
            for uid in users:
                statuses.append(self.post([event(type_, uid, message={
                                    'type': 'text', 'id': '1',
                                    'quoteToken': 'q', 'text': "Hi"})]
                        ).status_code)
        threads = [threading.Thread(target=run, args=(t,))
            for t in ['follow', 'message']]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(statuses, [200] * 60)
        contacts = self.read('party.contact_mechanism', self.search(
                'party.contact_mechanism', [('value', 'in', users)]),
            ['party', 'value'])
        self.assertEqual(sorted(c['value'] for c in contacts), sorted(users))
        self.assertEqual(len({c['party'] for c in contacts}), 30)
        self.assertEqual(self.search('party.crm.line.event', [
                    ('user_id', 'in', users),
                    ('state', '!=', 'done')]), [])

    def _queued_events(self):
        "Return the instances of each event task not yet run"
        Queue = Pool().get('ir.queue')
        return [t.data['instances'] for t in Queue.search([
                    ('name', '=', 'shop_crm_line'),
                    ('dequeued_at', '=', None),
                    ], order=[('id', 'ASC')])
            if t.data['model'] == 'party.crm.line.event']

    @contextmanager
    def worker(self):
        config.set('queue', 'worker', 'True')
        try:
            yield
        finally:
            config.set('queue', 'worker', 'False')

    def _run_tasks(self, model, method):
        "Run the LINE tasks queued for the method; return their arguments"
        with Transaction().start(self.db_name, 0) as transaction:
            Queue = Pool().get('ir.queue')
            tasks = [t for t in Queue.search([
                        ('name', '=', 'shop_crm_line'),
                        ('dequeued_at', '=', None),
                        ], order=[('id', 'ASC')])
                if t.data['model'] == model and t.data['method'] == method]
            arguments = [(t.data['instances'], t.data['args']) for t in tasks]
            for task in tasks:
                task.run()
            transaction.commit()
        return arguments

    def _friend_parties(self, user_ids):
        "Return the party of each LINE user"
        contacts = self.read('party.contact_mechanism', self.search(
                'party.contact_mechanism', [
                    ('type', '=', 'line'), ('value', 'in', user_ids)]),
            ['value', 'party'])
        parties = {c['value']: c['party'] for c in contacts}
        return [parties[u] for u in user_ids]

    def _friend_name(self, uid):
        party, = self._friend_parties([uid])
        record, = self.read('party.party', [party], ['name'])
        return record['name']

    def _profile_calls(self, user_ids):
        "Return the users of the profile calls among user_ids, in order"
        prefix = '/v2/bot/profile/'
        return [r['path'][len(prefix):] for r in self.api.requests
            if r['method'] == 'GET' and r['path'].startswith(prefix)
            and r['path'][len(prefix):] in user_ids]

    def test_profile_after_batch(self):
        "Test the batch makes no profile call: a task after it names friends"
        users = [user_id() for _ in range(3)]
        with self.worker():
            self.post([event('follow', u) for u in users])
            self._run_tasks('party.crm.line.event', 'process')
            events = self.read('party.crm.line.event', self.search(
                    'party.crm.line.event', [('user_id', 'in', users)]),
                ['state'])
            self.assertEqual([e['state'] for e in events], ['done'] * 3)
            self.assertEqual(self._profile_calls(users), [])
            self.assertEqual([self._friend_name(u) for u in users],
                ['LINE Friend %s' % u[-6:] for u in users])
            (channels, _), = self._run_tasks(
                'party.crm.line.channel', 'fetch_line_names')
        self.assertEqual(list(channels), [self.channel_id])
        self.assertEqual(sorted(self._profile_calls(users)), sorted(users))
        self.assertEqual([self._friend_name(u) for u in users],
            ['Taro %s' % u[-4:] for u in users])

        # A follow of a known user calls LINE no more
        self.api.requests.clear()
        self.post([event('follow', users[0])])
        self.assertEqual(self._profile_calls(users), [])

    def test_renamed_friend_keeps_name(self):
        "Test a party renamed before its profile is read keeps the new name"
        renamed, other = users = [user_id() for _ in range(2)]
        with self.worker():
            self.post([event('follow', u) for u in users])
            self._run_tasks('party.crm.line.event', 'process')
            party, _ = self._friend_parties(users)
            with Transaction().start(self.db_name, 0) as transaction:
                Party = Pool().get('party.party')
                Party.write([Party(party)], {'name': "Suzuki Hanako"})
                transaction.commit()
            self._run_tasks('party.crm.line.channel', 'fetch_line_names')
        self.assertEqual(self._friend_name(renamed), "Suzuki Hanako")
        self.assertEqual(self._friend_name(other), 'Taro %s' % other[-4:])
        self.assertEqual(self._profile_calls(users), [other])

    def test_one_name_task_per_batch(self):
        "Test the new friends of a batch are named by one task, one write"
        Party = Pool(self.db_name).get('party.party')
        write = Party.write.__func__
        name_writes = []

        def count_name_writes(cls, *args):
            if any('name' in v for v in args[1::2]):
                name_writes.append(sum(len(r) for r in args[::2]))
            return write(cls, *args)
        known = user_id()
        self.post([event('follow', known)])
        self.api.requests.clear()
        new = [user_id() for _ in range(5)]
        with self.worker():
            self.post([event('follow', u) for u in new]
                + [event('follow', known), event('postback', new[0],
                        postback={'data': 'coupon=10'})])
            self._run_tasks('party.crm.line.event', 'process')
            with patch.object(
                    Party, 'write', classmethod(count_name_writes)):
                tasks = self._run_tasks(
                    'party.crm.line.channel', 'fetch_line_names')
        (_, (friends,)), = tasks
        self.assertEqual(sorted(p for p, _ in friends),
            sorted(self._friend_parties(new)))
        self.assertEqual(name_writes, [5])
        self.assertEqual(sorted(self._profile_calls(new + [known])),
            sorted(new))

    def test_request_only_stores_and_queues(self):
        "Test with a worker the request neither processes nor calls LINE"
        uid = user_id()
        with self.worker(), patch(
                'trytond.modules.shop_crm.line_event.EVENT_BATCH_SIZE', 4):
            response = self.post(
                [event('follow', user_id()) for _ in range(5)]
                + [event('follow', uid)])
        self.assertEqual(response.status_code, 200)
        self.assertEqual([r for r in self.api.requests
                if r['method'] == 'GET'], [])
        event_id, = self.search('party.crm.line.event', [
                ('user_id', '=', uid)])
        record, = self.read('party.crm.line.event', [event_id], ['state'])
        self.assertEqual(record['state'], 'pending')
        with Transaction().start(self.db_name, 0) as transaction:
            Queue = Pool().get('ir.queue')
            Event = Pool().get('party.crm.line.event')
            events = Event.search([('state', '=', 'pending')])
            self.assertEqual(len(events), 6)
            batches = self._queued_events()
            self.assertEqual([len(b) for b in batches], [4, 2])
            self.assertEqual(
                sorted(i for b in batches for i in b),
                sorted(e.id for e in events))
            Queue.delete(Queue.search([
                        ('name', '=', 'shop_crm_line'),
                        ('dequeued_at', '=', None)]))
            Event.process(events)
            transaction.commit()
        record, = self.read('party.crm.line.event', [event_id], ['state'])
        self.assertEqual(record['state'], 'done')

    def test_multi_event_body(self):
        "Test a body of many events: stored once, one task, each on its own"
        pool = Pool(self.db_name)
        Event = pool.get('party.crm.line.event')

        def message(uid, text):
            return event('message', uid, message={
                    'type': 'text', 'id': '1', 'quoteToken': 'q',
                    'text': text})
        users = [user_id() for _ in range(20)]
        known, new, broken = users[:10], users[10:], users[3]
        self.assertEqual(self.post(
                [event('follow', u) for u in known]).status_code, 200)
        events = [message(u, "Hello %d" % i) for i, u in enumerate(users)]
        events.append(message(new[2], "Again"))
        malformed = message(known[0], " ")
        events.insert(5, malformed)
        before = self._counts()
        with self.worker():
            self.assertEqual(self.post(events).status_code, 200)
        open_inquiry = Event._open_inquiry

        def flaky(self, *args):
            if self.user_id == broken:
                raise RuntimeError("inquiry failed")
            return open_inquiry(self, *args)
        with Transaction().start(self.db_name, 0) as transaction, \
                patch.object(Event, '_open_inquiry', flaky):
            Queue = Pool().get('ir.queue')
            batch, = self._queued_events()
            self.assertEqual(len(batch), 21)
            for task in Queue.search([
                        ('name', '=', 'shop_crm_line'),
                        ('dequeued_at', '=', None)]):
                task.run()
            transaction.commit()

        ids = [e['webhookEventId'] for e in events]
        records = self.read('party.crm.line.event', self.search(
                'party.crm.line.event', [('webhook_event_id', 'in', ids)]),
            ['webhook_event_id', 'user_id', 'state', 'error'])
        self.assertEqual(len(records), 22)
        failed = {r['webhook_event_id']: r['error'] for r in records
            if r['state'] != 'done'}
        broken_id, = [e['webhookEventId'] for e in events
            if e['source']['userId'] == broken]
        self.assertEqual(sorted(failed), sorted(
                [broken_id, malformed['webhookEventId']]))
        self.assertEqual(failed[broken_id], "inquiry failed")
        self.assertIn("message.text is empty",
            failed[malformed['webhookEventId']])
        after = self._counts()
        self.assertEqual(
            {k: after[k] - before[k] for k in after}, {
                'party.party': 10, 'party.contact_mechanism': 10,
                'party.crm.interaction': 20, 'party.crm.inquiry': 19,
                'party.crm.line.scenario.enrollment': 0})

        # The whole body delivered again
        redelivered = [dict(e, deliveryContext={'isRedelivery': True})
            for e in events]
        self.assertEqual(self.post(redelivered).status_code, 200)
        self.assertEqual(len(self.search('party.crm.line.event', [
                        ('webhook_event_id', 'in', ids)])), 22)
        self.assertEqual(self._counts(), after)

    def test_batch_falls_back_one_by_one(self):
        "Test the events are processed one by one if the batch fails"
        pool = Pool(self.db_name)
        Interaction = pool.get('party.crm.interaction')
        create = Interaction.create.__func__
        sizes = []

        def one_at_a_time(cls, vlist):
            sizes.append(len(vlist))
            if len(vlist) > 1:
                raise ValueError("one at a time")
            return create(cls, vlist)
        users = [user_id() for _ in range(3)]
        with patch.object(Interaction, 'create', classmethod(one_at_a_time)):
            response = self.post([event('follow', u) for u in users])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(sizes, [3, 1, 1, 1])
        events = self.read('party.crm.line.event', self.search(
                'party.crm.line.event', [('user_id', 'in', users)]),
            ['state'])
        self.assertEqual([e['state'] for e in events], ['done'] * 3)
        self.assertEqual(len(self.search('party.crm.interaction', [
                        ('party.contact_mechanisms.value', 'in', users)])),
            3)

    def test_chunked_body_too_large(self):
        "Test a chunked body over 1 MiB is refused with 413"
        body = b'{"events": []}' + b' ' * (1024 * 1024)
        response = self.client().post(
            self.url(), input_stream=io.BytesIO(body),
            environ_overrides={'wsgi.input_terminated': True}, headers={
                'Transfer-Encoding': 'chunked',
                'X-Line-Signature': sign(body),
                })
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response.json, {'error': "body too large"})

    def test_identifier_exact(self):
        "Test only the exact identifier reaches the channel"
        for identifier in [
                ' %s' % self.identifier, '%s ' % self.identifier,
                self.identifier.upper(), self.identifier[:-1]]:
            with self.subTest(identifier=identifier):
                response = self.post([], identifier=identifier)
                self.assertEqual(response.status_code, 404)
                self.assertEqual(response.json, {'error': "unknown channel"})

    def test_long_display_name(self):
        "Test a long LINE display name is stripped and cut to fit a party name"
        uid = user_id()
        with self.worker(), patch.object(
                Pool(self.db_name).get('party.crm.line.channel'),
                'get_profile_name', lambda self, user_id: ' ' + 'x' * 500):
            self.post([event('follow', uid)])
            self._run_tasks('party.crm.line.event', 'process')
            self.assertEqual(
                self._friend_name(uid), 'LINE Friend %s' % uid[-6:])
            self._run_tasks('party.crm.line.channel', 'fetch_line_names')
        self.assertEqual(self._friend_name(uid), 'x' * 100)

    @with_transaction()
    def test_channel_copy(self):
        "Test a LINE channel duplicates with its own webhook identifier"
        pool = Pool()
        Channel = pool.get('party.crm.line.channel')
        channel = Channel(self.channel_id)
        copy, = Channel.copy([channel])
        self.assertNotEqual(copy.identifier, channel.identifier)
        self.assertEqual(len(copy.identifier), 32)
        self.assertEqual(copy.channel_secret, SECRET)
        self.assertEqual(copy.access_token, TOKEN)
        self.assertEqual(copy.company, channel.company)

    @with_transaction()
    def test_step_deletion_and_reorder_resend_nothing(self):
        "Test deleting or reordering steps never sends a step twice"
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        Step = pool.get('party.crm.line.scenario.step')
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        scenario = self._scenario()
        Step.create([{
                    'scenario': scenario.id, 'sequence': 3,
                    'delay': dt.timedelta(days=2), 'text': "Third"}])
        first, second, third = scenario.steps
        party, = self._message_setup()
        start = dt.datetime(2026, 1, 5, 9, 0)
        with Transaction().set_context(line_now=start):
            enrollment, = Scenario.enroll('follow', [party], self.company_id)
            self.assertEqual(
                [m.text for m in Enrollment.send_due([enrollment])],
                ["Welcome Customer 0!"])
        # Reordered: the first step now comes last
        Step.write([first], {'sequence': 10})
        Step.delete([second])
        for now, texts, state in [
                (start + dt.timedelta(days=1), [], 'running'),
                (start + dt.timedelta(days=2), ["Third"], 'done'),
                (start + dt.timedelta(days=3), [], 'done'),
                ]:
            with self.subTest(now=now), \
                    Transaction().set_context(line_now=now):
                self.assertEqual(
                    [m.text for m in Enrollment.send_due([enrollment])],
                    texts)
                self.assertEqual(enrollment.state, state)
        self.assertEqual(
            sorted(a.step.text for a in enrollment.activities),
            ["Third", "Welcome {name}!"])

    @with_transaction()
    def test_scenario_workflow(self):
        "Test only running scenarios enroll"
        pool = Pool()
        Scenario = pool.get('party.crm.line.scenario')
        scenario = self._scenario()
        party, other = self._message_setup(2)
        Scenario.stop([scenario])
        self.assertEqual(scenario.state, 'stopped')
        self.assertEqual(
            Scenario.enroll('follow', [party], self.company_id), [])
        Scenario.draft([scenario])
        self.assertEqual(scenario.state, 'draft')
        Scenario.start([scenario])
        enrollment, = Scenario.enroll(
            'follow', [party, party], self.company_id)
        self.assertEqual(enrollment.party, party)
        self.assertEqual(
            len(Scenario.enroll('follow', [party, other], self.company_id)),
            1)

    @with_transaction()
    def test_step_validation(self):
        "Test a negative delay and a text over 5,000 characters are refused"
        pool = Pool()
        Step = pool.get('party.crm.line.scenario.step')
        scenario = self._scenario()
        for values in [
                {'delay': dt.timedelta(seconds=-1)},
                {'text': 'x' * 5001},
                ]:
            with self.subTest(values=values), \
                    self.assertRaises(ValidationError):
                Step.create([{'scenario': scenario.id, 'text': "ok",
                            **values}])
        step, = Step.create([{'scenario': scenario.id, 'text': 'x' * 5000}])
        self.assertEqual(len(step.text), 5000)

    @with_transaction()
    def test_message_text_limit(self):
        "Test a LINE message over 5,000 characters is refused"
        party, = self._message_setup()
        with self.assertRaises(ValidationError) as cm:
            self._messages([party], 'x' * 5001)
        self.assertIn('5000', cm.exception.message)
        message, = self._messages([party], 'x' * 5000)
        self.assertEqual(len(message.text), 5000)

    def test_merge_moves_every_record(self):
        "Test linking merges every record of the friend through replace"
        uid = user_id()
        self.post([event('follow', uid)])
        friend_id, = self.search('party.contact_mechanism', [
                ('value', '=', uid)])
        source_id = self.read(
            'party.contact_mechanism', [friend_id], ['party'])[0]['party']
        with Transaction().start(self.db_name, 0) as transaction:
            pool = Pool()
            Party = pool.get('party.party')
            Category = pool.get('product.category')
            Rating = pool.get('party.crm.rating')
            Preference = pool.get('party.crm.preference')
            LinkCode = pool.get('party.crm.line.link_code')
            customer, = Party.create([{'name': "Customer"}])
            category, = Category.create([{'name': "Tea"}])
            Rating.create([{'company': self.company_id, 'party': source_id,
                        'date': dt.date(2026, 1, 1), 'score': 4}])
            Preference.create([{'party': source_id, 'kind': 'like',
                        'category': category.id}])
            old_code = LinkCode.generate(Party(source_id), self.company_id)
            code = LinkCode.generate(customer, self.company_id).code
            customer_id, old_code_id = customer.id, old_code.id
            transaction.commit()
        self.post([event('message', uid, message={
                        'type': 'text', 'id': '1', 'quoteToken': 'q',
                        'text': code})])
        for model in [
                'party.crm.rating', 'party.crm.preference',
                'party.crm.line.event', 'party.crm.interaction',
                'party.contact_mechanism']:
            with self.subTest(model=model):
                self.assertEqual(self.search(model, [
                            ('party', '=', source_id)]), [])
                self.assertTrue(self.search(model, [
                            ('party', '=', customer_id)]))
        link_code, = self.read(
            'party.crm.line.link_code', [old_code_id], ['party'])
        self.assertEqual(link_code['party'], customer_id)
        source, = self.read(
            'party.party', [source_id], ['active', 'replaced_by'])
        self.assertEqual(source['replaced_by'], customer_id)

    def _user(self, company, groups):
        pool = Pool()
        User = pool.get('res.user')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        user, = User.create([{
                    'login': 'line-%s' % uuid.uuid4().hex[:8],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'groups': [('add', [Group(ModelData.get_id(
                                        'shop_crm', g)).id
                                for g in groups])],
                    }])
        return user

    @contextmanager
    def _rpc_as(self, user, company):
        "Call as the user through RPC, with access checks"
        transaction = Transaction()
        with transaction.set_user(user.id), transaction.set_context(
                company=company.id, companies=[company.id]), \
                check_access():
            yield

    @with_transaction()
    def test_message_workflow_fields(self):
        "Test users cannot write the state, status or key of a message"
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        company = pool.get('company.company')(self.company_id)
        party, = self._message_setup()
        message, = self._messages([party])
        user = self._user(company, ['group_crm'])
        with self._rpc_as(user, company):
            for values in [
                    {'state': 'sent'}, {'http_status': 200},
                    {'retry_key': str(uuid.uuid4())},
                    {'sent_date': dt.datetime(2026, 1, 1)}]:
                with self.subTest(values=values), \
                        self.assertRaises(AccessError):
                    Message.write([Message(message.id)], values)
            with self.assertRaises(AccessError):
                Message.create([{'company': company.id,
                            'channel': self.channel_id,
                            'party': party.id, 'text': "Hi",
                            'state': 'sent'}])
            Message.write([Message(message.id)], {'text': "Edited"})
            Message.queue([Message(message.id)])
        self.assertEqual(Message(message.id).state, 'queued')

    @with_transaction()
    def test_event_received_data(self):
        "Test users cannot create events or rewrite their received data"
        pool = Pool()
        Event = pool.get('party.crm.line.event')
        Channel = pool.get('party.crm.line.channel')
        company = pool.get('company.company')(self.company_id)
        record, = Event.receive(
            Channel(self.channel_id), {'events': [event('follow', user_id())]})
        Transaction().tasks.clear()
        user = self._user(company, ['group_crm', 'group_crm_admin'])
        with self._rpc_as(user, company):
            for values in [
                    {'type': 'message'}, {'user_id': user_id()},
                    {'payload': '{}'}, {'state': 'done'}]:
                with self.subTest(values=values), \
                        self.assertRaises(AccessError):
                    Event.write([Event(record.id)], values)
            with self.assertRaises(AccessError):
                Event.create([{
                            'webhook_event_id': 'FORGED',
                            'channel': self.channel_id,
                            'company': company.id, 'type': 'follow',
                            'user_id': user_id(), 'payload': '{}'}])
            Event.process([Event(record.id)])
        self.assertEqual(Event(record.id).state, 'done')

    @with_transaction()
    def test_link_code_server_only(self):
        "Test link codes are generated by the server in the user's company"
        pool = Pool()
        LinkCode = pool.get('party.crm.line.link_code')
        Party = pool.get('party.party')
        company = pool.get('company.company')(self.company_id)
        other = create_company(name="Other Shop")
        party, = Party.create([{'name': "Customer"}])
        user = self._user(company, ['group_crm'])
        with self._rpc_as(user, company):
            for values in [
                    {'code': 'AAAAAAAA'},
                    {'expiration_date': dt.datetime(2030, 1, 1)},
                    {'company': other.id},
                    ]:
                with self.subTest(values=values), \
                        self.assertRaises(AccessError):
                    LinkCode.create([{'company': company.id,
                                'party': party.id, **values}])
            code, = LinkCode.create([{
                        'company': company.id, 'party': party.id}])
            self.assertEqual(len(code.code), 8)
            with self.assertRaises(AccessError):
                LinkCode.write([code], {
                        'expiration_date': dt.datetime(2030, 1, 1)})
            with Transaction().set_context(company=other.id):
                with self.assertRaises(AccessError):
                    LinkCode.generate(party, other.id)
        self.assertEqual(LinkCode.search([
                    ('company', '=', other.id)], count=True), 0)
        self.assertLessEqual(
            code.expiration_date - dt.datetime.now(), dt.timedelta(days=1))

    @with_transaction()
    def test_push_wizard_other_company(self):
        "Test the push wizard refuses another company or its channel"
        pool = Pool()
        Push = pool.get('party.crm.line.push', type='wizard')
        Channel = pool.get('party.crm.line.channel')
        Message = pool.get('party.crm.line.message')
        company = pool.get('company.company')(self.company_id)
        other = create_company(name="Other Shop")
        other_channel, = Channel.create([{
                    'name': "Other", 'company': other.id,
                    'channel_secret': 'other', 'access_token': 'other',
                    'api_url': self.api.url}])
        parties = self._message_setup(2)
        user = self._user(company, ['group_crm'])
        session_id, _, _ = Push.create()
        with Transaction().set_user(user.id), \
                Transaction().set_context(
                    active_model='party.party',
                    active_ids=[p.id for p in parties],
                    active_id=parties[0].id):
            with Transaction().set_context(company=other.id), \
                    self.assertRaises(AccessError):
                Push(session_id).default_start(None)
            for start_company, channel in [
                    (other, other_channel), (company, other_channel),
                    (other, Channel(self.channel_id))]:
                with self.subTest(company=start_company.id,
                        channel=channel.id), \
                        Transaction().set_context(company=company.id), \
                        self.assertRaises(AccessError):
                    push = Push(session_id)
                    push.start.company = start_company
                    push.start.channel = channel
                    push.start.text = "Sale"
                    push.transition_send()
        self.assertEqual(Message.search([
                    ('party', 'in', [p.id for p in parties])]), [])
