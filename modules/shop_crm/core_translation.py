# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Load the Japanese catalogues shipped for Tryton's core modules.

Core ships no Japanese, and an override file cannot carry a first
translation of a core string.  So each core catalogue is imported as if
that core module had shipped it: ``translation_import(lang, <core module>,
[file])``.

Updating a module imports its catalogues again, and core then writes every
translation it finds, changed or not; trytond-admin also marks its
languages translatable again.  Both write only what changes here, so that
an update of a database that is up to date writes nothing.
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
    def write(cls, *args):
        # trytond-admin marks the languages translatable at every update
        actions, args = iter(args), []
        for languages, values in zip(actions, actions):
            if values == {'translatable': True}:
                languages = [l for l in languages if not l.translatable]
            if languages:
                args.extend((languages, values))
        if args:
            super().write(*args)

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
        with Transaction().set_context(_shop_translation_import=True):
            super().translation_import(lang, module, po_path)
        # A module's own catalogue is imported when it is activated or
        # updated with the language translatable, and by the "Load
        # translations" button: the core ones follow it.
        if not Transaction().context.get('_shop_core_catalogue'):
            cls.import_core_catalogues([lang])

    @classmethod
    def save(cls, translations):
        if Transaction().context.get('_shop_translation_import'):
            translations = cls._changed(translations)
        super().save(translations)

    @classmethod
    def _changed(cls, translations):
        "The new translations and those whose values differ from the stored"
        stored = {t.id: t._save_values() for t in translations
            if t.id is not None and t.id >= 0}
        names = sorted({n for v in stored.values() for n in v})
        rows = {r['id']: r for r in cls.read(list(stored), names)}
        return [t for t in translations
            if t.id not in stored
            or any(rows[t.id][n] != v for n, v in stored[t.id].items())]

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
