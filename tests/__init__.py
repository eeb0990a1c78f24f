# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Cross-module scenarios of shop_crm and shop_sale_insight.

Every ``scenario_*.rst`` file of this folder is a doctest (run with proteus
against a fresh database) and is loaded by ``test_scenario``.
"""
