# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""LINE data on parties: one friend per party, merge and erase."""
from sql.aggregate import Count
from sql.operators import Equal

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Exclude
from trytond.model.modelsql import SQLConstraintError
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice, reduce_ids
from trytond.transaction import Transaction


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        if backend.name != 'sqlite':
            cls._sql_constraints += [
                ('line_value_exclude',
                    Exclude(t, (t.value, Equal), where=t.type == 'line'),
                    'shop_crm.msg_line_contact_unique'),
                ]

    @classmethod
    def validate(cls, contacts):
        super().validate(contacts)
        if backend.name == 'sqlite':
            # SQLite has no partial exclusion: check the values in one query
            cls._check_line_values(contacts)

    @classmethod
    def _check_line_values(cls, contacts):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids = [c.id for c in contacts if c.type == 'line']
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            values = table.select(table.value, where=reduce_ids(
                    table.id, sub_ids))
            cursor.execute(*table.select(table.value,
                    where=(table.type == 'line')
                    & table.value.in_(values),
                    group_by=[table.value],
                    having=Count(table.id) > 1,
                    limit=1))
            if cursor.fetchone():
                raise SQLConstraintError(gettext(
                        'shop_crm.msg_line_contact_unique'))


class Interaction(metaclass=PoolMeta):
    __name__ = 'party.crm.interaction'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + [
            'party.crm.line.event', 'party.crm.line.message']


class Replace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('party.crm.line.event', 'party'),
            ('party.crm.line.message', 'party'),
            ('party.crm.line.scenario.enrollment', 'party'),
            ('party.crm.line.link_code', 'party'),
            ('party.crm.line.holdout', 'party'),
            ('party.crm.line.segment_push.recipient', 'party'),
            ]

    def transition_replace(self):
        pool = Pool()
        Enrollment = pool.get('party.crm.line.scenario.enrollment')
        # A party is enrolled once per scenario: the destination keeps its
        # own enrollment and the steps it received.
        scenarios = {e.scenario for e in Enrollment.search([
                    ('party', '=', self.ask.destination.id),
                    ])}
        Enrollment.delete(Enrollment.search([
                    ('party', '=', self.ask.source.id),
                    ('scenario', 'in', [s.id for s in scenarios]),
                    ]))
        return super().transition_replace()


class Erase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Event = pool.get('party.crm.line.event')
        Message = pool.get('party.crm.line.message')
        return super().to_erase(party_id) + [
            (Event, [('party', '=', party_id)], True,
                ['payload', 'user_id'], [None, None]),
            (Message, [('party', '=', party_id)], True,
                ['text', 'payload'], ['****', None]),
            ]
