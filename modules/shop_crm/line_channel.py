# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""LINE channel, its Messaging API client and the retry policy."""
import datetime as dt
import email.utils
import logging
import urllib.parse
import uuid
from collections import namedtuple

from trytond import backend
from trytond.i18n import gettext
from trytond.model import DeactivableMixin, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.url import http_host

logger = logging.getLogger(__name__)

API_URL = 'https://api.line.me'
MULTICAST_SIZE = 500
MAX_ATTEMPTS = 5
RETRY_STATUSES = {429, 500, 502, 503, 504}
RETRY_BASE = 1.0
RETRY_MAX = 3600
REQUEST_TIMEOUT = 10
TEXT_MAX_LENGTH = 5000
# The size of a party name that keeps lists and letters readable
NAME_MAX_LENGTH = 100

Delivery = namedtuple('Delivery', ['status', 'error', 'retry_after'])


def is_sent(status):
    "Return whether the answer means LINE accepted the messages"
    # 409: the retry key was already accepted
    return status is not None and (200 <= status < 300 or status == 409)


def is_retryable(status):
    "Return whether a call answered with the status may be tried again"
    return status is None or status in RETRY_STATUSES


def retry_delay(retry_after, attempt, base=RETRY_BASE, now=None):
    """Return the seconds to wait before the next attempt

    retry_after is the Retry-After header (seconds or an HTTP date) or None;
    without it the delay grows exponentially with the attempt."""
    delay = base * 2 ** attempt
    if retry_after:
        try:
            delay = float(retry_after)
        except ValueError:
            try:
                date = email.utils.parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                pass
            else:
                now = now or dt.datetime.now(dt.timezone.utc)
                delay = (date - now).total_seconds()
    return max(0.0, min(delay, RETRY_MAX))


def batch_retry_key(keys):
    "Return the X-Line-Retry-Key of a batch from the keys of its messages"
    return str(uuid.uuid5(uuid.NAMESPACE_OID, '\n'.join(sorted(keys))))


def _header(headers, name):
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value


def _error_text(exception):
    status = getattr(exception, 'status', None)
    body = getattr(exception, 'body', None)
    if isinstance(body, bytes):
        body = body.decode('utf-8', 'replace')
    if status is not None:
        return ('%s %s' % (status, body or '')).strip()[:1000]
    return exception.__class__.__name__


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
    message_cost = fields.Numeric(
        "Cost per Message", digits=(16, 4),
        domain=['OR',
            ('message_cost', '=', None),
            ('message_cost', '>=', 0),
            ],
        help="What one message to one customer costs, in the company "
        "currency, to count the cost of pushes and scenarios.")
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
        # The copy keeps the credentials but gets its own webhook URL
        default = default.copy() if default is not None else {}
        default.setdefault('identifier', None)
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
                    user_id, _request_timeout=REQUEST_TIMEOUT)
            return profile.display_name
        except Exception as exception:
            logger.info(
                "LINE profile of %s on channel %s failed: %s",
                user_id, self.id, exception.__class__.__name__)
            return None

    @classmethod
    def fetch_line_names(cls, channels, friends):
        """Name the parties of new friends after their LINE display name

        friends are the [party id, name given at its creation] of parties
        created for friends of the channels.  A party renamed since keeps
        its name, and so does a party whose profile cannot be read.  The
        names are written together, after the calls: the task holds no
        lock while it waits on LINE."""
        Party = Pool().get('party.party')
        users = cls._unnamed_friends(dict(friends))
        names = {}
        for channel in channels:
            for party, user_id in users.items():
                if party not in names:
                    name = (channel.get_profile_name(user_id) or '').strip()
                    if name:
                        names[party] = name[:NAME_MAX_LENGTH]
        args = []
        for party, name in names.items():
            args.extend([[party], {'name': name}])
        if args:
            Party.write(*args)

    @classmethod
    def _unnamed_friends(cls, created_names):
        "Return the LINE user id of the parties that kept their created name"
        ContactMechanism = Pool().get('party.contact_mechanism')
        users = {}
        for sub_ids in grouped_slice(
                list(created_names), backend.MAX_QUERY_PARAMS):
            for contact in ContactMechanism.search([
                        ('party', 'in', list(sub_ids)),
                        ('type', '=', 'line'),
                        ], order=[('id', 'ASC')]):
                party = contact.party
                if party.name == created_names[party.id]:
                    users.setdefault(party, contact.value)
        return users

    def deliver(self, to, line_messages, retry_key):
        """Push (one user id) or multicast (a list) the LINE messages once

        Return a Delivery with the HTTP status (None when LINE was not
        reached), the error text and the Retry-After header."""
        from linebot.v3.messaging import (
            MessagingApi, MulticastRequest, PushMessageRequest)
        try:
            with self._api_client() as client:
                api = MessagingApi(client)
                if isinstance(to, str):
                    response = api.push_message_with_http_info(
                        PushMessageRequest(to=to, messages=line_messages),
                        x_line_retry_key=retry_key,
                        _request_timeout=REQUEST_TIMEOUT)
                else:
                    response = api.multicast_with_http_info(
                        MulticastRequest(to=to, messages=line_messages),
                        x_line_retry_key=retry_key,
                        _request_timeout=REQUEST_TIMEOUT)
            return Delivery(response.status_code, None, None)
        except Exception as exception:
            status = getattr(exception, 'status', None)
            if is_sent(status):
                return Delivery(status, None, None)
            return Delivery(
                status, _error_text(exception),
                _header(getattr(exception, 'headers', None), 'Retry-After'))


def check_user_company(company):
    "Raise AccessError unless the company is one of the user's companies"
    pool = Pool()
    User = pool.get('res.user')
    transaction = Transaction()
    if not transaction.user:
        # Crons and queue tasks run as root for their own company
        return
    company_id = int(company) if company is not None else None
    if company_id not in User.get_companies():
        raise AccessError(gettext('shop_crm.msg_line_company_access'))
