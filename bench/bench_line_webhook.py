#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Measure the LINE webhook rate of shop_crm through the real WSGI app.

One worker (this process, no queue worker: the events are processed after
the commit of each request, as without trytond-worker), signature checked
by line-bot-sdk on every request.  The script measures, in the same run:

- baseline: POST of the same body to an unknown route of the same
  database (404/405 from trytond.wsgi.app, no transaction);
- check: LINE's connectivity check (signed body with no event: pool,
  transaction, channel lookup and signature check);
- webhook: signed bodies of --per-request follow/message events from new
  friends (party, contact, interaction, inquiry created for each);
- duplicate: the same bodies again (stored events are skipped);
- returning: new message events from the same, now known, friends
  (interaction only, the inquiries are already open);

and prints requests and events per second and the ratio to the baseline.
Usage:

    bench/bench_line_webhook.py [--requests 300] [--per-request 1]

The database is the trytond test database: in-memory SQLite by default,
PostgreSQL with TRYTOND_DATABASE_URI=postgresql://… and DB_NAME=….  Set
DB_CACHE to reuse an activated database.  Run with PYTHONOPTIMIZE=1 as
servers run.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import time
import uuid

SECRET = 'bench-channel-secret'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=300)
    parser.add_argument('--per-request', type=int, default=1)
    return parser.parse_args()


def sign(body):
    return base64.b64encode(
        hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def body_of(events):
    return json.dumps({
            'destination': 'U' + '0' * 32, 'events': events}).encode()


def new_events(count):
    events = []
    for i in range(count):
        user_id = 'U' + uuid.uuid4().hex
        type_ = 'follow' if i % 2 == 0 else 'message'
        event = {
            'type': type_, 'mode': 'active',
            'timestamp': int(time.time() * 1000),
            'source': {'type': 'user', 'userId': user_id},
            'webhookEventId': uuid.uuid4().hex.upper()[:26],
            'deliveryContext': {'isRedelivery': False},
            'replyToken': uuid.uuid4().hex,
            }
        if type_ == 'follow':
            event['follow'] = {'isUnblocked': False}
        else:
            event['message'] = {
                'type': 'text', 'id': str(i), 'quoteToken': 'q',
                'text': "Is it in stock?"}
        events.append(event)
    return events


def timed(client, url, bodies, expected, signed=True):
    start = time.perf_counter()
    for body in bodies:
        headers = {'Content-Type': 'application/json'}
        if signed:
            headers['X-Line-Signature'] = sign(body)
        response = client.post(url, data=body, headers=headers)
        assert response.status_code in expected, (
            response.status_code, response.get_data(as_text=True)[:200])
    return time.perf_counter() - start


def main():
    args = parse_args()
    from werkzeug.test import Client

    from trytond.pool import Pool
    from trytond.protocols.wrappers import Response
    from trytond.tests.test_tryton import DB_NAME, activate_module
    from trytond.transaction import Transaction
    from trytond.wsgi import app

    activate_module(['shop_crm'])
    with Transaction().start(DB_NAME, 1):
        from trytond.modules.company.tests import create_company
        pool = Pool()
        Channel = pool.get('party.crm.line.channel')
        company = create_company()
        channel, = Channel.create([{
                    'name': "Bench", 'company': company.id,
                    'channel_secret': SECRET,
                    # Unreachable on purpose: the profile call fails fast
                    # and the fallback name is used.
                    'access_token': 'token', 'api_url': 'http://127.0.0.1:9',
                    'create_inquiries': True,
                    }])
        identifier = channel.identifier
        Transaction().commit()

    client = Client(app, Response)
    url = '/%s/shop_crm/line/%s/webhook' % (DB_NAME, identifier)
    n, k = args.requests, args.per_request
    bodies = [body_of(new_events(k)) for _ in range(n)]
    empty = [body_of([]) for _ in range(n)]

    # Warm up the pool and caches
    timed(client, url, [body_of(new_events(k))], {200})
    baseline = timed(client, '/%s/shop_crm/line/none' % DB_NAME, bodies,
        {404, 405}, signed=False)
    check = timed(client, url, empty, {200})
    webhook = timed(client, url, bodies, {200})
    duplicate = timed(client, url, bodies, {200})
    returning_bodies = []
    for body in bodies:
        events = json.loads(body)['events']
        for event in events:
            event['webhookEventId'] = uuid.uuid4().hex.upper()[:26]
            event['type'] = 'message'
            event.pop('follow', None)
            event['message'] = {
                'type': 'text', 'id': '0', 'quoteToken': 'q',
                'text': "Thanks!"}
        returning_bodies.append(body_of(events))
    returning = timed(client, url, returning_bodies, {200})

    print("requests: %d, events per request: %d, database: %s" % (
            n, k, os.environ.get('TRYTOND_DATABASE_URI', 'sqlite://')))
    print("%-10s %10s %10s %8s" % ("", "req/s", "events/s", "ratio"))
    for name, seconds, events in [
            ('baseline', baseline, 0),
            ('check', check, 0),
            ('webhook', webhook, n * k),
            ('duplicate', duplicate, n * k),
            ('returning', returning, n * k),
            ]:
        print("%-10s %10.1f %10s %8.2f" % (
                name, n / seconds,
                ('%.1f' % (events / seconds)) if events else '-',
                seconds / baseline))


if __name__ == '__main__':
    main()
