# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The wizard that sends one LINE message to the selected customers, and
the record of each push with its recipients and holdouts."""
from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice, reduce_ids
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .holdout import DEFAULT_SHARE, HoldoutShareMixin, check_share
from .line_channel import check_user_company


class SegmentPush(HoldoutShareMixin, ModelSQL, ModelView):
    __string__ = "LINE Segment Push"
    __name__ = 'party.crm.line.segment_push'
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    channel = fields.Many2One(
        'party.crm.line.channel', "Channel", required=True, readonly=True)
    text = fields.Text("Text", required=True, readonly=True)
    date = fields.DateTime("Date", required=True, readonly=True)
    recipients = fields.One2Many(
        'party.crm.line.segment_push.recipient', 'push', "Recipients",
        readonly=True)
    holdouts = fields.One2Many(
        'party.crm.line.holdout', 'push', "Holdouts", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.holdout_share.readonly = True
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    def get_rec_name(self, name):
        return '%s (%s)' % (
            self.text.splitlines()[0][:40] if self.text else '',
            self.date.strftime('%Y-%m-%d %H:%M') if self.date else '')

    def hold_out(self, party_ids):
        "Record the holdouts among the parties and return their ids"
        pool = Pool()
        Party = pool.get('party.party')
        Holdout = pool.get('party.crm.line.holdout')
        cursor = Transaction().connection.cursor()
        party = Party.__table__()
        for sub_ids in grouped_slice(
                sorted(party_ids), backend.MAX_QUERY_PARAMS):
            held = Holdout.hold_out(
                'push', self, self.company, party.select(
                    party.id.as_('party'),
                    where=reduce_ids(party.id, sub_ids)),
                self.holdout_share, self.date)
        if not party_ids:
            return set()
        cursor.execute(*held)
        return {p for p, in cursor}


class SegmentPushRecipient(ModelSQL, ModelView):
    __string__ = "LINE Segment Push Recipient"
    __name__ = 'party.crm.line.segment_push.recipient'
    push = fields.Many2One(
        'party.crm.line.segment_push', "Push", required=True,
        readonly=True, ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Party", required=True, readonly=True,
        ondelete='CASCADE')
    message = fields.Many2One(
        'party.crm.line.message', "Message", readonly=True,
        ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('push')


class PushStart(HoldoutShareMixin, ModelView):
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
        "Return the selected parties, each once, in the selection order"
        pool = Pool()
        Party = pool.get('party.party')
        if self.model and self.model.__name__ == 'party.party':
            return list(self.records)
        parties = {}
        for record in self.records:
            # CRM lists name the customer party, sales lists customer
            party = getattr(record, 'party', None) or getattr(
                record, 'customer', None)
            if isinstance(party, Party):
                parties.setdefault(party.id, party)
        return list(parties.values())

    def default_start(self, fields):
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        Channel = pool.get('party.crm.line.channel')
        company = Transaction().context.get('company')
        check_user_company(company)
        parties = self._selected_parties()
        reachable = Message.reachable_parties(parties)
        recipients = [p.id for p in parties if p.id in reachable]
        channels = Channel.search([('company', '=', company)], limit=2)
        return {
            'company': company,
            'channel': channels[0].id if len(channels) == 1 else None,
            'recipients': recipients,
            'excluded': len(parties) - len(recipients),
            'holdout_share': DEFAULT_SHARE,
            }

    def _check_start(self):
        "Check on the server the company and channel chosen in the client"
        check_user_company(self.start.company)
        if self.start.channel.company != self.start.company:
            raise AccessError(gettext(
                    'shop_crm.msg_line_push_channel_company',
                    channel=self.start.channel.rec_name))
        check_share(getattr(self.start, 'holdout_share', None))

    def transition_send(self):
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        Scenario = pool.get('party.crm.line.scenario')
        SegmentPush = pool.get('party.crm.line.segment_push')
        Recipient = pool.get('party.crm.line.segment_push.recipient')
        self._check_start()
        parties = self._selected_parties()
        reachable = Message.reachable_parties(parties)
        push = SegmentPush(
            company=self.start.company, channel=self.start.channel,
            text=self.start.text, date=Scenario._now(),
            holdout_share=self.start.holdout_share)
        push.save()
        eligible = [p.id for p in parties if p.id in reachable]
        held = push.hold_out(eligible)
        recipients = [p for p in eligible if p not in held]
        messages = Message.create([{
                    'company': self.start.company.id,
                    'channel': self.start.channel.id,
                    'party': p,
                    'text': self.start.text,
                    } for p in recipients])
        Recipient.create([{
                    'push': push.id,
                    'party': m.party.id,
                    'message': m.id,
                    } for m in messages])
        if messages:
            Message.queue(messages)
        return 'end'
