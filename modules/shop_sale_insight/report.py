# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
import shlex
import shutil
from decimal import Decimal

from trytond.config import config
from trytond.pool import Pool
from trytond.report import Report
from trytond.transaction import Transaction


def converter_available():
    "Tell whether the program of the report convert command is installed"
    command = config.get('report', 'convert_command', default='soffice')
    return bool(shutil.which(shlex.split(command)[0]))


class CustomerProfitability(Report):
    "Customer Profitability"
    __name__ = 'sale.insight.customer.report'

    @classmethod
    def convert(cls, report, data, **kwargs):
        """Convert to PDF with Tryton's converter (LibreOffice's soffice by
        default) when it is installed; otherwise keep the ODT without
        trying it, so a server without LibreOffice logs no error."""
        if not converter_available():
            return report.template_extension, data
        return super().convert(report, data, **kwargs)

    @classmethod
    def get_context(cls, records, header, data):
        pool = Pool()
        Company = pool.get('company.company')
        Context = pool.get('sale.insight.context')
        context = Transaction().context
        report_context = super().get_context(records, header, data)

        company_id = context.get('company')
        company = Company(company_id) if company_id else None
        report_context['company'] = company
        report_context['from_date'] = context.get('from_date')
        report_context['to_date'] = context.get('to_date')
        period = context.get('period', 'month')
        report_context['period'] = period
        periods = dict(Context.fields_get(['period'])['period']['selection'])
        report_context['period_string'] = periods.get(period, period)
        report_context['totals'] = cls.get_totals(records)
        report_context['percent'] = cls.percent
        return report_context

    @classmethod
    def get_totals(cls, records):
        "Return the totals of the rows, rates from the summed amounts"
        revenue = sum((r.revenue or 0 for r in records), Decimal(0))
        cost = sum((r.cost or 0 for r in records), Decimal(0))
        profit = revenue - cost
        quantum = Decimal('0.0001')
        return {
            'revenue': revenue,
            'cost': cost,
            'profit': profit,
            'margin': (profit / revenue).quantize(quantum)
            if revenue else None,
            'markup': (profit / cost).quantize(quantum) if cost else None,
            'number': sum(r.number or 0 for r in records),
            'currency': records[0].currency if records else None,
            }

    @classmethod
    def percent(cls, value, lang=None):
        "Format a rate as a percentage with 2 decimals, empty when None"
        if value is None:
            return ''
        return cls.format_number(value * 100, lang, digits=2) + ' %'
