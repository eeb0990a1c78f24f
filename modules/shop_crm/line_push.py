# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The wizard that sends one LINE message to the selected customers."""
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .line_channel import check_user_company


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
            }

    def _check_start(self):
        "Check on the server the company and channel chosen in the client"
        check_user_company(self.start.company)
        if self.start.channel.company != self.start.company:
            raise AccessError(gettext(
                    'shop_crm.msg_line_push_channel_company',
                    channel=self.start.channel.rec_name))

    def transition_send(self):
        pool = Pool()
        Message = pool.get('party.crm.line.message')
        self._check_start()
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
