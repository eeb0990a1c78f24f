# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The party's values for the placeholders of customer messages."""

HONORIFIC = '様'


def is_japanese(party):
    return bool(party.lang and party.lang.code.split('_')[0] == 'ja')


def party_placeholders(party):
    """Return the placeholder values of the party.

    - ``{name}``: the party's name, followed by the honorific (佐藤 美咲 様)
      when the party's language is Japanese;
    - ``{name_kana}``: the reading of the name (フリガナ), empty if unknown.
    """
    name = party.rec_name
    if is_japanese(party):
        name = '%s %s' % (name, HONORIFIC)
    return {
        'name': name,
        'name_kana': party.name_kana or '',
        }
