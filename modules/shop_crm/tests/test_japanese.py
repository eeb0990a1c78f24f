# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import re
import unittest

import polib

from trytond.modules.shop_crm.core_translation import core_catalogues
from trytond.modules.shop_crm.party_kana import to_katakana
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction

# The core modules a shop activates with ours.
CORE_MODULES = [
    'ir', 'res', 'party', 'company', 'country', 'currency', 'product',
    'stock', 'sale', 'account', 'account_invoice', 'account_product',
    'account_invoice_stock', 'stock_forecast']
# Modules that are only checked when installed.
OPTIONAL_MODULES = {'stock_forecast'}

PLACEHOLDER = re.compile(
    r'%\([a-z_]+\)[sdif]|%[sdif]|\$\{[a-z_]+\}|\{[a-z_]*\}|%\d'
    r'|\[\d+:|\[\d+:\]')


def module_installed(name):
    if name in {'ir', 'res'}:
        return True
    try:
        __import__('trytond.modules.%s' % name)
    except ImportError:
        return False
    return True


def fuzzy_count(module, language='ja'):
    catalogue = polib.pofile(core_catalogues(language)[module])
    return len(catalogue.fuzzy_entries())


class CoreCatalogueTestCase(unittest.TestCase):
    "Test the Japanese catalogues shipped for the core modules"

    def check_catalogue(self, module):
        path = core_catalogues('ja').get(module)
        self.assertIsNotNone(path, "no Japanese catalogue for %s" % module)
        catalogue = polib.pofile(path)
        self.assertGreater(len(catalogue), 0)
        for entry in catalogue:
            with self.subTest(msgctxt=entry.msgctxt, msgid=entry.msgid):
                self.assertRegex(
                    entry.msgctxt or '', r'^[a-z_.]+:[^:]*:[^:]*$')
                values = ([entry.msgstr_plural[0]] if entry.msgid_plural
                    else [entry.msgstr])
                for value in values:
                    self.assertTrue(value.strip() or not entry.msgid.strip())
                    self.assertEqual(
                        sorted(PLACEHOLDER.findall(value)),
                        sorted(PLACEHOLDER.findall(entry.msgid)))
                    for edge in [': ', ':', ' ', '\n']:
                        if entry.msgid.endswith(edge):
                            self.assertTrue(value.endswith(edge.strip()))
        # A fuzzy entry is not used by Tryton: it shows in English.
        self.assertLess(fuzzy_count(module), len(catalogue) * 0.1)


def _catalogue_test(module):
    def test(self):
        if module in OPTIONAL_MODULES and not module_installed(module):
            self.skipTest("%s is not installed" % module)
        self.check_catalogue(module)
    test.__doc__ = "Test the Japanese catalogue of %s" % module
    return test


for _module in CORE_MODULES:
    setattr(CoreCatalogueTestCase, 'test_catalogue_%s' % _module,
        _catalogue_test(_module))


class KanaTestCase(unittest.TestCase):
    "Test furigana normalisation"

    def test_to_katakana(self):
        "Test hiragana and half-width input become full-width katakana"
        for value, result in [
                ('さとう みさき', 'サトウ ミサキ'),
                ('ｻﾄｳ ﾐｻｷ', 'サトウ ミサキ'),
                ('ｽｽﾞｷ　ｹﾝﾀ', 'スズキ ケンタ'),
                ('ﾜﾀﾅﾍﾞ', 'ワタナベ'),
                ('ﾊﾟﾝ', 'パン'),
                ('サトウ  ミサキ ', 'サトウ ミサキ'),
                ('ゔぁ', 'ヴァ'),
                ('ゝゞ', 'ヽヾ'),
                ('ＡＢＣ', 'ABC'),
                ('', None),
                ('  ', None),
                (None, None),
                ]:
            with self.subTest(value=value):
                self.assertEqual(to_katakana(value), result)


