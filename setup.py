# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Install shop_crm and shop_sale_insight as Tryton modules.

Each folder under ``modules/`` becomes the package
``trytond.modules.<name>`` with its ``trytond.modules`` entry point, the way
Tryton's own modules are packaged.
"""
import configparser
import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = ['shop_crm', 'shop_sale_insight']
PACKAGE_DATA = [
    'tryton.cfg', '*.xml', 'view/*.xml', 'locale/*.po', '*.fodt',
    'locale/core/*/*.po',
    'report/*.fodt', 'icons/*.svg', 'doc/*.rst', 'tests/*.rst',
    'tests/*.json', 'tests/data/*']


def module_depends(name):
    config = configparser.ConfigParser()
    with open(os.path.join(HERE, 'modules', name, 'tryton.cfg')) as fp:
        config.read_file(fp)
    info = dict(config.items('tryton'))
    return [d.strip() for d in info.get('depends', '').splitlines()
        if d.strip()]


def requirements():
    core = {'ir', 'res'} | set(MODULES)
    modules = sorted({d for m in MODULES for d in module_depends(m)} - core)
    # psycopg's C build: the pure Python one reads each row of a report
    # about 1 ms slower
    return (['trytond[postgresql]>=8.0,<8.1', 'psycopg[binary]>=3.1,<4']
        + ['trytond_%s>=8.0,<8.1' % m for m in modules]
        + ['python-sql>=1.5', 'line-bot-sdk>=3.0,<4']
        + ['scipy>=1.8'])


# The deployment (docker/): core's country and currency import scripts
# (proteus and pycountry); its tests validate the compose file.
DEPLOY = [
    'trytond_country[data]>=8.0,<8.1', 'trytond_currency[data]>=8.0,<8.1']
DEPLOY_TEST = DEPLOY + ['jsonschema>=4.18', 'PyYAML>=6']

packages, package_dir, package_data = [], {}, {}
for module in MODULES:
    package = 'trytond.modules.%s' % module
    packages += [package, package + '.tests']
    package_dir[package] = os.path.join('modules', module)
    package_dir[package + '.tests'] = os.path.join('modules', module, 'tests')
    package_data[package] = PACKAGE_DATA

setup(
    name='shop_tryton',
    version='8.0.0',
    description="Customer management and sales insight for Tryton shops",
    python_requires='>=3.10',
    packages=packages,
    package_dir=package_dir,
    package_data=package_data,
    install_requires=requirements(),
    extras_require={
        'test': ['proteus>=8.0,<8.1', 'trytond_stock_forecast>=8.0,<8.1']
        + DEPLOY_TEST,
        'deploy': DEPLOY,
        },
    entry_points={
        'trytond.modules': [
            '%s = trytond.modules.%s' % (m, m) for m in MODULES],
        },
    zip_safe=False,
    )
