# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
from trytond.model import fields
from trytond.pool import PoolMeta

from .rating import get_average_rating, search_average_rating


class Product(metaclass=PoolMeta):
    __name__ = 'product.product'
    average_rating = fields.Function(
        fields.Numeric("Average Rating", digits=(1, 2)),
        'get_average_rating', searcher='search_average_rating')

    @classmethod
    def get_average_rating(cls, products, name):
        return get_average_rating(products, 'product')

    @classmethod
    def search_average_rating(cls, name, clause):
        return search_average_rating(clause, 'product')
