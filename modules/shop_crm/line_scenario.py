# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""LINE step scenarios: enrollment, due steps and their record."""
import datetime as dt
from collections import defaultdict

from sql import Literal, Null, Window
from sql.functions import CurrentTimestamp, RowNumber

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice, reduce_ids
from trytond.transaction import Transaction

from .engagement import SEGMENTS
from .holdout import HoldoutShareMixin, check_share
from .line_channel import TEXT_MAX_LENGTH
from .placeholder import party_placeholders

SOLD_STATES = ['confirmed', 'processing', 'done']


class _SafeFormat(dict):
    def __missing__(self, key):
        return ''


class LineScenario(
        HoldoutShareMixin, Workflow, DeactivableMixin, ModelSQL, ModelView):
    __string__ = "LINE Scenario"
    __name__ = 'party.crm.line.scenario'
    _states = {
        'readonly': Eval('state') == 'running',
        }
    name = fields.Char("Name", required=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, states=_states)
    channel = fields.Many2One(
        'party.crm.line.channel', "Channel", required=True,
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    trigger = fields.Selection([
            ('follow', "Follow"),
            ('first_sale', "First Sale Confirmed"),
            ('category_sale', "Sale in Category"),
            ('segment', "Entering Segment"),
            ('repurchase_due', "Repurchase Due"),
            ], "Trigger", required=True, states=_states)
    category = fields.Many2One(
        'product.category', "Category",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        states={
            'invisible': Eval('trigger') != 'category_sale',
            'required': Eval('trigger') == 'category_sale',
            'readonly': _states['readonly'],
            })
    segment = fields.Selection(
        SEGMENTS, "Segment",
        states={
            'invisible': Eval('trigger') != 'segment',
            'required': Eval('trigger') == 'segment',
            'readonly': _states['readonly'],
            })
    repurchase_days = fields.Integer(
        "Repurchase Days",
        domain=['OR',
            ('repurchase_days', '=', None),
            ('repurchase_days', '>=', 0),
            ],
        states={
            'invisible': Eval('trigger') != 'repurchase_due',
            'required': Eval('trigger') == 'repurchase_due',
            },
        help="Enroll the customers expected to buy within this many days.")
    steps = fields.One2Many(
        'party.crm.line.scenario.step', 'scenario', "Steps")
    enrollments = fields.One2Many(
        'party.crm.line.scenario.enrollment', 'scenario', "Enrollments",
        readonly=True)
    holdouts = fields.One2Many(
        'party.crm.line.holdout', 'scenario', "Holdouts", readonly=True)
    state = fields.Selection([
            ('draft', "Draft"),
            ('running', "Running"),
            ('stopped', "Stopped"),
            ], "State", required=True, readonly=True, sort=False,
        help="Only running scenarios enroll customers and send steps.")
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))
        cls.holdout_share.states = {
            'readonly': Eval('state') == 'running',
            }
        cls._transitions |= {
            ('draft', 'running'),
            ('running', 'stopped'),
            ('stopped', 'running'),
            ('stopped', 'draft'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': Eval('state') != 'stopped',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'start': {
                    'invisible': Eval('state') == 'running',
                    'icon': 'tryton-launch',
                    'depends': ['state'],
                    },
                'stop': {
                    'invisible': Eval('state') != 'running',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        had_state = table_h.column_exist('state')
        super().__register__(module)
        if not had_state:
            # Scenarios created before the workflow were all running
            cursor = Transaction().connection.cursor()
            table = cls.__table__()
            cursor.execute(*table.update([table.state], ['running']))

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_repurchase_days(cls):
        return 7

    @classmethod
    def validate_fields(cls, scenarios, field_names):
        super().validate_fields(scenarios, field_names)
        if 'holdout_share' in field_names:
            for scenario in scenarios:
                check_share(scenario.holdout_share)

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, scenarios):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('running')
    def start(cls, scenarios):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('stopped')
    def stop(cls, scenarios):
        pass

    @classmethod
    def _now(cls):
        # Entry dates are stored to the second: PostgreSQL rounds a
        # timestamp(0), so a step due now could be stored in the future.
        now = Transaction().context.get('line_now') or dt.datetime.now()
        return now.replace(microsecond=0)

    @classmethod
    def enroll(cls, trigger, parties, company, category_ids=None):
        "Enroll the parties in the running scenarios of the trigger"
        pool = Pool()
        Party = pool.get('party.party')
        domain = [
            ('trigger', '=', trigger),
            ('company', '=', int(company)),
            ('state', '=', 'running'),
            ]
        if trigger == 'category_sale':
            domain.append(('category', 'in', list(category_ids or [])))
        scenarios = cls.search(domain)
        party_ids = sorted({int(p) for p in parties})
        if not scenarios or not party_ids:
            return []
        party = Party.__table__()
        enrollments = []
        for scenario in scenarios:
            for sub_ids in grouped_slice(party_ids, backend.MAX_QUERY_PARAMS):
                enrollments += scenario._enroll(party.select(
                        party.id.as_('party'),
                        where=reduce_ids(party.id, sub_ids)))
        return enrollments

    def _enroll(self, candidates):
        """Enroll the parties of the query not yet enrolled nor held out

        candidates is a query with a party column.  The share of the
        scenario not yet enrolled is held out first."""
        pool = Pool()
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        Holdout = pool.get('party.crm.line.holdout')
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        enrollment = Enrollment.__table__()
        enrolled = enrollment.select(
            enrollment.party, where=enrollment.scenario == self.id)
        now = self._now()
        held = Holdout.hold_out(
            'scenario', self, self.company,
            candidates.select(
                candidates.party, where=~candidates.party.in_(enrolled)),
            self.holdout_share, now)
        new = candidates.select(
            Literal(self.id), Literal(self.company.id), candidates.party,
            Literal(now), Literal('running'),
            Literal(transaction.user), CurrentTimestamp(),
            where=~candidates.party.in_(enrolled)
            & ~candidates.party.in_(held),
            group_by=[candidates.party])
        columns = [
            enrollment.scenario, enrollment.company, enrollment.party,
            enrollment.entry_date, enrollment.state,
            enrollment.create_uid, enrollment.create_date]
        if database.has_returning():
            cursor.execute(*enrollment.insert(
                    columns, new, returning=[enrollment.id]))
            ids = [i for i, in cursor]
        else:
            cursor.execute(*enrollment.select(
                    enrollment.id, order_by=[enrollment.id.desc], limit=1))
            last, = cursor.fetchone() or (0,)
            cursor.execute(*enrollment.insert(columns, new))
            cursor.execute(*enrollment.select(enrollment.id,
                    where=(enrollment.scenario == self.id)
                    & (enrollment.id > last)))
            ids = [i for i, in cursor]
        return Enrollment.browse(ids)

    def _candidates(self):
        "Return the query of the parties the list trigger enrolls"
        pool = Pool()
        Engagement = pool.get('party.crm.engagement')
        RepurchaseDue = pool.get('party.crm.repurchase_due')
        if self.trigger == 'segment':
            engagement = Engagement.__table__()
            return engagement.select(
                engagement.party.as_('party'),
                where=(engagement.company == self.company.id)
                & (engagement.segment == self.segment))
        elif self.trigger == 'repurchase_due':
            with Transaction().set_context(
                    company=self.company.id, days=self.repurchase_days):
                due = RepurchaseDue.table_query()
            return due.select(due.party.as_('party'))

    @classmethod
    def run(cls):
        "Enroll list triggers and send the due steps (cron)"
        pool = Pool()
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        company = Transaction().context.get('company')
        if company is None:
            return
        for scenario in cls.search([
                    ('company', '=', company),
                    ('state', '=', 'running'),
                    ('trigger', 'in', ['segment', 'repurchase_due']),
                    ]):
            scenario._enroll(scenario._candidates())
        Enrollment.send_due(Enrollment.search([
                    ('company', '=', company),
                    ('state', '=', 'running'),
                    ('scenario.state', '=', 'running'),
                    ]))


class LineScenarioStep(ModelSQL, ModelView):
    __string__ = "LINE Scenario Step"
    __name__ = 'party.crm.line.scenario.step'
    scenario = fields.Many2One(
        'party.crm.line.scenario', "Scenario", required=True,
        ondelete='CASCADE')
    sequence = fields.Integer("Sequence")
    delay = fields.TimeDelta(
        "Delay", required=True,
        help="The time after the entry in the scenario to send the step.")
    text = fields.Text(
        "Text", required=True,
        help="Placeholders: {name} (with 様 for Japanese), {name_kana}, "
        "{last_product}, {preferred_category}.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('scenario')
        cls._order = [
            ('scenario', 'ASC'), ('sequence', 'ASC NULLS FIRST'),
            ('delay', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_delay(cls):
        return dt.timedelta()

    @classmethod
    def validate_fields(cls, steps, field_names):
        super().validate_fields(steps, field_names)
        for step in steps:
            if 'delay' in field_names and step.delay < dt.timedelta():
                raise ValidationError(gettext(
                        'shop_crm.msg_line_step_delay_negative',
                        step=step.rec_name))
            if 'text' in field_names and len(step.text) > TEXT_MAX_LENGTH:
                raise ValidationError(gettext(
                        'shop_crm.msg_line_text_too_long',
                        length=len(step.text), maximum=TEXT_MAX_LENGTH))

    @classmethod
    def placeholder_data(cls, parties):
        """Return for each party id the data of the placeholders

        One query for the last products and one for the preferences."""
        pool = Pool()
        Sale = pool.get('sale.sale')
        SaleLine = pool.get('sale.line')
        Product = pool.get('product.product')
        Preference = pool.get('party.crm.preference')
        Category = pool.get('product.category')
        cursor = Transaction().connection.cursor()
        data = defaultdict(dict)
        party_ids = sorted({int(p) for p in parties})
        sale, line = Sale.__table__(), SaleLine.__table__()
        products, categories = {}, {}
        for sub_ids in grouped_slice(party_ids, backend.MAX_QUERY_PARAMS):
            ranked = line.join(sale, condition=line.sale == sale.id).select(
                sale.party, line.product,
                RowNumber(window=Window([sale.party], order_by=[
                            sale.sale_date.desc, line.id.desc])).as_('rank'),
                where=reduce_ids(sale.party, sub_ids)
                & sale.state.in_(SOLD_STATES)
                & (line.type == 'line') & (line.product != Null))
            cursor.execute(*ranked.select(
                    ranked.party, ranked.product, where=ranked.rank == 1))
            for party_id, product_id in cursor:
                products[party_id] = product_id
            for preference in Preference.search([
                        ('party', 'in', list(sub_ids)),
                        ('kind', '=', 'like'),
                        ('category', '!=', None),
                        ], order=[('id', 'ASC')]):
                categories.setdefault(
                    preference.party.id, preference.category.id)
        names = {p.id: p.rec_name for p in Product.browse(
                sorted(set(products.values())))}
        for party_id, product_id in products.items():
            data[party_id]['last_product'] = names[product_id]
        names = {c.id: c.rec_name for c in Category.browse(
                sorted(set(categories.values())))}
        for party_id, category_id in categories.items():
            data[party_id]['preferred_category'] = names[category_id]
        return data

    @classmethod
    def _placeholders(cls, party, data):
        "Return the value of each placeholder of the texts for the party"
        return {
            **party_placeholders(party),
            'last_product': data.get('last_product', ''),
            'preferred_category': data.get('preferred_category', ''),
            }

    def render(self, party, data=None):
        "Return the text of the step for the party"
        if data is None:
            data = self.placeholder_data([party])[party.id]
        values = _SafeFormat(self._placeholders(party, data))
        try:
            return self.text.format_map(values)
        except (ValueError, IndexError, AttributeError, KeyError):
            return self.text


class LineScenarioEnrollment(ModelSQL, ModelView):
    __string__ = "LINE Scenario Enrollment"
    __name__ = 'party.crm.line.scenario.enrollment'
    scenario = fields.Many2One(
        'party.crm.line.scenario', "Scenario", required=True,
        readonly=True, ondelete='CASCADE')
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    party = fields.Many2One(
        'party.party', "Party", required=True, readonly=True,
        ondelete='CASCADE',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    entry_date = fields.DateTime("Entry Date", required=True, readonly=True)
    last_step = fields.Many2One(
        'party.crm.line.scenario.step', "Last Step", readonly=True,
        ondelete='SET NULL')
    activities = fields.One2Many(
        'party.crm.line.scenario.activity', 'enrollment', "Steps Sent",
        readonly=True)
    state = fields.Selection([
            ('running', "Running"),
            ('done', "Done"),
            ('left', "Left"),
            ], "State", required=True, readonly=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('scenario_party_unique', Unique(t, t.scenario, t.party),
                'shop_crm.msg_line_enrollment_unique'),
            ]
        cls._sql_indexes.add(
            Index(t,
                (t.state, Index.Equality(cardinality='low')),
                where=t.state == 'running'))
        cls._order = [('entry_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'running'

    @classmethod
    def leave(cls, parties):
        "Stop the running scenarios of the parties"
        enrollments = cls.search([
                ('party', 'in', [int(p) for p in parties]),
                ('state', '=', 'running'),
                ])
        cls.write(enrollments, {'state': 'left'})

    @classmethod
    def _sent_steps(cls, enrollments):
        "Return the pairs (enrollment id, step id) already sent"
        pool = Pool()
        Activity = pool.get('party.crm.line.scenario.activity')
        sent = set()
        for sub in grouped_slice(enrollments, backend.MAX_QUERY_PARAMS):
            sent.update(
                (a.enrollment.id, a.step.id) for a in Activity.search([
                        ('enrollment', 'in', [e.id for e in sub]),
                        ('step', '!=', None),
                        ]))
        return sent

    @classmethod
    def send_due(cls, enrollments):
        "Create and queue the messages of the steps that are due"
        pool = Pool()
        Activity = pool.get('party.crm.line.scenario.activity')
        Message = pool.get('party.crm.line.message')
        Scenario = pool.get('party.crm.line.scenario')
        Step = pool.get('party.crm.line.scenario.step')
        now = Scenario._now()
        enrollments = [e for e in enrollments if e.state == 'running']
        parties = {e.party for e in enrollments}
        reachable = Message.reachable_parties(parties)
        sent = cls._sent_steps(enrollments)
        data = Step.placeholder_data(parties)
        steps = {}
        activities, to_save = [], []
        for enrollment in enrollments:
            to_save.append(enrollment)
            if enrollment.party.id not in reachable:
                enrollment.state = 'left'
                continue
            scenario = enrollment.scenario
            if scenario not in steps:
                steps[scenario] = list(scenario.steps)
            todo = [s for s in steps[scenario]
                if (enrollment.id, s.id) not in sent]
            for step in todo:
                if enrollment.entry_date + step.delay > now:
                    continue
                activities.append(Activity(
                        enrollment=enrollment, step=step, date=now,
                        message=Message(
                            company=enrollment.company,
                            channel=scenario.channel,
                            party=enrollment.party,
                            text=step.render(
                                enrollment.party,
                                data[enrollment.party.id]))))
                enrollment.last_step = step
                todo = [s for s in todo if s != step]
            if not todo:
                enrollment.state = 'done'
        cls.save(to_save)
        messages = [a.message for a in activities]
        Message.save(messages)
        Activity.save(activities)
        if messages:
            Message.queue(messages)
        return messages


class LineScenarioActivity(ModelSQL, ModelView):
    __string__ = "LINE Scenario Step Sent"
    __name__ = 'party.crm.line.scenario.activity'
    enrollment = fields.Many2One(
        'party.crm.line.scenario.enrollment', "Enrollment", required=True,
        readonly=True, ondelete='CASCADE')
    step = fields.Many2One(
        'party.crm.line.scenario.step', "Step", readonly=True,
        ondelete='SET NULL')
    message = fields.Many2One(
        'party.crm.line.message', "Message", readonly=True,
        ondelete='SET NULL')
    date = fields.DateTime("Date", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls.__access__.add('enrollment')
        cls._sql_constraints += [
            ('enrollment_step_unique', Unique(t, t.enrollment, t.step),
                'shop_crm.msg_line_activity_unique'),
            ]
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
