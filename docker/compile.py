# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Compile the installed Tryton server for the image (run by the Dockerfile).

- byte-compile trytond and its modules, also for PYTHONOPTIMIZE=1, since
  the server runs as a user who cannot write them;
- compile every translation catalogue (locale/*.po) of the installed
  modules the way trytond-admin reads them, so that a broken catalogue
  fails the build instead of the first update.
"""
import compileall
import glob
import os
import sys

import polib

import trytond


def main():
    root = os.path.dirname(trytond.__file__)
    if not compileall.compile_dir(root, quiet=1, optimize=[0, 1]):
        sys.exit("byte-compiling %s failed" % root)
    catalogues = glob.glob(
        os.path.join(root, 'modules', '*', 'locale', '*.po'))
    for path in sorted(catalogues):
        try:
            polib.pofile(path).to_binary()
        except Exception as exception:
            sys.exit("%s: %s" % (path, exception))
    print("compiled %s and %d translation catalogues"
        % (root, len(catalogues)))


if __name__ == '__main__':
    main()
