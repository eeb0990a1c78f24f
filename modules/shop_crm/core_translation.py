# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Load the Japanese catalogues shipped for Tryton's core modules.

Core ships no Japanese, and an override file cannot carry a first
translation of a core string.  So each core catalogue is imported as if
that core module had shipped it: ``translation_import(lang, <core module>,
[file])``.
"""
import glob
import os
import weakref

from trytond.ir.lang import get_parent_language
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

CATALOGUE_DIR = os.path.join(os.path.dirname(__file__), 'locale', 'core')
# (language, module) imported in each transaction, so that the modules
# loaded after one another do not import the same catalogue again.
_imported = weakref.WeakKeyDictionary()


def core_catalogues(language):
    "Return {core module: catalogue path} shipped for the language"
    paths = glob.glob(os.path.join(CATALOGUE_DIR, '*', '%s.po' % language))
    return {os.path.basename(os.path.dirname(p)): p for p in sorted(paths)}


def with_parents(codes):
    languages = set()
    for code in codes:
        while code:
            languages.add(code)
            code = get_parent_language(code)
    return languages


class Lang(metaclass=PoolMeta):
    __name__ = 'ir.lang'

    @classmethod
    def load_translations(cls, languages):
        pool = Pool()
        Translation = pool.get('ir.translation')
        super().load_translations(languages)
        Translation.import_core_catalogues(
            with_parents(l.code for l in languages))


class Translation(metaclass=PoolMeta):
    __name__ = 'ir.translation'

    @classmethod
    def translation_import(cls, lang, module, po_path):
        super().translation_import(lang, module, po_path)
        # A module's own catalogue is imported when it is activated or
        # updated with the language translatable, and by the "Load
        # translations" button: the core ones follow it.
        if not Transaction().context.get('_shop_core_catalogue'):
            cls.import_core_catalogues([lang])

    @classmethod
    def import_core_catalogues(cls, languages):
        "Import the shipped catalogues of the core modules already loaded"
        pool = Pool()
        Module = pool.get('ir.module')
        transaction = Transaction()
        imported = _imported.setdefault(transaction, set())
        loaded = {m.name for m in Module.search([
                    ('state', 'in', ['activated', 'to upgrade']),
                    ])}
        for language in sorted(languages):
            for module, path in core_catalogues(language).items():
                if module not in loaded or (language, module) in imported:
                    continue
                with transaction.set_context(_shop_core_catalogue=True):
                    cls.translation_import(language, module, [path])
                imported.add((language, module))
