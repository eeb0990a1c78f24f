#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Measure LINE in production shape: webhook, trytond-worker and sends.

On PostgreSQL, with [queue] worker set, so that the webhook request only
verifies, stores and enqueues.  In the same run, the script measures:

- baseline: POST to an unknown route of the same database (no
  transaction), through the same WSGI app;
- acceptance: signed bodies of --per-body events accepted by one trytond
  process (answer 200 once stored and queued), for new friends (follow)
  and known friends (message), and the same bodies delivered again;
- worker known / worker new: the time trytond-worker takes to process the
  queued events of known friends, then follow events of new friends (each
  with a Get Profile call to a fake Messaging API on 127.0.0.1);
- send same / send personalised: --recipients messages queued and sent by
  trytond-worker to the fake API, with one text (multicast by 500) and
  with a text per recipient (one push each).

The ratio is the time of a request over the time of a baseline request
(the baseline items are requests, the others events).
Goals: acceptance >= 500 events/s, worker known >= 100 events/s.
Usage (the database is created and activated on the first run):

    PYTHONOPTIMIZE=1 .venv-test/bin/python bench/bench_line.py \\
        --uri postgresql://postgres@127.0.0.1:5432/ [--events 2000] \\
        [--per-body 100] [--recipients 10000] [--processes 1]
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import shop_bench  # noqa: E402

SECRET = 'bench-line-secret'
TOKEN = 'bench-line-token'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shop_bench.add_database_arguments(parser, 'bench_line')
    parser.add_argument('--events', type=int, default=2000)
    parser.add_argument('--per-body', type=int, default=100,
        help="events per webhook body (LINE sends up to about 100)")
    parser.add_argument('--recipients', type=int, default=10000)
    parser.add_argument('--processes', type=int, default=1,
        help="trytond-worker processes")
    return parser.parse_args()


class FakeAPI:
    "Answer the Messaging API calls as LINE would, counting them"

    def __init__(self):
        self.calls = {'profile': 0, 'push': 0, 'multicast': 0}
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _reply(self, kind, body):
                with api.lock:
                    api.calls[kind] += 1
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                user_id = self.path.rsplit('/', 1)[-1]
                self._reply('profile', {
                        'userId': user_id, 'displayName': 'Friend'})

            def do_POST(self):
                self.rfile.read(int(self.headers.get('Content-Length', 0)))
                if self.path.endswith('/push'):
                    self._reply('push', {'sentMessages': [{'id': '1'}]})
                else:
                    self._reply('multicast', {})

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return 'http://127.0.0.1:%s' % self.server.server_address[1]


