#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Fill a new demo database with a small Japanese tea shop.

The database must exist with shop_crm and shop_sale_insight activated
(scripts/demo.sh does that).  This script creates, with proteus:

- the company "さくら茶房" in Japanese yen, its chart of accounts, fiscal years,
  a payment term and a cash payment method;
- the sale channels 店舗 (store), Web (web) and LINE (line);
- products (tea, sweets, tableware) with their stock;
- customers with their CRM data (birthday, consent, acquisition channel,
  preferences, inquiries, ratings, interactions);
- sales over the last months, confirmed, shipped, invoiced and paid, a few
  still in progress.

It also loads the Japanese language and closes the module configuration
wizard.  Run it only once per database: it does not check what exists.

Usage, from the top of the checkout (tryton.cfg leaves the database path to
the environment):

    export TRYTOND_DATABASE__PATH=$PWD/db
    .venv/bin/python scripts/demo_data.py [-d shop_demo] [-c tryton.cfg]
"""
import argparse
import datetime as dt
import random
import time
from decimal import Decimal

from proteus import Model
from proteus import config as proteus_config

TODAY = dt.date.today()
SALE_DAYS = 120  # sales are spread over the last SALE_DAYS days
RATE_DATE = dt.date(2020, 1, 1)

CHANNELS = [
    # code, name
    ('store', "店舗"),
    ('web', "Web"),
    ('line', "LINE"),
    ]

CATEGORIES = ["お茶", "和菓子", "器"]

PRODUCTS = [
    # name, category, list price, cost price, stock
    ("煎茶 100g", "お茶", 1200, 600, 200),
    ("抹茶 30g", "お茶", 2400, 1300, 120),
    ("ほうじ茶 100g", "お茶", 980, 450, 200),
    ("どら焼き 5個入", "和菓子", 1500, 700, 150),
    ("羊羹", "和菓子", 1800, 800, 100),
    ("湯呑み", "器", 3200, 1500, 60),
    ("急須", "器", 6800, 3200, 40),
    ]

CUSTOMERS = [
    # name, birthday, marketing consent, acquisition channel, email, LINE id
    ("佐藤 美咲", dt.date(1988, 4, 12), True, 'line',
        'misaki.sato@example.com', 'misaki_s'),
    ("鈴木 健太", dt.date(1975, 11, 3), False, 'store',
        'kenta.suzuki@example.com', None),
    ("高橋 陽子", dt.date(1962, 7, 21), True, 'web',
        'yoko.takahashi@example.com', None),
    ("田中 翔", dt.date(1995, 1, 30), True, 'line',
        'sho.tanaka@example.com', 'sho_tnk'),
    ("伊藤 さくら", dt.date(2000, 3, 15), False, 'web',
        'sakura.ito@example.com', 'sakura_i'),
    ("渡辺 誠", dt.date(1958, 9, 9), True, 'store',
        'makoto.watanabe@example.com', None),
    ]

# フリガナ as staff type it: hiragana or half-width katakana; the party
# stores full-width katakana.
NAME_KANA = {
    "佐藤 美咲": "さとう みさき",
    "鈴木 健太": "ｽｽﾞｷ ｹﾝﾀ",
    "高橋 陽子": "たかはし ようこ",
    "田中 翔": "タナカ ショウ",
    "伊藤 さくら": "いとう さくら",
    "渡辺 誠": "ﾜﾀﾅﾍﾞ ﾏｺﾄ",
    }

PREFERENCES = [
    # customer, category, kind, note
    ("佐藤 美咲", "お茶", 'like', "抹茶ラテ用に抹茶をよく買う"),
    ("佐藤 美咲", "和菓子", 'dislike', "甘すぎるものは苦手"),
    ("鈴木 健太", "器", 'like', "急須を集めている"),
    ("高橋 陽子", "和菓子", 'like', "羊羹が好き"),
    ("田中 翔", "お茶", 'like', "ほうじ茶派"),
    ("渡辺 誠", "お茶", 'like', "毎月煎茶を購入"),
    ]

INQUIRIES = [
    # customer, channel, subject, description, answered
    ("佐藤 美咲", 'line', "抹茶の再入荷はいつですか",
        "30g缶の在庫を知りたいです。", True),
    ("高橋 陽子", 'email', "ギフト包装について",
        "羊羹を贈答用に包装してもらえますか。", True),
    ("伊藤 さくら", 'line', "配送日の変更",
        "注文の配送日を週末に変更したいです。", False),
    ]

RATINGS = [
    # customer, days ago, score, product, comment
    ("佐藤 美咲", 40, 5, "抹茶 30g", "香りがとても良い"),
    ("鈴木 健太", 25, 4, "急須", "注ぎやすい"),
    ("高橋 陽子", 60, 5, "羊羹", "上品な甘さ"),
    ("田中 翔", 10, 3, "ほうじ茶 100g", "少し量が少ない"),
    ("渡辺 誠", 15, 4, "煎茶 100g", None),
    ]

INTERACTIONS = [
    # customer, days ago, type, direction, subject
    ("鈴木 健太", 30, 'call', 'outbound', "新しい急須の入荷案内"),
    ("佐藤 美咲", 20, 'line', 'inbound', "抹茶の淹れ方の質問"),
    ("渡辺 誠", 12, 'visit', 'inbound', "店頭で試飲"),
    ("高橋 陽子", 5, 'email', 'outbound', "お歳暮カタログの送付"),
    ]


def connect(database, config_file):
    config = proteus_config.set_trytond(
        database=database, config_file=config_file)
    # the history is in the past: no "payment date in the past" warnings
    config.skip_warning = True
    return config


def refresh_context(config):
    "Reload the user preferences (company, employee) into the context"
    User = Model.get('res.user')
    config._context = User.get_preferences(True, {})


def close_config_wizard():
    "Mark the module configuration wizard done so it opens no more"
    Item = Model.get('ir.module.config_wizard.item')
    items = Item.find([('state', '!=', 'done')])
    for item in items:
        item.state = 'done'
    Item.save(items)


def load_japanese(config):
    "Create the Japanese language if needed and load its translations"
    Lang = Model.get('ir.lang')
    with config.set_context(active_test=False):
        languages = Lang.find([('code', '=', 'ja')])
    if languages:
        ja, = languages
        ja.active = True
    else:
        ja = Lang(
            name="日本語", code='ja', direction='ltr',
            date='%Y/%m/%d', am="午前", pm="午後",
            grouping='[3, 3, 0]', decimal_point='.', thousands_sep=',',
            mon_grouping='[3, 3, 0]', mon_decimal_point='.',
            mon_thousands_sep=',', p_sign_posn=1, n_sign_posn=1,
            negative_sign='-', positive_sign='',
            p_cs_precedes=True, n_cs_precedes=True,
            p_sep_by_space=False, n_sep_by_space=False,
            nplurals=1, plural='0')
    ja.save()
    ja.click('load_translations')
    return ja


def create_yen():
    "The Japanese yen, with a rate before any sale"
    Currency = Model.get('currency.currency')
    yen = Currency(
        name="Japanese Yen", code='JPY', symbol="¥",
        digits=0, rounding=Decimal(1))
    yen.rates.new(date=RATE_DATE, rate=Decimal(1))
    yen.save()
    return yen


def create_shop_company(config, yen):
    from trytond.modules.company.tests.tools import (
        create_company, get_company)
    Party = Model.get('party.party')
    party = Party(name="さくら茶房")
    party.save()
    create_company(party=party, currency=yen)
    company = get_company()
    company.timezone = 'Asia/Tokyo'
    company.save()
    refresh_context(config)
    return company


def create_employee(config, company):
    "Make the admin user an employee of the shop"
    Party = Model.get('party.party')
    Employee = Model.get('company.employee')
    User = Model.get('res.user')
    party = Party(name="山田 花子")
    party.save()
    employee = Employee(party=party, company=company)
    employee.save()
    user = User(config.user)
    user.employees.append(employee)
    user.employee = employee
    user.save()
    refresh_context(config)
    return employee


def create_accounting(company):
    "Chart of accounts, fiscal years covering the sales, payment term"
    from trytond.modules.account.tests.tools import (
        create_chart, create_fiscalyear, get_accounts)
    from trytond.modules.account_invoice.tests.tools import (
        create_payment_term, set_fiscalyear_invoice_sequences)
    create_chart(company)
    first_sale = TODAY - dt.timedelta(days=SALE_DAYS)
    for year in range(first_sale.year, TODAY.year + 1):
        fiscalyear = create_fiscalyear(
            company, (dt.date(year, 1, 1), dt.date(year, 12, 31)))
        set_fiscalyear_invoice_sequences(fiscalyear)
        fiscalyear.click('create_period')
    payment_term = create_payment_term()
    payment_term.name = "即時払い"
    payment_term.save()
    return get_accounts(company), payment_term


def create_payment_method(company, accounts):
    Journal = Model.get('account.journal')
    PaymentMethod = Model.get('account.invoice.payment.method')
    journal, = Journal.find([('type', '=', 'cash')], limit=1)
    method = PaymentMethod(
        name="現金", company=company, journal=journal,
        credit_account=accounts['cash'], debit_account=accounts['cash'])
    method.save()
    return method


def create_channels(company):
    Channel = Model.get('sale.channel')
    channels = {}
    for code, name in CHANNELS:
        channel = Channel(name=name, code=code, company=company)
        channel.save()
        channels[code] = channel
    return channels


def create_categories(accounts):
    "The account category and the product categories used by the CRM"
    Category = Model.get('product.category')
    account_category = Category(
        name="商品", accounting=True,
        account_revenue=accounts['revenue'],
        account_expense=accounts['expense'])
    account_category.save()
    categories = {}
    for name in CATEGORIES:
        category = Category(name=name)
        category.save()
        categories[name] = category
    return account_category, categories


def create_products(account_category, categories):
    Template = Model.get('product.template')
    Category = Model.get('product.category')
    Uom = Model.get('product.uom')
    unit, = Uom.find([('name', '=', 'Unit')])
    products = {}
    for name, category, list_price, cost_price, _ in PRODUCTS:
        template = Template(
            name=name, type='goods', default_uom=unit, salable=True,
            list_price=Decimal(list_price),
            account_category=account_category)
        # a record can belong to one list only: append a fresh instance
        template.categories.append(Category(categories[category].id))
        template.save()
        product, = template.products
        product.cost_price = Decimal(cost_price)
        product.save()
        products[name] = product
    return products


def add_stock(products, date):
    "Count the initial stock of the warehouse with an inventory"
    Inventory = Model.get('stock.inventory')
    Location = Model.get('stock.location')
    storage, = Location.find([('code', '=', 'STO')])
    inventory = Inventory(location=storage, date=date)
    for name, _, _, _, quantity in PRODUCTS:
        inventory.lines.new(
            product=products[name], quantity=quantity, expected_quantity=0)
    inventory.click('confirm')
    return inventory


def create_customers(channels):
    Party = Model.get('party.party')
    customers = {}
    for name, birthday, consent, channel, email, line in CUSTOMERS:
        party = Party(
            name=name, birthday=birthday, marketing_consent=consent,
            acquisition_channel=channels[channel])
        party.name_kana = NAME_KANA.get(name)
        party.contact_mechanisms.new(type='email', value=email)
        if line:
            party.contact_mechanisms.new(type='line', value=line)
        party.save()
        customers[name] = party
    return customers


def plan_sales(customers, products):
    "Reproducible list of (date, customer, channel code, [(product, qty)])"
    rng = random.Random(20240401)
    product_names = [p[0] for p in PRODUCTS]
    sales = []
    for _ in range(18):
        date = TODAY - dt.timedelta(days=rng.randint(3, SALE_DAYS))
        name, _, _, channel, _, _ = rng.choice(CUSTOMERS)
        if rng.random() < 0.3:
            channel = rng.choice(CHANNELS)[0]
        lines = [(products[p], rng.randint(1, 3))
            for p in rng.sample(product_names, rng.randint(1, 3))]
        sales.append((date, customers[name], channel, lines))
    sales.sort(key=lambda s: s[0])
    return sales


def new_sale(date, customer, channel, lines, payment_term):
    Sale = Model.get('sale.sale')
    sale = Sale(
        party=customer, channel=channel, sale_date=date,
        payment_term=payment_term,
        invoice_method='order', shipment_method='order')
    for product, quantity in lines:
        # set one by one so that the on_change of the line sees the sale
        line = sale.lines.new()
        line.product = product
        line.quantity = quantity
    return sale


def ship(sales):
    "Ship the goods on the sale date"
    Shipment = Model.get('stock.shipment.out')
    shipments = []
    for sale in sales:
        for shipment in sale.shipments:
            shipment.effective_date = sale.sale_date
            shipments.append(shipment)
    Shipment.save(shipments)
    for button in ['assign_try', 'pick', 'pack', 'do']:
        Shipment.click(shipments, button)


def invoice_and_pay(sales, payment_method):
    "Post the invoices on the sale date and pay them in cash"
    Invoice = Model.get('account.invoice')
    invoices = []
    for sale in sales:
        for invoice in sale.invoices:
            invoice.invoice_date = sale.sale_date
            invoices.append(invoice)
    Invoice.save(invoices)
    Invoice.click(invoices, 'post')
    for invoice in invoices:
        pay = invoice.click('pay')
        pay.form.date = invoice.invoice_date
        pay.form.payment_method = payment_method
        pay.execute('choice')


def create_sales(customers, products, channels, payment_term,
        payment_method):
    """Sales of the last months: all done, except the 4 most recent
    (2 confirmed but not shipped, 1 quotation, 1 draft)"""
    Sale = Model.get('sale.sale')
    sales = [
        new_sale(date, customer, channels[channel], lines, payment_term)
        for date, customer, channel, lines in plan_sales(
            customers, products)]
    Sale.save(sales)
    Sale.click(sales[:-1], 'quote')
    Sale.click(sales[:-2], 'confirm')
    done = sales[:-4]
    for sale in done:
        sale.reload()
    ship(done)
    invoice_and_pay(done, payment_method)
    for sale in sales:
        sale.reload()
    return sales


def create_preferences(customers, categories):
    Preference = Model.get('party.crm.preference')
    for name, category, kind, note in PREFERENCES:
        Preference(
            party=customers[name], category=categories[category],
            kind=kind, note=note).save()


def create_inquiries(customers):
    Inquiry = Model.get('party.crm.inquiry')
    for name, channel, subject, description, answered in INQUIRIES:
        inquiry = Inquiry(
            party=customers[name], channel=channel, subject=subject,
            description=description)
        inquiry.save()
        inquiry.click('open')
        if answered:
            inquiry.click('answer')


def create_ratings(customers, products):
    Rating = Model.get('party.crm.rating')
    for name, days, score, product, comment in RATINGS:
        Rating(
            party=customers[name], date=TODAY - dt.timedelta(days=days),
            score=score, product=products[product], comment=comment).save()


def create_interactions(customers):
    Interaction = Model.get('party.crm.interaction')
    for name, days, type_, direction, subject in INTERACTIONS:
        date = dt.datetime.combine(
            TODAY - dt.timedelta(days=days), dt.time(5, 30))  # 14:30 JST
        Interaction(
            party=customers[name], date=date, type=type_,
            direction=direction, subject=subject).save()


def compute_engagement():
    "Fill the engagement lists as the nightly cron would"
    Cron = Model.get('ir.cron')
    cron, = Cron.find([('method', '=', 'party.crm.engagement|compute')])
    cron.click('run_once')


def progress(message, _start=time.monotonic()):
    print("  %5.1fs  %s" % (time.monotonic() - _start, message), flush=True)


def main(database, config_file):
    config = connect(database, config_file)
    close_config_wizard()
    progress("Japanese language")
    load_japanese(config)

    progress("company, chart of accounts, fiscal years")
    yen = create_yen()
    company = create_shop_company(config, yen)
    create_employee(config, company)
    accounts, payment_term = create_accounting(company)
    payment_method = create_payment_method(company, accounts)

    progress("channels, products, stock")
    channels = create_channels(company)
    account_category, categories = create_categories(accounts)
    products = create_products(account_category, categories)
    add_stock(products, TODAY - dt.timedelta(days=SALE_DAYS + 1))

    progress("customers and sales")
    customers = create_customers(channels)
    sales = create_sales(
        customers, products, channels, payment_term, payment_method)
    progress("preferences, inquiries, ratings, interactions")
    create_preferences(customers, categories)
    create_inquiries(customers)
    create_ratings(customers, products)
    create_interactions(customers)
    progress("customer engagement (RFM, lifetime value, next sale)")
    compute_engagement()
    close_config_wizard()

    states = {}
    for sale in sales:
        states[sale.state] = states.get(sale.state, 0) + 1
    progress("done: company %s (JPY), %d channels, %d products, "
        "%d customers, %d sales (%s)" % (
            company.rec_name, len(channels), len(products), len(customers),
            len(sales), ', '.join(
                '%d %s' % (n, s) for s, n in sorted(states.items()))))


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-d', '--database', default='shop_demo')
    parser.add_argument('-c', '--config', default='tryton.cfg',
        help="trytond configuration file (default: tryton.cfg)")
    args = parser.parse_args()
    main(args.database, args.config)
