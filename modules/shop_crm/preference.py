# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pyson import Eval, If


class Preference(ModelSQL, ModelView):
    __string__ = "Customer Preference"
    __name__ = 'party.crm.preference'
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='CASCADE')
    category = fields.Many2One(
        'product.category', "Category", required=True, ondelete='CASCADE')
    product = fields.Many2One(
        'product.product', "Product", ondelete='CASCADE',
        domain=[
            If(Eval('category'),
                ('categories_all', '=', Eval('category', -1)),
                ()),
            ],
        help="Leave empty when the preference is for the whole category.")
    kind = fields.Selection([
            ('like', "Like"),
            ('dislike', "Dislike"),
            ], "Kind", required=True)
    note = fields.Char("Note")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.party, Index.Equality())),
                Index(t, (t.category, Index.Equality())),
                })

    @classmethod
    def default_kind(cls):
        return 'like'

    def get_rec_name(self, name):
        subject = self.product or self.category
        return '%s: %s' % (self.party.rec_name, subject.rec_name)
