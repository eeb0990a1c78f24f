# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""One-time codes that link a LINE friend to an existing customer."""
import datetime as dt
import secrets

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .line_channel import check_user_company

LINK_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'
LINK_CODE_LENGTH = 8
LINK_CODE_VALIDITY = dt.timedelta(days=1)


def _external():
    transaction = Transaction()
    return bool(transaction.user and transaction.check_access)


class LineLinkCode(ModelSQL, ModelView):
    __string__ = "LINE Link Code"
    __name__ = 'party.crm.line.link_code'
    _rec_name = 'code'
    code = fields.Char("Code", required=True, readonly=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    party = fields.Many2One(
        'party.party', "Party", required=True, readonly=True,
        ondelete='CASCADE',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    expiration_date = fields.DateTime(
        "Expiration Date", required=True, readonly=True)
    used_date = fields.DateTime("Used Date", readonly=True)
    event = fields.Many2One(
        'party.crm.line.event', "Event", readonly=True, ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'shop_crm.msg_line_link_code_unique'),
            ]
        cls._order = [('expiration_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def _now(cls):
        return Transaction().context.get('line_now') or dt.datetime.now()

    @classmethod
    def _new_code(cls):
        while True:
            code = ''.join(secrets.choice(LINK_CODE_ALPHABET)
                for _ in range(LINK_CODE_LENGTH))
            if not cls.search([('code', '=', code)], limit=1):
                return code

    @classmethod
    def create(cls, vlist):
        if _external():
            for values in vlist:
                if {'code', 'expiration_date', 'used_date', 'event'} & set(
                        values):
                    raise AccessError(gettext(
                            'shop_crm.msg_line_link_code_server'))
                check_user_company(values.get('company'))
        return super().create(vlist)

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values['code'] = cls._new_code()
            values['expiration_date'] = cls._now() + LINK_CODE_VALIDITY
        return values

    @classmethod
    def check_modification(cls, mode, codes, values=None, external=False):
        super().check_modification(
            mode, codes, values=values, external=external)
        if mode == 'write' and external:
            raise AccessError(gettext('shop_crm.msg_line_link_code_server'))

    @classmethod
    def generate(cls, party, company):
        "Return a new one-time link code for the party"
        check_user_company(company)
        link_code, = cls.create([{
                    'company': int(company),
                    'party': party.id,
                    }])
        return link_code

    @classmethod
    def find(cls, text, company):
        "Return the unused and valid link code of the text or None"
        text = (text or '').strip().upper().replace(' ', '')
        if (len(text) != LINK_CODE_LENGTH
                or set(text) - set(LINK_CODE_ALPHABET)):
            return None
        codes = cls.search([
                ('code', '=', text),
                ('company', '=', int(company)),
                ('used_date', '=', None),
                ('expiration_date', '>', cls._now()),
                ], limit=1)
        if codes:
            code, = codes
            return code

    def link(self, event, contact):
        "Merge the party of the LINE friend of the event into the code's"
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        source, target = contact.party, self.party
        if source != target:
            self._replace(source, target)
            # The merge deactivates the contacts it moves
            ContactMechanism.write(
                [ContactMechanism(contact.id)], {'active': True})
        event.party = target
        self.used_date = self._now()
        self.event = event
        self.save()
        event._log(gettext(
                'shop_crm.msg_line_interaction_linked',
                party=target.rec_name))

    @classmethod
    def _replace(cls, source, destination):
        "Move every record of source onto destination with party.replace"
        pool = Pool()
        Replace = pool.get('party.replace', type='wizard')
        session_id, _, _ = Replace.create()
        try:
            replace = Replace(session_id)
            replace.ask.source = source
            replace.ask.destination = destination
            with Transaction().set_context(_skip_warnings=True):
                replace.transition_replace()
        finally:
            Replace.delete(session_id)


class LinkCodeShow(ModelView):
    __string__ = "LINE Link Code"
    __name__ = 'party.crm.line.link_code.show'
    code = fields.Char("Code", readonly=True)
    expiration_date = fields.DateTime("Expiration Date", readonly=True)


class LinkCodeWizard(Wizard):
    __string__ = "LINE Link Code"
    __name__ = 'party.crm.line.link_code.create'
    start = StateTransition()
    show = StateView('party.crm.line.link_code.show',
        'shop_crm.line_link_code_show_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def transition_start(self):
        pool = Pool()
        LinkCode = pool.get('party.crm.line.link_code')
        company = Transaction().context.get('company')
        link_code = LinkCode.generate(self.record, company)
        self.show.code = link_code.code
        self.show.expiration_date = link_code.expiration_date
        return 'show'

    def default_show(self, fields):
        return {
            'code': self.show.code,
            'expiration_date': self.show.expiration_date,
            }
