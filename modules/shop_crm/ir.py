# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
from trytond.pool import PoolMeta


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('party.crm.engagement|compute',
                    "Compute Customer Engagement"),
                ('party.crm.line.scenario|run', "Send LINE Scenario Steps"),
                ])
