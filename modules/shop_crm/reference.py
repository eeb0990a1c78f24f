# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Many2One values that point to existing records.

SQLite does not enforce foreign keys, so a record could name a party that
does not exist; this check refuses it on every database."""
from trytond import backend
from trytond.i18n import gettext
from trytond.model.exceptions import ValidationError
from trytond.tools import grouped_slice
from trytond.transaction import Transaction


def check_references(records, field_names, names):
    "Raise a ValidationError when a Many2One of names targets no record"
    if not records:
        return
    Model = records[0].__class__
    cursor = Transaction().connection.cursor()
    for name in names:
        if field_names and name not in field_names:
            continue
        table = Model._fields[name].get_target().__table__()
        ids = {getattr(r, name).id for r in records if getattr(r, name)}
        found = set()
        for sub_ids in grouped_slice(list(ids), backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.select(
                    table.id, where=table.id.in_(list(sub_ids))))
            found.update(i for i, in cursor)
        if ids - found:
            raise ValidationError(gettext(
                    'shop_crm.msg_reference_missing',
                    id=min(ids - found), **Model.__names__(name)))
