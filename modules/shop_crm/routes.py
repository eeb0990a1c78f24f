# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import json
import logging

from werkzeug.exceptions import RequestEntityTooLarge

from trytond import backend
from trytond.model.modelsql import SQLConstraintError
from trytond.protocols.wrappers import (
    HTTPStatus, Response, set_max_request_size, with_pool, with_transaction)
from trytond.transaction import Transaction
from trytond.wsgi import app

logger = logging.getLogger(__name__)

MAX_BODY_SIZE = 1024 * 1024


def _json_response(status, error=None):
    data = {'error': error} if error else {}
    return Response(
        json.dumps(data), status=status, content_type='application/json')


@app.route(
    '/<database_name>/shop_crm/line/<identifier>/webhook', methods={'POST'})
@set_max_request_size(MAX_BODY_SIZE)
@with_pool
@with_transaction(context={'_skip_warnings': True})
def line_webhook(request, pool, identifier):
    from linebot.v3 import WebhookParser
    from linebot.v3.exceptions import InvalidSignatureError

    Channel = pool.get('party.crm.line.channel')
    Event = pool.get('party.crm.line.event')

    if (request.content_length is not None
            and request.content_length > MAX_BODY_SIZE):
        return _json_response(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return _json_response(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    if len(body) > MAX_BODY_SIZE:
        return _json_response(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")

    channels = Channel.search([('identifier', '=', identifier)], limit=1)
    if not channels:
        return _json_response(HTTPStatus.NOT_FOUND, "unknown channel")
    channel, = channels

    signature = request.headers.get('X-Line-Signature')
    if not signature:
        return _json_response(HTTPStatus.BAD_REQUEST, "missing signature")
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError:
        return _json_response(HTTPStatus.BAD_REQUEST, "malformed body")

    parser = WebhookParser(channel.channel_secret)
    try:
        parser.parse(text, signature)
    except InvalidSignatureError:
        return _json_response(HTTPStatus.UNAUTHORIZED, "invalid signature")
    except Exception:
        return _json_response(HTTPStatus.BAD_REQUEST, "malformed body")
    # The SDK checked the signature and the event shapes; keep the raw
    # events to store them as received.
    try:
        data = json.loads(text)
        events = data['events']
        if not isinstance(events, list):
            raise ValueError
        ids = []
        for event in events:
            event_id = event['webhookEventId']
            if not isinstance(event_id, str) or not event_id:
                raise ValueError
            ids.append(event_id)
        to_create, seen = [], set()
        for event in events:
            if event['webhookEventId'] in seen:
                continue
            seen.add(event['webhookEventId'])
            to_create.append(Event.values_from_payload(channel, event))
    except (ValueError, KeyError, TypeError, AttributeError):
        return _json_response(HTTPStatus.BAD_REQUEST, "malformed body")

    if not to_create:
        return _json_response(HTTPStatus.OK)

    existing = {e.webhook_event_id for e in Event.search([
                ('webhook_event_id', 'in', list(seen)),
                ])}
    to_create = [v for v in to_create
        if v['webhook_event_id'] not in existing]
    if to_create:
        try:
            events = Event.create(to_create)
        except (SQLConstraintError, backend.DatabaseIntegrityError):
            # A concurrent request stored the same event: retry the
            # transaction which will then skip it.
            raise backend.DatabaseOperationalError(
                "concurrent LINE event")
        with Transaction().set_context(
                company=channel.company.id, queue_name='shop_crm_line'):
            for event in events:
                Event.__queue__.process([event])
    return _json_response(HTTPStatus.OK)
