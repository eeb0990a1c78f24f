# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
from decimal import Decimal

from sql import Literal, Null
from sql.aggregate import Avg
from sql.functions import Round

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Check, Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .company import context_company, user_companies
from .reference import check_references


class Rating(ModelSQL, ModelView):
    __string__ = "Customer Rating"
    __name__ = 'party.crm.rating'
    company = fields.Many2One('company.company', "Company", required=True)
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='CASCADE',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    date = fields.Date("Date", required=True)
    score = fields.Integer(
        "Score", required=True, help="From 1 (poor) to 5 (excellent).")
    product = fields.Many2One(
        'product.product', "Product", ondelete='SET NULL',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    sale = fields.Many2One(
        'sale.sale', "Sale", ondelete='SET NULL',
        domain=[
            ('party', '=', Eval('party', -1)),
            ('company', '=', Eval('company', -1)),
            ])
    comment = fields.Text("Comment")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('score_range', Check(t, (t.score >= 1) & (t.score <= 5)),
                'shop_crm.msg_rating_score_range'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.party, Index.Equality())),
                Index(t, (t.product, Index.Equality()),
                    where=t.product != Null),
                })
        cls._order.insert(0, ('date', 'DESC'))

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()

    def get_rec_name(self, name):
        return '%s: %s' % (self.party.rec_name, self.score)

    @classmethod
    def preprocess_values(cls, mode, values):
        # The Integer field would store 2.5 as 2
        values = super().preprocess_values(mode, values)
        score = values.get('score')
        if score is not None and not _is_whole(score):
            raise ValidationError(gettext(
                    'shop_crm.msg_rating_score_whole', score=score))
        return values

    @classmethod
    def validate_fields(cls, ratings, field_names):
        super().validate_fields(ratings, field_names)
        check_references(ratings, field_names, ['party', 'product', 'sale'])

    @fields.depends(
        'sale', 'party', '_parent_sale.party', '_parent_party.id')
    def on_change_sale(self):
        if self.sale and not self.party:
            self.party = self.sale.party


def _is_whole(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, (float, Decimal)) and value == int(value)


def _company_where(rating):
    "Return the SQL condition on the companies the user may read"
    if Transaction().context.get('company') is not None:
        company = context_company()
        return rating.company == company if company else Literal(False)
    companies = user_companies()
    if companies is None:
        return Literal(True)
    return fields.SQL_OPERATORS['in'](rating.company, list(companies))


def _rating_query(dimension, ids):
    pool = Pool()
    Rating = pool.get('party.crm.rating')
    rating = Rating.__table__()
    column = getattr(rating, dimension)
    where = column != Null
    if ids is not None:
        where &= fields.SQL_OPERATORS['in'](column, ids)
    where &= _company_where(rating)
    average = Round(Avg(rating.score), 2)
    return rating.select(
        column, average, where=where, group_by=[column]), average


def get_average_rating(records, dimension):
    "Return the average score per record, rated on the dimension column"
    cursor = Transaction().connection.cursor()
    result = dict.fromkeys(map(int, records))
    for sub_ids in grouped_slice(list(result), backend.MAX_QUERY_PARAMS):
        query, _ = _rating_query(dimension, sub_ids)
        cursor.execute(*query)
        for record, average in cursor:
            result[record] = Decimal(str(average)).quantize(Decimal('0.01'))
    return result


def search_average_rating(clause, dimension):
    "Return a domain on id for a clause on the average rating"
    _, operator, value = clause[:3]
    if operator not in _SEARCH_OPERATORS:
        raise ValidationError(gettext(
                'shop_crm.msg_average_rating_search_value', value=value))
    Operator = fields.SQL_OPERATORS[operator]
    query, average = _rating_query(dimension, None)
    query.columns = query.columns[:1]
    query.having = Operator(average, _search_value(operator, value))
    return [('id', 'in', query)]


_SEARCH_OPERATORS = {'=', '!=', '<', '<=', '>', '>=', 'in', 'not in'}


def _search_value(operator, value):
    "Return the value of a clause on the average as float(s)"
    def number(value):
        if value is None:
            return None
        if (isinstance(value, bool)
                or not isinstance(value, (int, float, Decimal))):
            raise ValidationError(gettext(
                    'shop_crm.msg_average_rating_search_value',
                    value=value))
        return float(value)
    if operator in {'in', 'not in'}:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [number(v) for v in value]
    return number(value)
