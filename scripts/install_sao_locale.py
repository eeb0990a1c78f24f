#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Install the web client catalogues of locale/sao/ into a served sao.

Usage: install_sao_locale.py SAO_DIR

Each locale/sao/<lang>.po is compiled into SAO_DIR/locale/<lang>.json in
the "raw" format of po2json that sao's Gruntfile builds and sao loads
(``{"": {header}, msgid: [msgid_plural or null, msgstr, ...]}``).  Fuzzy
and untranslated entries are left out, as po2json does: sao shows them in
English.

It also installs web/custom.js, the customisation file that sao's
index.html loads after the client.
"""
import argparse
import glob
import json
import os
import sys

import shutil

import polib

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOGUES = os.path.join(HERE, '..', 'locale', 'sao')
CUSTOM = os.path.join(HERE, '..', 'web', 'custom.js')


def po2json(path):
    catalogue = polib.pofile(path)
    data = {'': {k.lower(): v for k, v in catalogue.metadata.items()}}
    for entry in catalogue.translated_entries():
        if entry.obsolete or entry.fuzzy:
            continue
        key = entry.msgid
        if entry.msgctxt:
            key = entry.msgctxt + '\x04' + key
        if entry.msgid_plural:
            plurals = [entry.msgstr_plural[i]
                for i in sorted(entry.msgstr_plural)]
            data[key] = [entry.msgid_plural] + plurals
        else:
            data[key] = [None, entry.msgstr]
    return data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('sao_dir', metavar='SAO_DIR',
        help="the folder of the served web client (with index.html)")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.sao_dir, 'index.html')):
        parser.error("%s is not a web client folder (no index.html)"
            % args.sao_dir)
    target = os.path.join(args.sao_dir, 'locale')
    os.makedirs(target, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(CATALOGUES, '*.po'))):
        lang = os.path.splitext(os.path.basename(path))[0]
        data = po2json(path)
        dest = os.path.join(target, '%s.json' % lang)
        with open(dest, 'w', encoding='utf-8') as fp:
            json.dump(data, fp, ensure_ascii=False)
        print("%s: %d messages" % (dest, len(data) - 1))
    if os.path.isfile(CUSTOM):
        shutil.copyfile(CUSTOM, os.path.join(args.sao_dir, 'custom.js'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
