# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""The companies a request may use.

The context ``company`` comes from the client: it counts only when it is
one of the user's companies, as Tryton's company rules decide
(``res.user.get_companies``).  The root user, which runs the crons, may
use any existing company."""
from trytond.i18n import gettext
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.transaction import Transaction


def user_companies():
    "Return the ids of the companies of the user, None for root"
    if Transaction().user == 0:
        return None
    return set(Pool().get('res.user').get_companies())


def is_user_company(company):
    "Tell whether the company (id or record) is one the user may use"
    if company is None:
        return False
    company = int(company)
    companies = user_companies()
    if companies is not None:
        return company in companies
    Company = Pool().get('company.company')
    return bool(Company.search([('id', '=', company)], limit=1))


def context_company():
    "Return the context company when the user may use it, else None"
    company = Transaction().context.get('company')
    if not isinstance(company, int) or isinstance(company, bool):
        return None
    return company if is_user_company(company) else None


def check_company(company):
    "Raise an AccessError unless the user may use the company"
    company = getattr(company, 'id', company)
    if (not isinstance(company, int) or isinstance(company, bool)
            or not is_user_company(company)):
        raise AccessError(gettext(
                'shop_crm.msg_company_not_allowed', company=company))
