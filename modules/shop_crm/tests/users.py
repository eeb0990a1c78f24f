# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Users of one group each, and running code as them over the RPC checks."""
import unittest
from contextlib import contextmanager

from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, drop_db
from trytond.transaction import Transaction, check_access

# The groups of each role: every role alone
ROLES = {
    'none': [],
    'sale': [('sale', 'group_sale')],
    'crm': [('shop_crm', 'group_crm')],
    'crm_admin': [('shop_crm', 'group_crm_admin')],
    'insight': [('shop_sale_insight', 'group_sale_insight')],
    'insight_admin': [('shop_sale_insight', 'group_sale_insight_admin')],
    }
EVERY_GROUP = sorted({g for groups in ROLES.values() for g in groups})


class ShopDBTestCase(unittest.TestCase):
    "A test case on a database with the module activated"
    module = 'shop_crm'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module([cls.module])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()


def create_user(login, groups, companies):
    "Create a user of the groups (module, xml id) and companies"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    group_ids = [ModelData.get_id(m, x) for m, x in groups]
    user, = User.create([{
                'name': login,
                'login': login,
                'groups': [('add', group_ids)],
                'companies': [('add', [int(c) for c in companies])],
                'company': int(companies[0]) if companies else None,
                }])
    return user


@contextmanager
def as_user(user, **context):
    """Run as the user with its preferences and the access checks of RPC;
    context overrides the preferences, as a client may send anything"""
    pool = Pool()
    User = pool.get('res.user')
    transaction = Transaction()
    with transaction.set_user(user.id):
        preferences = User.get_preferences(context_only=True)
    preferences.update(context)
    with transaction.set_user(user.id), \
            transaction.set_context(preferences), check_access():
        yield


@contextmanager
def savepoint():
    "Undo what the block wrote, even after a database error"
    cursor = Transaction().connection.cursor()
    cursor.execute('SAVEPOINT shop_test')
    try:
        yield
    finally:
        cursor.execute('ROLLBACK TO SAVEPOINT shop_test')
        cursor.execute('RELEASE SAVEPOINT shop_test')
