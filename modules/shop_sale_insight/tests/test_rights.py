# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The rights matrix: what each group may do on every model of both
modules, compared with the intended matrix written out below."""
import os

from trytond import backend
from trytond.model import ModelSingleton, ModelStorage, ModelView
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool, isregisteredby
from trytond.tests.test_tryton import with_transaction

from trytond.modules.shop_crm.tests.users import (
    ROLES, ShopDBTestCase, as_user, create_user, savepoint)

MODULES = {'shop_crm', 'shop_sale_insight'}
ROLE_ORDER = list(ROLES)

# model: read, create, write and delete of each role, in the order of
# ROLE_ORDER: none, sale, crm, crm_admin, insight, insight_admin
MATRIX = {
    'party.crm.attribute': '---- ---- r--- rcwd ---- ----',
    'party.crm.configuration': 'r--- r--- r--- rcwd r--- r---',
    'party.crm.configuration.company': 'r--- r--- r--- rcwd r--- r---',
    'party.crm.configuration.interaction_weight':
        'r--- r--- r--- rcwd r--- r---',
    'party.crm.engagement': '---- ---- r--- r--- ---- ----',
    'party.crm.inquiry': '---- ---- rcwd rcwd ---- ----',
    'party.crm.interaction': '---- ---- rcwd rcwd ---- ----',
    'party.crm.line.channel': '---- ---- r--- rcwd ---- ----',
    'party.crm.line.event': '---- ---- r--- r-wd ---- ----',
    'party.crm.line.link_code': '---- ---- r--- r--- ---- ----',
    'party.crm.line.holdout': '---- ---- r--- r--- ---- ----',
    'party.crm.line.message': '---- ---- rcwd rcwd ---- ----',
    'party.crm.line.scenario': '---- ---- rcwd rcwd ---- ----',
    'party.crm.line.scenario.activity': '---- ---- r--- r--- ---- ----',
    'party.crm.line.scenario.enrollment': '---- ---- r--- r--- ---- ----',
    # The probe creates a step without its scenario: SQLite stores it and
    # then refuses it by the scenario's access (AccessError), PostgreSQL
    # refuses it earlier by NOT NULL, after the access checks were passed.
    'party.crm.line.scenario.step': (
        '---- ---- r-wd r-wd ---- ----' if backend.name == 'sqlite'
        else '---- ---- rcwd rcwd ---- ----'),
    'party.crm.line.segment_push': '---- ---- r--- r--- ---- ----',
    'party.crm.line.segment_push.recipient':
        '---- ---- r--- r--- ---- ----',
    'party.crm.preference': '---- ---- rcwd rcwd ---- ----',
    'party.crm.rating': '---- ---- rcwd rcwd ---- ----',
    'party.crm.repurchase_due': '---- ---- r--- r--- ---- ----',
    'sale.channel': '---- r--- r--- rcwd ---- ----',
    'sale.insight.category': '---- ---- ---- ---- r--- r---',
    'sale.insight.category.time_series': '---- ---- ---- ---- r--- r---',
    'sale.insight.channel': '---- ---- ---- ---- r--- r---',
    'sale.insight.channel.time_series': '---- ---- ---- ---- r--- r---',
    'sale.insight.cohort': '---- ---- ---- ---- r--- r---',
    'sale.insight.customer': '---- ---- ---- ---- r--- r---',
    'sale.insight.customer.time_series': '---- ---- ---- ---- r--- r---',
    'sale.insight.customer_value.backtest': '---- ---- ---- ---- r--- r---',
    'sale.insight.customer_value.backtest.decile':
        '---- ---- ---- ---- r--- r---',
    'sale.insight.fact': '---- ---- ---- ---- r--- r---',
    'sale.insight.forecast': '---- ---- ---- ---- r--- r---',
    'sale.insight.inventory': '---- ---- ---- ---- r--- r---',
    'sale.insight.inventory.category': '---- ---- ---- ---- r--- r---',
    'sale.insight.inventory.overstock': '---- ---- ---- ---- r--- r---',
    'sale.insight.product': '---- ---- ---- ---- r--- r---',
    'sale.insight.product.time_series': '---- ---- ---- ---- r--- r---',
    'sale.insight.retention': '---- ---- ---- ---- r--- r---',
    'sale.insight.segment_channel': '---- ---- ---- ---- r--- r---',
    'sale.insight.uplift': '---- ---- ---- ---- r--- r---',
    }

# (model, button): the roles that may click it
BUTTONS = {
    ('party.crm.configuration', 'recompute_engagement'):
        'crm_admin',
    ('party.crm.inquiry', 'answer'):
        'crm crm_admin',
    ('party.crm.inquiry', 'cancel'):
        'crm crm_admin',
    ('party.crm.inquiry', 'close'):
        'crm crm_admin',
    ('party.crm.inquiry', 'draft'):
        'crm crm_admin',
    ('party.crm.inquiry', 'open'):
        'crm crm_admin',
    ('party.crm.line.event', 'process'):
        'crm_admin',
    ('party.crm.line.message', 'draft'):
        'crm crm_admin',
    ('party.crm.line.message', 'queue'):
        'crm crm_admin',
    ('party.crm.line.scenario', 'draft'):
        'crm crm_admin',
    ('party.crm.line.scenario', 'start'):
        'crm crm_admin',
    ('party.crm.line.scenario', 'stop'):
        'crm crm_admin',
    }

# wizard: the roles that may run it (party.replace and party.erase are
# core's, extended here, for party administrators)
WIZARDS = {
    'party.crm.line.link_code.create': 'crm crm_admin',
    'party.crm.line.push': 'crm crm_admin',
    'party.erase': '',
    'party.replace': '',
    'sale.insight.fact.rebuild': 'insight_admin',
    'sale.insight.forecast.compute': 'insight_admin',
    }

# (model, field): the roles that may read it (model and field access);
# the cost-derived figures of CRM models need both CRM and Sales Insight
FIELDS = {
    ('party.crm.engagement', 'lifetime_value'):
        '',
    ('party.crm.engagement', 'monetary'):
        'crm crm_admin',
    ('party.crm.engagement', 'profit'):
        '',
    ('party.crm.line.channel', 'access_token'):
        'crm_admin',
    ('party.crm.line.channel', 'channel_secret'):
        'crm_admin',
    ('party.crm.repurchase_due', 'lifetime_value'):
        '',
    ('party.crm.repurchase_due', 'profit'):
        '',
    ('party.party', 'average_rating'):
        'crm crm_admin',
    ('party.party', 'crm_attributes'):
        'crm crm_admin',
    ('party.party', 'engagement_score'):
        'crm crm_admin',
    ('party.party', 'expected_next_sale'):
        'crm crm_admin',
    ('party.party', 'lifetime_value'):
        'insight insight_admin',
    ('party.party', 'rfm_segment'):
        'crm crm_admin',
    ('sale.insight.customer', 'cost'):
        'insight insight_admin',
    ('sale.insight.customer', 'lifetime_value'):
        'insight insight_admin',
    ('sale.insight.customer', 'margin'):
        'insight insight_admin',
    ('sale.insight.customer', 'markup'):
        'insight insight_admin',
    ('sale.insight.customer', 'profit'):
        'insight insight_admin',
    }


def _roles_passing(users, call, **context):
    "Return the roles, space separated, for which call passes the checks"
    allowed = []
    for role in ROLE_ORDER:
        with as_user(users[role], **context):
            if _operation('x', call) == 'x':
                allowed.append(role)
    return ' '.join(allowed)


def _operation(code, call):
    "Return code when call passes the access checks, '-' when refused"
    try:
        with savepoint():
            call()
    except (AccessError, AccessButtonError):
        return '-'
    except NotImplementedError:
        # create, write and delete of a table_query model
        return '-'
    except Exception:
        # Refused by a later check (required field, empty records…):
        # the access checks were passed
        return code
    return code


class RightsTestCase(ShopDBTestCase):
    "Test the rights of each group"
    module = 'shop_sale_insight'

    def _users(self, company):
        return {role: create_user('rights_%s' % role, groups, [company])
            for role, groups in ROLES.items()}

    @classmethod
    def _models(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        return sorted(
            m.name for m in IrModel.search([('module', 'in', list(MODULES))])
            if issubclass(pool.get(m.name), ModelStorage))

    def _model_access(self, Model):
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        if issubclass(Model, ModelSingleton):
            # A singleton turns create and write into each other and skips
            # empty writes: ask the access rights the server applies
            return ''.join(
                _operation(c, lambda: ModelAccess.check(Model.__name__, m))
                for c, m in [
                    ('r', 'read'), ('c', 'create'), ('w', 'write'),
                    ('d', 'delete')])
        return ''.join([
                _operation('r', lambda: Model.search([], limit=1)),
                _operation('c', lambda: Model.create([{}])),
                _operation('w', lambda: Model.write([], {})),
                _operation('d', lambda: Model.delete([])),
                ])

    @with_transaction()
    def test_model_matrix(self):
        "Test read, create, write and delete of every model by every role"
        pool = Pool()
        Configuration = pool.get('party.crm.configuration')
        company = create_company()
        with set_company(company):
            Configuration(1).save()
            users = self._users(company)
            actual = {}
            for name in self._models():
                Model = pool.get(name)
                codes = []
                for role in ROLE_ORDER:
                    with as_user(users[role]):
                        codes.append(self._model_access(Model))
                actual[name] = ' '.join(codes)
        self._compare(actual, MATRIX, 'MATRIX')

    @with_transaction()
    def test_buttons(self):
        "Test each button of both modules by every role"
        pool = Pool()
        Configuration = pool.get('party.crm.configuration')
        company = create_company()
        with set_company(company):
            Configuration(1).save()
            users = self._users(company)
            actual = {}
            for name in self._models():
                Model = pool.get(name)
                if not issubclass(Model, ModelView):
                    continue
                records = (
                    [Model(1)] if issubclass(Model, ModelSingleton) else [])
                for button in sorted(Model._buttons):
                    actual[name, button] = _roles_passing(
                        users, lambda: getattr(Model, button)(records))
        self._compare(actual, BUTTONS, 'BUTTONS')

    @with_transaction()
    def test_wizards(self):
        "Test each wizard of both modules by every role"
        pool = Pool()
        ActionWizard = pool.get('ir.action.wizard')
        company = create_company()
        with set_company(company):
            users = self._users(company)
            actual = {}
            for action in ActionWizard.search([]):
                Wizard = pool.get(action.wiz_name, type='wizard')
                if not any(isregisteredby(Wizard, m, type_='wizard')
                        for m in MODULES):
                    continue
                context = {'action_id': action.action.id}
                if action.model:
                    context.update(active_model=action.model, active_ids=[])
                actual[action.wiz_name] = _roles_passing(
                    users, Wizard.check_access, **context)
        self._compare(actual, WIZARDS, 'WIZARDS')

    @with_transaction()
    def test_field_access(self):
        "Test the secret, cost-derived and CRM fields by every role"
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        FieldAccess = pool.get('ir.model.field.access')

        def read(model, field):
            ModelAccess.check(model, 'read')
            FieldAccess.check(model, [field], 'read')
        company = create_company()
        with set_company(company):
            users = self._users(company)
            actual = {}
            for model, field in FIELDS:
                actual[model, field] = _roles_passing(
                    users, lambda: read(model, field))
        self._compare(actual, FIELDS, 'FIELDS')

    def _compare(self, actual, intended, name):
        if os.environ.get('SHOP_PRINT_MATRIX'):
            print('\n%s = {' % name)
            for key, value in sorted(actual.items()):
                print('    %r: %r,' % (key, value))
            print('    }')
        self.assertEqual(set(actual), set(intended), msg=name)
        for key in sorted(intended):
            with self.subTest(key=key):
                self.assertEqual(actual[key], intended[key], msg=key)
