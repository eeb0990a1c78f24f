# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Every view of the module must open in the web client, sao 8.0.

sao builds a list column or a form widget by looking up the ``widget`` of
each field (the field type when the view does not set one) in a table, and
dies with ``ColumnFactory is not a constructor`` (or ``WidgetFactory``) on
a widget it does not know: the whole view then never opens.  No server-side
check sees that, so the tables of tryton-sao 8.0.11 (npm) are copied here:

- lists: ``Sao.View.TreeXMLViewParser.WIDGETS`` in ``src/view/tree.js``;
- forms (and list-forms, parsed as forms):
  ``Sao.View.FormXMLViewParser.WIDGETS`` in ``src/view/form.js``.

Graph and calendar views do not look their fields up in a widget table.
Lists have no ``datetime`` or ``timestamp`` column: show such fields as two
columns, ``widget="date"`` and ``widget="time"``, as
``trytond/ir/view/cron_list.xml`` does.
"""
import unittest

from lxml import etree

from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)

SAO_TREE_WIDGETS = {
    'binary', 'boolean', 'callto', 'char', 'date', 'dict', 'email', 'float',
    'image', 'integer', 'many2many', 'many2one', 'numeric', 'one2many',
    'one2one', 'progressbar', 'reference', 'selection', 'multiselection',
    'sip', 'text', 'time', 'timedelta', 'url',
    }
SAO_FORM_WIDGETS = {
    'binary', 'boolean', 'callto', 'char', 'color', 'date', 'datetime',
    'dict', 'document', 'email', 'float', 'html', 'image', 'integer',
    'many2many', 'many2one', 'multiselection', 'numeric', 'one2many',
    'one2one', 'password', 'progressbar', 'pyson', 'reference', 'richtext',
    'selection', 'sip', 'text', 'time', 'timedelta', 'timestamp', 'url',
    }
SAO_WIDGETS = {
    'tree': SAO_TREE_WIDGETS,
    'form': SAO_FORM_WIDGETS,
    'list-form': SAO_FORM_WIDGETS,
    }


def unknown_widgets(view, where):
    """Yield ``(where, view type, field, widget)`` for every field of the
    ``fields_view_get`` result ``view``, and of the views embedded in it,
    whose widget sao does not know."""
    known = SAO_WIDGETS.get(view['type'])
    fields = view['fields']
    if known is not None:
        for element in etree.fromstring(view['arch']).iter('field'):
            name = element.get('name')
            widget = element.get('widget') or fields[name]['type']
            if widget not in known:
                yield where, view['type'], name, widget
    for name, field in fields.items():
        for key, sub_view in field.get('views', {}).items():
            yield from unknown_widgets(
                sub_view, '%s > %s (%s %s)' % (
                    where, name, sub_view['model'], key))


class SaoViewsMixin:
    "Check every view of the module against the widgets of sao 8.0"
    module = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module([cls.module])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    def module_views(self):
        "Yield the ir.ui.view records of the module, inherited ones included"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        View = pool.get('ir.ui.view')
        data = ModelData.search([
                ('module', '=', self.module),
                ('model', '=', 'ir.ui.view'),
                ])
        self.assertTrue(data, msg="no view found")
        for record in data:
            yield record.fs_id, View(record.db_id)

    @with_transaction()
    def test_sao_widgets(self):
        "Test every field of the views has a widget sao 8.0 knows"
        pool = Pool()
        errors = []
        for fs_id, view in self.module_views():
            # An extension shows through the view it extends, with every
            # extension applied; the view of another model it inherits
            # from is only its starting arch.
            root = view
            while root.inherit and root.inherit.model == root.model:
                root = root.inherit
            Model = pool.get(root.model)
            definition = Model.fields_view_get(view_id=root.id)
            errors.extend(unknown_widgets(
                    definition, '%s.%s' % (self.module, fs_id)))
        self.assertEqual(errors, [], msg="sao 8.0 cannot show: %s" % '; '.join(
                '%s: %s field %r with widget %r' % e for e in errors))


class ShopCrmViewsTestCase(SaoViewsMixin, unittest.TestCase):
    "Test the views of shop_crm open in sao 8.0"
    module = 'shop_crm'

