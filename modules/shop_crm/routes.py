# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import functools
import json
import logging
import re

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from trytond import backend
from trytond.protocols.wrappers import (
    HTTPStatus, Response, set_max_request_size, with_pool, with_transaction)
from trytond.transaction import Transaction
from trytond.wsgi import app

logger = logging.getLogger(__name__)

MAX_BODY_SIZE = 1024 * 1024
IDENTIFIER = re.compile(r'[0-9a-f]{32}')
DATABASE_BUSY = 'shop_crm.database_busy'
BODY = 'shop_crm.body'


class WebhookError(Exception):
    def __init__(self, status, error):
        super().__init__(error)
        self.status = status
        self.error = error


def _json_response(status, error=None):
    data = {'error': error} if error else {}
    return Response(
        json.dumps(data), status=status, content_type='application/json')


def json_answers(func):
    "Answer in JSON what trytond would answer in HTML"
    @functools.wraps(func)
    def wrapper(request, *args, **kwargs):
        try:
            return func(request, *args, **kwargs)
        except HTTPException as exception:
            if request.environ.get(DATABASE_BUSY):
                return _json_response(
                    HTTPStatus.SERVICE_UNAVAILABLE, "temporarily unavailable")
            return _json_response(exception.code, exception.name.lower())
    return wrapper


def webhook_errors(func):
    "Answer the errors of the transaction in JSON, rolled back"
    @functools.wraps(func)
    def wrapper(request, *args, **kwargs):
        transaction = Transaction()
        try:
            return func(request, *args, **kwargs)
        except WebhookError as exception:
            error = _json_response(exception.status, exception.error)
        except backend.DatabaseOperationalError:
            # Retried by with_transaction
            request.environ[DATABASE_BUSY] = True
            raise
        except Exception:
            logger.error("LINE webhook failed", exc_info=True)
            error = _json_response(
                HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
        transaction.rollback()
        transaction.tasks.clear()
        return error
    return wrapper


def _read_body(request):
    """Return the body, refusing more than MAX_BODY_SIZE even when chunked

    The body is kept for the retries of the transaction."""
    if BODY in request.environ:
        return request.environ[BODY]
    if (request.content_length is not None
            and request.content_length > MAX_BODY_SIZE):
        raise WebhookError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    try:
        body = request.stream.read(MAX_BODY_SIZE + 1)
        too_large = len(body) > MAX_BODY_SIZE or (
            len(body) == MAX_BODY_SIZE and request.stream.read(1))
    except RequestEntityTooLarge:
        too_large = True
    if too_large:
        raise WebhookError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    request.environ[BODY] = body
    return body


def _verified_data(channel, request, body):
    "Return the decoded JSON body once its signature is checked"
    from linebot.v3 import SignatureValidator

    signature = request.headers.get('X-Line-Signature')
    if not signature:
        raise WebhookError(HTTPStatus.BAD_REQUEST, "missing signature")
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError:
        raise WebhookError(HTTPStatus.BAD_REQUEST, "malformed body")
    if not SignatureValidator(channel.channel_secret).validate(
            text, signature):
        raise WebhookError(HTTPStatus.UNAUTHORIZED, "invalid signature")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise WebhookError(HTTPStatus.BAD_REQUEST, "malformed body")


@app.route(
    '/<database_name>/shop_crm/line/<identifier>/webhook', methods={'POST'})
@json_answers
@set_max_request_size(MAX_BODY_SIZE)
@with_pool
@with_transaction(context={'_skip_warnings': True})
@webhook_errors
def line_webhook(request, pool, identifier):
    "Verify, store and queue the events; they are processed by the worker"
    from .line_event import InvalidWebhookBody

    Channel = pool.get('party.crm.line.channel')
    Event = pool.get('party.crm.line.event')

    body = _read_body(request)
    channels = []
    if IDENTIFIER.fullmatch(identifier):
        channels = Channel.search([('identifier', '=', identifier)], limit=1)
    if not channels or channels[0].identifier != identifier:
        raise WebhookError(HTTPStatus.NOT_FOUND, "unknown channel")
    channel, = channels
    data = _verified_data(channel, request, body)
    try:
        Event.receive(channel, data)
    except InvalidWebhookBody:
        raise WebhookError(HTTPStatus.BAD_REQUEST, "malformed body")
    return _json_response(HTTPStatus.OK)