def sign(body):
    return base64.b64encode(
        hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def event(type_, user_id):
    data = {
        'type': type_, 'mode': 'active',
        'timestamp': int(time.time() * 1000),
        'source': {'type': 'user', 'userId': user_id},
        'webhookEventId': uuid.uuid4().hex.upper()[:26],
        'deliveryContext': {'isRedelivery': False},
        'replyToken': uuid.uuid4().hex,
        }
    if type_ == 'follow':
        data['follow'] = {'isUnblocked': False}
    else:
        data['message'] = {
            'type': 'text', 'id': '1', 'quoteToken': 'q', 'text': "Thanks!"}
    return data


def body_of(events):
    return json.dumps({
            'destination': 'U' + '0' * 32, 'events': events}).encode()


def post_all(client, url, bodies, signed=True):
    start = time.perf_counter()
    for body in bodies:
        headers = {'Content-Type': 'application/json'}
        if signed:
            headers['X-Line-Signature'] = sign(body)
        response = client.post(url, data=body, headers=headers)
        assert response.status_code in {200, 404, 405}, response.status_code
    return time.perf_counter() - start


def wait_until(count_left, timeout=1800):
    "Return the seconds until count_left() is 0"
    start = time.perf_counter()
    while count_left():
        if time.perf_counter() - start > timeout:
            raise TimeoutError
        time.sleep(0.05)
    return time.perf_counter() - start


def main():
    args = parse_args()
    os.environ['TRYTOND_DATABASE__URI'] = args.uri
    os.environ['TRYTOND_QUEUE__WORKER'] = 'True'
    shop_bench.ensure_database(args)
    api = FakeAPI()

    from werkzeug.test import Client

    from trytond.pool import Pool
    from trytond.protocols.wrappers import Response
    from trytond.transaction import Transaction
    from trytond.wsgi import app

    pool = Pool(args.database)
    pool.init()
    database = args.database

    def count(model, domain):
        with Transaction().start(database, 0, readonly=True):
            return pool.get(model).search(domain, count=True)

    with Transaction().start(database, 0) as transaction:
        Channel = pool.get('party.crm.line.channel')
        Queue = pool.get('ir.queue')
        Queue.delete(Queue.search([]))
        company = shop_bench.bench_company(pool)
        channel, = Channel.create([{
                    'name': "Bench %s" % uuid.uuid4().hex[:6],
                    'company': company.id, 'channel_secret': SECRET,
                    'access_token': TOKEN, 'api_url': api.url,
                    'create_inquiries': False,
                    }])
        channel_id, identifier = channel.id, channel.identifier
        transaction.commit()

    results = run(args, api, pool, database, channel_id, identifier,
        Client(app, Response), count)
    print("database: %s%s, trytond-worker processes: %d" % (
            args.uri, database, args.processes))
    print(Results.header())
    for result in results:
        print(Results.line(*result))


class Results(list):
    "The figures, also printed as soon as measured"

    @staticmethod
    def header():
        return "%-20s %8s %12s %8s %10s" % (
            "", "items", "items/s", "goal", "ratio")

    @staticmethod
    def line(name, items, seconds, goal, baseline):
        ratio = '%.2f' % (seconds / baseline) if baseline else ''
        return "%-20s %8d %12.1f %8s %10s" % (
            name, items, items / seconds, goal or '', ratio)

    def append(self, result):
        if not self:
            print(self.header())
        print(self.line(*result), flush=True)
        super().append(result)


class Worker:
    "Run trytond-worker until the queue tasks after the mark are finished"

    def __init__(self, args, database, pool):
        self.args, self.database, self.pool = args, database, pool
        self.mark = self._last_task()

    def _query(self, sql):
        from trytond.transaction import Transaction
        with Transaction().start(self.database, 0, readonly=True) as t:
            cursor = t.connection.cursor()
            cursor.execute(sql, (self.mark,))
            return cursor.fetchone()

    def _last_task(self):
        self.mark = 0
        return self._query(
            'SELECT COALESCE(MAX(id), 0) FROM ir_queue WHERE id > %s')[0]

    def run(self):
        """Return the number of tasks and the seconds from the first
        dequeued to the last finished"""
        worker = subprocess.Popen([
                os.path.join(
                    os.path.dirname(sys.executable), 'trytond-worker'),
                '-d', self.database, '-n', str(self.args.processes)],
            env=dict(os.environ), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_until(lambda: self._query(
                    'SELECT COUNT(*) FROM ir_queue '
                    'WHERE id > %s AND finished_at IS NULL')[0])
        finally:
            # the worker's processes are its children: stop them all
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait()
        tasks, first, last = self._query(
            'SELECT COUNT(*), MIN(dequeued_at), MAX(finished_at) '
            'FROM ir_queue WHERE id > %s')
        return tasks, (last - first).total_seconds()


def bodies_of(events, size):
    return [body_of(events[i:i + size]) for i in range(0, len(events), size)]


def run(args, api, pool, database, channel_id, identifier, client, count):
    url = '/%s/shop_crm/line/%s/webhook' % (database, identifier)
    n, size = args.events, args.per_body
    channel_domain = [('channel', '=', channel_id)]
    results = Results()
    print("events per body: %d" % size)

    # New friends: follow events, each with a Get Profile in the worker
    users = ['U' + uuid.uuid4().hex for _ in range(n)]
    bodies = bodies_of([event('follow', u) for u in users], size)
    post_all(client, url, [body_of([event('follow', users[0])])])
    # At least 200 requests, for a steady baseline
    repeat = max(1, 200 // len(bodies))
    baseline = post_all(client, '/%s/shop_crm/line/none' % database,
        bodies * repeat, signed=False) / repeat
    results.append(('baseline (404)', len(bodies), baseline, None,
            baseline))
    worker = Worker(args, database, pool)
    results.append(('acceptance new', n, post_all(client, url, bodies),
            None, baseline))
    results.append(('redelivery', n, post_all(client, url, bodies),
            None, baseline))
    tasks, seconds = worker.run()
    results.append(('worker new', n, seconds, None, None))
    assert api.calls['profile'] >= n - 1

    # Known friends: message events
    bodies = bodies_of([event('message', u) for u in users], size)
    worker = Worker(args, database, pool)
    results.append(('acceptance known', n, post_all(client, url, bodies),
            '>= 500', baseline))
    tasks, seconds = worker.run()
    results.append(('worker known', n, seconds, '>= 100', None))
    print("worker known: %d tasks" % tasks)
    assert count('party.crm.line.event',
        channel_domain + [('state', '!=', 'done')]) == 0

    for name, personalised in [
            ('send same', False), ('send personalised', True)]:
        calls = dict(api.calls)
        seconds = send(args, pool, database, channel_id, personalised, count)
        results.append((name, args.recipients, seconds, None, None))
        print("%s: %d push, %d multicast" % (name,
                api.calls['push'] - calls['push'],
                api.calls['multicast'] - calls['multicast']))
    return results


def send(args, pool, database, channel_id, personalised, count):
    "Return the seconds the worker takes to send the queued messages"
    from trytond.transaction import Transaction
    size = args.recipients
    with Transaction().start(database, 0) as transaction:
        Party = pool.get('party.party')
        Message = pool.get('party.crm.line.message')
        Channel = pool.get('party.crm.line.channel')
        channel = Channel(channel_id)
        parties = Party.create([{
                    'name': "Recipient %d" % i, 'marketing_consent': True,
                    'contact_mechanisms': [('create', [{
                                    'type': 'line',
                                    'value': 'U' + uuid.uuid4().hex}])],
                    } for i in range(size)])
        messages = Message.create([{
                    'company': channel.company.id, 'channel': channel.id,
                    'party': p.id,
                    'text': ("Hello %s, 10%% off this week" % p.name
                        if personalised else "10% off this week"),
                    } for p in parties])
        ids = [m.id for m in messages]
        transaction.commit()
    worker = Worker(args, database, pool)
    with Transaction().start(database, 0) as transaction:
        Message.queue(Message.browse(ids))
        transaction.commit()
    _, seconds = worker.run()
    assert count('party.crm.line.message', [
            ('id', 'in', ids), ('state', '!=', 'sent')]) == 0
    return seconds


if __name__ == '__main__':
    main()
