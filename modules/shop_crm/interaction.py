# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .reference import check_references


class Interaction(ModelSQL, ModelView):
    __string__ = "Customer Interaction"
    __name__ = 'party.crm.interaction'
    company = fields.Many2One('company.company', "Company", required=True)
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='CASCADE',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    date = fields.DateTime("Date", required=True)
    type = fields.Selection([
            ('call', "Call"),
            ('email', "Email"),
            ('line', "LINE"),
            ('visit', "Store Visit"),
            ('meeting', "Meeting"),
            ('web', "Web"),
            ('sale', "Sale"),
            ('inquiry', "Inquiry"),
            ('note', "Note"),
            ], "Type", required=True)
    direction = fields.Selection([
            ('inbound', "Inbound"),
            ('outbound', "Outbound"),
            ], "Direction", required=True,
        help="Inbound: the customer came to the shop; "
        "outbound: the shop reached out.")
    subject = fields.Char("Subject")
    description = fields.Text("Description")
    employee = fields.Many2One(
        'company.employee', "Employee",
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    origin = fields.Reference(
        "Origin", selection='get_origin', readonly=True,
        help="The document that produced the interaction.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.party, Index.Equality()), (t.date, Index.Range())),
                Index(t, (t.origin, Index.Equality())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_date(cls):
        return dt.datetime.now()

    @classmethod
    def default_direction(cls):
        return 'inbound'

    @classmethod
    def default_employee(cls):
        return Transaction().context.get('employee')

    @classmethod
    def _get_origin(cls):
        "Return the models an interaction can come from"
        return ['sale.sale', 'party.crm.inquiry']

    @classmethod
    def get_origin(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        get_name = IrModel.get_name
        models = cls._get_origin()
        return [(None, '')] + [(m, get_name(m)) for m in models]

    def get_rec_name(self, name):
        return self.subject or self.party.rec_name

    @classmethod
    def validate_fields(cls, interactions, field_names):
        super().validate_fields(interactions, field_names)
        check_references(
            interactions, field_names, ['company', 'party', 'employee'])
        cls.check_origin(interactions, field_names)

    @classmethod
    def check_origin(cls, interactions, field_names=None):
        "Refuse an origin that does not exist or is of another company"
        if field_names and not (field_names & {'origin', 'company'}):
            return
        for interaction in interactions:
            origin = interaction.origin
            if not origin or origin.id is None or origin.id < 0:
                continue
            Origin = origin.__class__
            if (not Origin.search([('id', '=', origin.id)], limit=1)
                    or getattr(origin, 'company', interaction.company)
                    != interaction.company):
                raise ValidationError(gettext(
                        'shop_crm.msg_interaction_origin_company',
                        interaction=interaction.rec_name,
                        origin=str(origin)))

    @classmethod
    def log_sales(cls, sales):
        "Log the confirmation of sales as inbound interactions"
        cls.save([cls(
                    company=s.company,
                    party=s.party,
                    date=dt.datetime.now(),
                    type='sale',
                    direction='inbound',
                    subject=gettext(
                        'shop_crm.msg_interaction_sale_confirmed',
                        sale=s.rec_name),
                    employee=s.confirmed_by,
                    origin=s) for s in sales])

    @classmethod
    def log_inquiries(cls, inquiries, message, direction):
        "Log a step of inquiries as interactions"
        cls.save([cls(
                    company=i.company,
                    party=i.party,
                    date=dt.datetime.now(),
                    type=i.interaction_type,
                    direction=direction,
                    subject=gettext(
                        message, inquiry=i.rec_name, subject=i.subject),
                    employee=i.employee,
                    origin=i) for i in inquiries])