class JapaneseTestCase(unittest.TestCase):
    "Test Japanese on Shop CRM"

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module('shop_crm')

    @classmethod
    def tearDownClass(cls):
        drop_db()

    def language(self, code):
        Lang = Pool().get('ir.lang')
        lang, = Lang.search([('code', '=', code)])
        return lang

    def load_japanese(self):
        Lang = Pool().get('ir.lang')
        Lang.load_translations([self.language('ja')])

    @with_transaction()
    def test_load_japanese(self):
        "Test loading Japanese puts the core catalogues in ir.translation"
        pool = Pool()
        Module = pool.get('ir.module')
        Translation = pool.get('ir.translation')
        TranslationSet = pool.get('ir.translation.set', type='wizard')

        session_id, _, _ = TranslationSet.create()
        translation_set = TranslationSet(session_id)
        translation_set.set_report()
        translation_set.set_view()
        self.load_japanese()

        activated = {m.name for m in Module.search(
                    [('state', '=', 'activated')])}
        modules = [m for m in CORE_MODULES if m in activated]
        self.assertGreaterEqual(len(modules), 7)

        def key(t):
            return (t.type, t.name, t.res_id, t.src)
        for module in modules:
            with self.subTest(module=module):
                sources = Translation.search([
                        ('lang', '=', 'en'),
                        ('module', '=', module),
                        ])
                rows = Translation.search([
                        ('lang', '=', 'ja'),
                        ('module', '=', module),
                        ('value', '!=', ''),
                        ('value', '!=', None),
                        ])
                self.assertGreaterEqual(len(sources), 10)
                translated = {key(t) for t in rows}
                missing = [k for k in map(key, sources)
                    if k not in translated and k[3]]
                self.assertEqual(missing, [])
                self.assertEqual(
                    len([t for t in rows if t.fuzzy]), fuzzy_count(module))

    @with_transaction()
    def test_load_japanese_twice(self):
        "Test loading Japanese again keeps one row per string"
        pool = Pool()
        Translation = pool.get('ir.translation')
        self.load_japanese()
        count = Translation.search_count([
                ('lang', '=', 'ja'), ('module', '=', 'party')])
        self.load_japanese()
        self.assertEqual(Translation.search_count([
                    ('lang', '=', 'ja'), ('module', '=', 'party')]), count)
        catalogue = polib.pofile(core_catalogues('ja')['party'])
        self.assertEqual(count, len(catalogue))

    @with_transaction()
    def test_japanese_label(self):
        "Test a core label reads in Japanese once Japanese is loaded"
        pool = Pool()
        self.load_japanese()
        with Transaction().set_context(language='ja'):
            Party = pool.get('party.party')
            fields = Party.fields_get(['name', 'addresses', 'name_kana'])
        self.assertEqual(fields['name']['string'], "名称")
        self.assertEqual(fields['addresses']['string'], "住所")
        self.assertEqual(fields['name_kana']['string'], "フリガナ")

    @with_transaction()
    def test_name_kana_stored(self):
        "Test the furigana is stored in full-width katakana"
        pool = Pool()
        Party = pool.get('party.party')
        party, = Party.create([{'name': "佐藤 美咲", 'name_kana': "さとう みさき"}])
        self.assertEqual(party.name_kana, "サトウ ミサキ")
        Party.write([party], {'name_kana': "ｻﾄｳ ﾐｻｷ"})
        self.assertEqual(party.name_kana, "サトウ ミサキ")
        party.name_kana = "すずき"
        party.on_change_name_kana()
        self.assertEqual(party.name_kana, "スズキ")

    @with_transaction()
    def test_name_kana_search(self):
        "Test parties are found by their furigana through the record name"
        pool = Pool()
        Party = pool.get('party.party')
        sato, suzuki, other = Party.create([
                {'name': "佐藤 美咲", 'name_kana': "サトウ ミサキ"},
                {'name': "鈴木 健太", 'name_kana': "スズキ ケンタ"},
                {'name': "Other"},
                ])
        for value, result in [
                ('さとう%', [sato]),
                ('%ｻﾄｳ%', [sato]),
                ('%ケンタ', [suzuki]),
                ('佐藤%', [sato]),
                ]:
            with self.subTest(value=value):
                self.assertEqual(
                    Party.search([('rec_name', 'ilike', value)]), result)
        self.assertEqual(
            Party.search([('rec_name', 'not ilike', 'さとう%')],
                order=[('id', 'ASC')]),
            [suzuki, other])

    @with_transaction()
    def test_name_kana_order(self):
        "Test parties sort by furigana, else by name"
        pool = Pool()
        Party = pool.get('party.party')
        parties = Party.create([
                {'name': "渡辺 誠", 'name_kana': "ワタナベ マコト"},
                {'name': "佐藤 美咲", 'name_kana': "サトウ ミサキ"},
                {'name': "伊藤 さくら", 'name_kana': "イトウ サクラ"},
                {'name': "タナカ"},
                ])
        ids = [p.id for p in parties]
        self.assertEqual(
            [p.name for p in Party.search([('id', 'in', ids)])],
            ["伊藤 さくら", "佐藤 美咲", "タナカ", "渡辺 誠"])

    @with_transaction()
    def test_address_format_japan(self):
        "Test a Japanese address prints postal code, prefecture, city, street"
        pool = Pool()
        Country = pool.get('country.country')
        Subdivision = pool.get('country.subdivision')
        Party = pool.get('party.party')
        Address = pool.get('party.address')
        japan, france = Country.create([
                {'name': "Japan", 'code': 'JP'},
                {'name': "France", 'code': 'FR'},
                ])
        tokyo, = Subdivision.create([{
                    'name': "東京都", 'code': 'JP-13', 'type': 'prefecture',
                    'country': japan.id}])
        party, = Party.create([{'name': "佐藤 美咲"}])
        address, = Address.create([{
                    'party': party.id, 'country': japan.id,
                    'subdivision': tokyo.id, 'postal_code': "150-0001",
                    'city': "渋谷区", 'street': "神宮前1-2-3"}])
        with Transaction().set_context(
                language='ja', address_with_party=True,
                address_from_country=japan):
            self.assertEqual(
                Address(address.id).full_address,
                "〒150-0001\n東京都渋谷区神宮前1-2-3\n佐藤 美咲")
        with Transaction().set_context(
                language='ja', address_from_country=france):
            self.assertEqual(
                Address(address.id).full_address,
                "JAPAN\n〒150-0001\n東京都渋谷区神宮前1-2-3")
        with Transaction().set_context(language='en'):
            self.assertNotIn('〒', Address(address.id).full_address)

    def _step(self, text):
        pool = Pool()
        Step = pool.get('party.crm.line.scenario.step')
        return Step(text=text)

    @with_transaction()
    def test_step_honorific(self):
        "Test {name} renders with 様 for a Japanese party"
        pool = Pool()
        Party = pool.get('party.party')
        ja, en = self.language('ja'), self.language('en')
        japanese, english, unknown = Party.create([
                {'name': "佐藤 美咲", 'name_kana': "さとう みさき",
                    'lang': ja.id},
                {'name': "Jane Doe", 'lang': en.id},
                {'name': "鈴木 健太"},
                ])
        step = self._step("{name}、こんにちは。({name_kana})")
        self.assertEqual(
            step.render(japanese), "佐藤 美咲 様、こんにちは。(サトウ ミサキ)")
        self.assertEqual(step.render(english), "Jane Doe、こんにちは。()")
        self.assertEqual(step.render(unknown), "鈴木 健太、こんにちは。()")

