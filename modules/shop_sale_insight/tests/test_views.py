# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import unittest

from trytond.modules.shop_crm.tests.test_views import SaoViewsMixin


class ShopSaleInsightViewsTestCase(SaoViewsMixin, unittest.TestCase):
    "Test the views of shop_sale_insight open in sao 8.0"
    module = 'shop_sale_insight'
