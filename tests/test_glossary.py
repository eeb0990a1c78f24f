# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The Japanese glossary holds in every catalogue the project ships."""
import csv
import fnmatch
import glob
import os
import unittest

import polib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLOSSARY = os.path.join(REPO, 'doc', 'glossary-ja.rst')


def glossary_tables(path=GLOSSARY):
    "Return the rows of the csv-tables of the glossary, table by table"
    tables, rows = [], None
    with open(path, encoding='utf-8') as fp:
        for line in fp:
            line = line.rstrip('\n')
            if line.startswith('.. csv-table::'):
                rows = []
                tables.append(rows)
            elif rows is not None:
                if line.startswith('   "'):
                    rows.extend(csv.reader(
                            [line.strip()], skipinitialspace=True))
                elif line.strip() and not line.startswith('   :'):
                    rows = None
    return tables


def catalogues():
    "Return {catalogue name: path} of every shipped Japanese catalogue"
    result = {}
    for path in glob.glob(os.path.join(REPO, 'modules', '*', 'locale',
                'ja.po')):
        result[path.split(os.sep)[-3]] = path
    for path in glob.glob(os.path.join(REPO, 'modules', '*', 'locale',
                'core', '*', 'ja.po')):
        result['core/' + path.split(os.sep)[-2]] = path
    sao = os.path.join(REPO, 'locale', 'sao', 'ja.po')
    if os.path.exists(sao):
        result['sao'] = sao
    return result


class Glossary:

    def __init__(self, path=GLOSSARY):
        terms, rules = glossary_tables(path)
        self.terms = {english: japanese for english, japanese, _ in terms}
        self.rules = rules

    def expected(self, catalogue, msgctxt, term):
        for english, japanese, where, context in self.rules:
            if (english == term
                    and fnmatch.fnmatchcase(catalogue, where)
                    and fnmatch.fnmatchcase(msgctxt or '', context)):
                return japanese
        return self.terms.get(term)


def term(text):
    return text.strip().rstrip(':').strip()


class GlossaryTestCase(unittest.TestCase):
    "Test the catalogues follow doc/glossary-ja.rst"

    @classmethod
    def setUpClass(cls):
        cls.glossary = Glossary()

    def test_glossary_tables(self):
        "Test the glossary has its terms and rules, one translation each"
        english = [t for t in self.glossary.terms]
        self.assertGreater(len(english), 100)
        terms, _ = glossary_tables()
        self.assertEqual(len(english), len(terms), "a term is listed twice")
        self.assertEqual(self.glossary.terms['Party'], '取引先')
        for rule in self.glossary.rules:
            self.assertEqual(len(rule), 4, rule)
            self.assertIn(rule[0], self.glossary.terms, rule)

    def test_rule_order(self):
        "Test a context rule wins over the default translation"
        self.assertEqual(self.glossary.expected(
                'shop_crm', 'field:party.crm.inquiry,party:', 'Party'),
            '顧客')
        self.assertEqual(self.glossary.expected(
                'core/party', 'field:party.address,party:', 'Party'),
            '取引先')
        self.assertEqual(self.glossary.expected(
                'core/sale', 'model:ir.model.button,string:sale_cancel_button',
                'Cancel'), '取消')
        self.assertEqual(self.glossary.expected('sao', '', 'Cancel'),
            'キャンセル')

    def test_catalogues_found(self):
        "Test the shipped catalogues are all checked"
        names = set(catalogues())
        self.assertGreaterEqual(
            names, {'shop_crm', 'shop_sale_insight', 'sao', 'core/party',
                'core/sale', 'core/product'})

    def test_same_term_same_translation(self):
        "Test every glossary term gets the glossary's translation"
        checked = 0
        for name, path in sorted(catalogues().items()):
            for entry in polib.pofile(path):
                value = (entry.msgstr_plural.get(0, '') if entry.msgid_plural
                    else entry.msgstr)
                if not value or entry.obsolete:
                    continue
                expected = self.glossary.expected(
                    name, entry.msgctxt, term(entry.msgid))
                if expected is None:
                    continue
                checked += 1
                with self.subTest(
                        catalogue=name, msgctxt=entry.msgctxt,
                        msgid=entry.msgid):
                    self.assertEqual(term(value), expected)
        self.assertGreater(checked, 300)
