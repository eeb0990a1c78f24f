# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""フリガナ (name_kana) on the party."""
import unicodedata

from sql.conditionals import Coalesce

from trytond.model import fields
from trytond.pool import PoolMeta

_HIRAGANA = range(ord('ぁ'), ord('ゖ') + 1)
_HIRAGANA_MARKS = {'ゝ': 'ヽ', 'ゞ': 'ヾ'}
_KATAKANA_OFFSET = ord('ァ') - ord('ぁ')


def to_katakana(text):
    """Return text as full-width katakana.

    NFKC turns half-width katakana (ｻﾄｳ) and full-width ASCII into their
    standard forms, and joins ｶﾞ into ガ; hiragana is then shifted to the
    katakana block.  Runs of spaces become one space.
    """
    if text is None:
        return None
    text = unicodedata.normalize('NFKC', text)
    text = ''.join(
        chr(ord(c) + _KATAKANA_OFFSET) if ord(c) in _HIRAGANA
        else _HIRAGANA_MARKS.get(c, c)
        for c in text)
    return ' '.join(text.split()) or None


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'
    name_kana = fields.Char(
        "Name Kana",
        help="The reading of the name in full-width katakana (フリガナ).\n"
        "Hiragana and half-width katakana are converted.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Japanese lists sort by reading: parties without one by their name.
        cls._order_name = 'name_kana'
        order = cls._order
        position = (order.index(('name', 'ASC'))
            if ('name', 'ASC') in order else len(order))
        order.insert(position, ('name_kana', 'ASC'))

    @classmethod
    def order_name_kana(cls, tables):
        table, _ = tables[None]
        return [Coalesce(table.name_kana, table.name)]

    @fields.depends('name_kana')
    def on_change_name_kana(self):
        self.name_kana = to_katakana(self.name_kana)

    @classmethod
    def search_rec_name(cls, name, clause):
        domain = super().search_rec_name(name, clause)
        _, operator, operand, *extra = clause
        if isinstance(operand, str):
            operand = to_katakana(operand) or operand
        kana = ('name_kana', operator, operand, *extra)
        if domain[0] == 'AND':
            # a party without reading does not match a negative clause
            kana = ['OR', ('name_kana', '=', None), kana]
        return domain + [kana]

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if 'name_kana' in values:
            values['name_kana'] = to_katakana(values['name_kana'])
        return values
