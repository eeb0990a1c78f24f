# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The customers held out of a LINE push or scenario, as a control group.

A party is held out when ``holdout_hash(seed, party) mod 10000`` is below
the share in basis points.  The hash is written in SQL so that the choice
is one ``INSERT … SELECT``; ``holdout_hash`` is the same computation in
Python, for checks.  It is reproducible: the same seed (the push or the
scenario) and party always give the same answer."""
from decimal import Decimal

from sql import Cast, Literal
from sql.functions import CurrentTimestamp

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pyson import Eval
from trytond.transaction import Transaction

# 2**31 - 1, a prime: every product of two residues fits in 63 bits
PRIME = 2147483647
BASIS = 10000
DEFAULT_SHARE = Decimal('0.1')
# Seeds of pushes and scenarios differ even for the same id
PUSH_SEED, SCENARIO_SEED = 1, 2


def seed(kind, record_id):
    "Return the seed of a push or a scenario"
    return int(record_id) * 4 + kind


def holdout_hash(seed, party):
    "Return the hash in [0, PRIME) of the party for the seed"
    x = (party * 1000003 + seed * 7919 + 12345) % PRIME
    x = (x * 48271) % PRIME
    x = (x * x + seed) % PRIME
    return (x * 48271) % PRIME


def holdout_hash_sql(seed, party):
    "Return the SQL expression of holdout_hash over the party column"
    x = (Cast(party, 'BIGINT') * 1000003 + seed * 7919 + 12345) % PRIME
    x = (x * 48271) % PRIME
    x = (x * x + seed) % PRIME
    return (x * 48271) % PRIME


def share_basis(share):
    "Return the share as a whole number of basis points"
    return int((Decimal(str(share or 0)) * BASIS).to_integral_value())


def is_held_out(seed, party, share):
    "Tell whether the party is held out at the share (Python reference)"
    return holdout_hash(seed, int(party)) % BASIS < share_basis(share)


def held_out_sql(seed, party, share):
    "Return the SQL condition that the party column is held out"
    basis = share_basis(share)
    if not basis:
        return Literal(False)
    return (holdout_hash_sql(seed, party) % BASIS) < basis


def check_share(share):
    "Raise a ValidationError unless 0 ≤ share < 1"
    if share is None or not (0 <= share < 1):
        raise ValidationError(gettext(
                'shop_crm.msg_line_holdout_share', share=share))


class HoldoutShareMixin:
    "The share of the eligible customers held out"
    __slots__ = ()
    holdout_share = fields.Numeric(
        "Holdout Share", digits=(1, 4), required=True,
        help="The share of the eligible customers who get no message, "
        "chosen at random, to measure what the messages earn.")

    @classmethod
    def default_holdout_share(cls):
        return DEFAULT_SHARE


class Holdout(ModelSQL, ModelView):
    __string__ = "LINE Holdout"
    __name__ = 'party.crm.line.holdout'
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    push = fields.Many2One(
        'party.crm.line.segment_push', "Push", readonly=True,
        ondelete='CASCADE')
    scenario = fields.Many2One(
        'party.crm.line.scenario', "Scenario", readonly=True,
        ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Party", required=True, readonly=True,
        ondelete='CASCADE',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    reason = fields.Selection([
            ('random', "Random Control Group"),
            ], "Reason", required=True, readonly=True)
    share = fields.Numeric(
        "Share", digits=(1, 4), readonly=True,
        help="The holdout share in force when the party was held out.")
    date = fields.DateTime("Date", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.push, Index.Range()), (t.party, Index.Range())),
                Index(t, (t.scenario, Index.Range()),
                    (t.party, Index.Range())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def hold_out(cls, field, record, company, candidates, share, now):
        """Record the held out parties of the candidates query

        The candidates (a query with a party column) not yet held out for
        the record are chosen by the hash seeded by the record; returns the
        query of the parties held out for the record."""
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        holdout = cls.__table__()
        column = getattr(holdout, field)
        kind = PUSH_SEED if field == 'push' else SCENARIO_SEED
        held = holdout.select(holdout.party, where=column == record.id)
        if share_basis(share):
            new = candidates.select(
                Literal(int(company)), Literal(record.id), candidates.party,
                Literal('random'), Literal(share), Literal(now),
                Literal(transaction.user), CurrentTimestamp(),
                where=held_out_sql(
                    seed(kind, record.id), candidates.party, share)
                & ~candidates.party.in_(held),
                group_by=[candidates.party])
            cursor.execute(*holdout.insert([
                        holdout.company, column, holdout.party,
                        holdout.reason, holdout.share, holdout.date,
                        holdout.create_uid, holdout.create_date], new))
        return holdout.select(holdout.party, where=column == record.id)

