#!/usr/bin/env python3
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Fill a new demo database with a Japanese tea shop and two years of sales.

The database must exist with shop_crm and shop_sale_insight activated
(scripts/demo.sh does that).  The script creates:

- with proteus, the master data: the company "さくら茶房" in Japanese yen,
  its chart of accounts, fiscal years, a payment term and a cash payment
  method; the sale channels 店舗 (store), Web (web) and LINE (line); product
  categories and products with their costs and opening stock;
- with the ORM in one transaction, about 300 customers (names with their
  furigana, addresses in their prefecture, language, birthday, consent,
  acquisition channel, LINE contact);
- set-based, in SQL, two years of sales over the three channels with their
  shipments and stock moves done at the sale date (with seasons: new tea in
  May, summer cold brew, year-end gifts in December), a few returns, and
  the monthly restocking; then the sales facts are filled;
- the CRM around them: preferences, ratings, inquiries in every state,
  interactions dated when they happened, a LINE Official Account with its
  friends, events, messages and a running step scenario with enrollments;
- with proteus again, the sales of the last days: shipped, invoiced and paid,
  a few still in progress;
- the customer engagement (RFM, predictions) and the demand forecasts, as
  the nightly crons would.

The plan of the shop comes from a fixed seed: two runs on the same day give
the same shop.  It also loads the Japanese language and closes the module
configuration wizard.  Run it only once per database: it does not check
what exists.

Usage, from the top of the checkout (tryton.cfg leaves the database path to
the environment):

    export TRYTOND_DATABASE__PATH=$PWD/db
    .venv/bin/python scripts/demo_data.py [-d shop_demo] [-c tryton.cfg]
"""
import argparse
import datetime as dt
import json
import random
import time
import uuid
import warnings
from collections import Counter, defaultdict
from contextlib import contextmanager
from decimal import Decimal

from proteus import Model
from proteus import config as proteus_config

TODAY = dt.date.today()
HISTORY_DAYS = 730  # the sales history covers the last two years
START = TODAY - dt.timedelta(days=HISTORY_DAYS)
RECENT_DAYS = 6  # the sales of the last days go through the workflow
RATE_DATE = dt.date(2020, 1, 1)
SEED = 20240401
DUE_DAYS = 14  # the default days of the Repurchase Due list
JST = dt.timedelta(hours=9)  # the company's timezone, Asia/Tokyo

CHANNELS = [
    # code, name
    ('store', "店舗"),
    ('web', "Web"),
    ('line', "LINE"),
    ]

CATEGORIES = ["お茶", "和菓子", "器", "ギフト"]

PRODUCTS = [
    # name, category, list price, cost price, opening stock, months on sale
    ("煎茶 100g", "お茶", 1200, 600, 120, None),
    ("深蒸し煎茶 100g", "お茶", 1500, 700, 80, None),
    ("玉露 50g", "お茶", 3000, 1500, 40, None),
    ("抹茶 30g", "お茶", 2400, 1300, 60, None),
    ("ほうじ茶 100g", "お茶", 980, 450, 120, None),
    ("玄米茶 200g", "お茶", 860, 380, 90, None),
    ("新茶 100g", "お茶", 2000, 900, 0, {5, 6}),
    ("水出し緑茶 ティーバッグ", "お茶", 1080, 450, 0, {6, 7, 8}),
    ("どら焼き 5個入", "和菓子", 1500, 700, 40, None),
    ("羊羹", "和菓子", 1800, 800, 60, None),
    ("最中 10個入", "和菓子", 2200, 1000, 30, None),
    ("抹茶カステラ", "和菓子", 1600, 750, 30, None),
    ("湯呑み", "器", 3200, 1500, 45, None),
    ("急須", "器", 6800, 3200, 25, None),
    ("茶筅", "器", 4500, 2100, 20, None),
    ("煎茶ギフトセット", "ギフト", 5400, 2600, 30, None),
    ("お歳暮詰め合わせ", "ギフト", 8800, 4300, 0, {11, 12}),
    ]
# The products bought all year, with their weight in a basket
EVERYDAY = {
    "煎茶 100g": 10, "深蒸し煎茶 100g": 6, "玉露 50g": 2, "抹茶 30g": 5,
    "ほうじ茶 100g": 8, "玄米茶 200g": 4, "どら焼き 5個入": 4, "羊羹": 3,
    "最中 10個入": 2, "抹茶カステラ": 2, "湯呑み": 1, "急須": 0.6,
    "茶筅": 0.6, "煎茶ギフトセット": 1,
    }

# The first customers, with the data the tour of the README shows
CUSTOMERS = [
    # name, furigana, birthday, marketing consent, acquisition channel
    ("佐藤 美咲", "さとう みさき", dt.date(1988, 4, 12), True, 'line'),
    ("鈴木 健太", "ｽｽﾞｷ ｹﾝﾀ", dt.date(1975, 11, 3), False, 'store'),
    ("高橋 陽子", "たかはし ようこ", dt.date(1962, 7, 21), True, 'web'),
    ("田中 翔", "タナカ ショウ", dt.date(1995, 1, 30), True, 'line'),
    ("伊藤 さくら", "いとう さくら", dt.date(2000, 3, 15), False, 'web'),
    ("渡辺 誠", "ﾜﾀﾅﾍﾞ ﾏｺﾄ", dt.date(1958, 9, 9), True, 'store'),
    ]
CUSTOMER_COUNT = 300

SURNAMES = [
    ("佐藤", "さとう"), ("鈴木", "すずき"), ("高橋", "たかはし"),
    ("田中", "たなか"), ("伊藤", "いとう"), ("渡辺", "わたなべ"),
    ("山本", "やまもと"), ("中村", "なかむら"), ("小林", "こばやし"),
    ("加藤", "かとう"), ("吉田", "よしだ"), ("山田", "やまだ"),
    ("佐々木", "ささき"), ("山口", "やまぐち"), ("松本", "まつもと"),
    ("井上", "いのうえ"), ("木村", "きむら"), ("林", "はやし"),
    ("斎藤", "さいとう"), ("清水", "しみず"), ("山崎", "やまざき"),
    ("森", "もり"), ("池田", "いけだ"), ("橋本", "はしもと"),
    ("阿部", "あべ"), ("石川", "いしかわ"), ("前田", "まえだ"),
    ("藤田", "ふじた"), ("小川", "おがわ"), ("岡田", "おかだ"),
    ("後藤", "ごとう"), ("長谷川", "はせがわ"), ("村上", "むらかみ"),
    ("近藤", "こんどう"), ("石井", "いしい"), ("坂本", "さかもと"),
    ("遠藤", "えんどう"), ("青木", "あおき"), ("藤井", "ふじい"),
    ("西村", "にしむら"), ("福田", "ふくだ"), ("太田", "おおた"),
    ]
GIVEN_NAMES = [
    ("美咲", "みさき"), ("陽菜", "ひな"), ("結衣", "ゆい"), ("葵", "あおい"),
    ("さくら", "さくら"), ("花子", "はなこ"), ("由美", "ゆみ"),
    ("恵子", "けいこ"), ("直子", "なおこ"), ("真由美", "まゆみ"),
    ("裕子", "ゆうこ"), ("千尋", "ちひろ"), ("彩", "あや"),
    ("芳子", "よしこ"), ("和子", "かずこ"), ("明美", "あけみ"),
    ("健太", "けんた"), ("翔", "しょう"), ("大輔", "だいすけ"),
    ("誠", "まこと"), ("拓也", "たくや"), ("直樹", "なおき"),
    ("浩", "ひろし"), ("隆", "たかし"), ("健一", "けんいち"),
    ("蓮", "れん"), ("悠人", "ゆうと"), ("大和", "やまと"),
    ("修", "おさむ"), ("茂", "しげる"), ("勇気", "ゆうき"),
    ("一郎", "いちろう"),
    ]
# A few customers from abroad, in English, their names in katakana
FOREIGN_NAMES = [
    ("Emily Clark", "エミリー クラーク"), ("James Miller", "ジェームズ ミラー"),
    ("Sophie Martin", "ソフィー マルタン"), ("Daniel Wong", "ダニエル ウォン"),
    ("Olivia Brown", "オリビア ブラウン"), ("Lucas Silva", "ルーカス シルバ"),
    ("Anna Schmidt", "アンナ シュミット"), ("Noah Wilson", "ノア ウィルソン"),
    ]
FOREIGN_EVERY = 40  # one customer in FOREIGN_EVERY is from abroad

PREFECTURES = [
    # ISO code, name, weight, [(city, street, postal code)]
    ('JP-13', "東京都", 30, [("渋谷区", "神南1-19-11", "150-0041"),
            ("世田谷区", "三軒茶屋2-11-22", "154-0024"),
            ("杉並区", "阿佐谷南1-15-1", "166-0004"),
            ("台東区", "浅草2-3-1", "111-0032")]),
    ('JP-14', "神奈川県", 12, [("横浜市中区", "山下町1-1", "231-0023"),
            ("川崎市中原区", "小杉町3-264", "211-0063"),
            ("鎌倉市", "雪ノ下3-5-10", "248-0005")]),
    ('JP-11', "埼玉県", 7, [("さいたま市浦和区", "高砂3-15-1", "330-0063")]),
    ('JP-12', "千葉県", 6, [("千葉市中央区", "市場町1-1", "260-0855")]),
    ('JP-22', "静岡県", 8, [("静岡市葵区", "追手町9-6", "420-0853"),
            ("浜松市中央区", "元城町103-2", "430-0946")]),
    ('JP-23', "愛知県", 6, [("名古屋市中区", "三の丸3-1-2", "460-0001")]),
    ('JP-26', "京都府", 6, [("京都市中京区", "寺町通御池上る", "604-8571"),
            ("宇治市", "宇治琵琶33", "611-0021")]),
    ('JP-27', "大阪府", 8, [("大阪市北区", "梅田1-1-3", "530-0001")]),
    ('JP-28', "兵庫県", 4, [("神戸市中央区", "加納町6-5-1", "650-0001")]),
    ('JP-01', "北海道", 4, [("札幌市中央区", "北1条西2", "060-0001")]),
    ('JP-04', "宮城県", 3, [("仙台市青葉区", "国分町3-7-1", "980-0803")]),
    ('JP-40', "福岡県", 4, [("福岡市中央区", "天神1-8-1", "810-0001")]),
    ('JP-47', "沖縄県", 2, [("那覇市", "泉崎1-1-1", "900-0021")]),
    ]

# How customers buy: share of the customers, and how their sales go
PROFILES = [
    # name, share, days between sales (min, max), how the sales go
    ('regular', 0.20, (18, 45), 'active'),
    ('occasional', 0.22, (55, 120), 'active'),
    ('lapsed', 0.12, (20, 45), 'lapsed'),
    ('gift', 0.13, None, 'gift'),
    ('new', 0.11, None, 'new'),
    ('one_time_old', 0.11, None, 'one_old'),
    ('one_time_recent', 0.11, None, 'one_recent'),
    ]
RETURN_RATE = 0.015  # share of the sales with goods sent back
RETURN_REASONS = ["破損のため返品", "注文間違いのため返品", "イメージと違うため返品"]

PREFERENCE_NOTES = {
    ("お茶", 'like'): ["毎月煎茶を購入", "ほうじ茶派", "濃い目が好み",
        "抹茶ラテ用に抹茶をよく買う", "新茶を楽しみにしている"],
    ("和菓子", 'like'): ["羊羹が好き", "お茶請けに最中", "どら焼きを家族で"],
    ("器", 'like'): ["急須を集めている", "有田焼が好み"],
    ("ギフト", 'like'): ["お中元・お歳暮に利用", "手土産によく買う"],
    ("和菓子", 'dislike'): ["甘すぎるものは苦手", "あんこが苦手"],
    ("器", 'dislike'): ["重い器は避けたい"],
    }
ATTRIBUTES = [
    # name, string, type, selection
    ('brewing', "淹れ方", 'selection',
        "kyusu:急須\nteabag:ティーバッグ\ncold:水出し"),
    ('gift_wrap', "ギフト包装希望", 'boolean', None),
    ]

RATING_COMMENTS = {
    5: ["香りがとても良い", "上品な甘さ", "また買います", "贈り物に喜ばれました"],
    4: ["注ぎやすい", "美味しいです", "包装が丁寧"],
    3: ["少し量が少ない", "普通です"],
    2: ["届くのが遅かった", "思ったより渋い"],
    1: ["割れて届いた"],
    }

INQUIRY_SUBJECTS = [
    # channel, subject, description
    ('line', "抹茶の再入荷はいつですか", "30g缶の在庫を知りたいです。"),
    ('email', "ギフト包装について", "羊羹を贈答用に包装してもらえますか。"),
    ('line', "配送日の変更", "注文の配送日を週末に変更したいです。"),
    ('phone', "新茶の予約", "今年の新茶を予約できますか。"),
    ('email', "のしの名入れ", "お歳暮にのしと名入れをお願いしたいです。"),
    ('web', "領収書の発行", "法人名で領収書をお願いします。"),
    ('store', "急須の修理", "蓋が欠けてしまいました。修理できますか。"),
    ('line', "水出しのおすすめ", "夏に水出しで美味しいお茶はどれですか。"),
    ('phone', "届いた商品の破損", "湯呑みが一つ割れていました。"),
    ('web', "定期便について", "煎茶の定期便はありますか。"),
    ]
# state of the inquiries, in turn: every state is shown
INQUIRY_STATES = ['closed', 'closed', 'answered', 'open', 'closed',
    'cancelled', 'answered', 'open', 'draft', 'closed']
INQUIRY_COUNT = 40

INTERACTION_NOTES = [
    # type, direction, subject
    ('call', 'outbound', "新しい急須の入荷案内"),
    ('line', 'inbound', "抹茶の淹れ方の質問"),
    ('visit', 'inbound', "店頭で試飲"),
    ('email', 'outbound', "お歳暮カタログの送付"),
    ('email', 'outbound', "新茶のご案内"),
    ('meeting', 'inbound', "茶道教室の団体注文の相談"),
    ('note', 'inbound', "贈答用は熨斗付きを希望"),
    ('web', 'inbound', "オンラインショップで会員登録"),
    ]

LINE_SHARE = 0.4  # share of the customers who are friends of the account
LINE_CAMPAIGNS = [
    # month, day, text
    (5, 1, "新茶の季節になりました。今年の新茶を入荷しました🍵"),
    (7, 1, "暑い日には水出し緑茶をどうぞ。ティーバッグで簡単です。"),
    (11, 15, "お歳暮の詰め合わせのご予約を承っております。"),
    ]
LINE_DRAFT = "年末年始の営業時間のお知らせです。12月31日から1月3日までお休みします。"
LINE_CHATS = ["在庫はありますか", "営業時間を教えてください",
    "ありがとうございました", "注文した商品はいつ届きますか"]
SCENARIO_STEPS = [
    # days after the entry, text
    (0, "{name}、そろそろ{last_product}が少なくなる頃ではありませんか？"),
    (3, "{name}、{preferred_category}の新しい商品も入荷しています。"),
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
    for year in range(START.year, TODAY.year + 1):
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
    for name, category, list_price, cost_price, _, _ in PRODUCTS:
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
    for name, _, _, _, quantity, _ in PRODUCTS:
        if quantity:
            inventory.lines.new(
                product=products[name], quantity=quantity,
                expected_quantity=0)
    inventory.click('confirm')
    return inventory




# --- the server side: one transaction, bulk writes ---------------------------

@contextmanager
def server(config):
    "Yield the pool in a transaction of the proteus user, committed at exit"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(
            config.database_name, config.user,
            context=config.context) as transaction:
        yield Pool()
        transaction.commit()


class Rows:
    """Rows inserted in SQL with ids given here, so that rows can refer to
    each other before they are written"""

    def __init__(self):
        from trytond.transaction import Transaction
        self.transaction = Transaction()
        self.cursor = self.transaction.connection.cursor()
        self.next = {}

    def ids(self, table, count):
        "Reserve count ids of the table"
        if table not in self.next:
            self.cursor.execute('SELECT MAX(id) FROM "%s"' % table)
            self.next[table] = (self.cursor.fetchone()[0] or 0) + 1
        first = self.next[table]
        self.next[table] += count
        return range(first, first + count)

    def insert(self, table, rows):
        "Insert the rows (dicts with the same keys, id included)"
        from sql import Table
        from trytond import backend
        if not rows:
            return
        sql_table = Table(table)
        names = list(rows[0])
        columns = [getattr(sql_table, n) for n in names]
        size = max(1, backend.MAX_QUERY_PARAMS // len(names))
        for i in range(0, len(rows), size):
            self.cursor.execute(*sql_table.insert(columns,
                    values=[[r[n] for n in names] for r in rows[i:i + size]]))

    def close(self):
        "Move the id sequences past the rows inserted"
        database = self.transaction.database
        connection = self.transaction.connection
        for table, next_id in self.next.items():
            database.setnextid(connection, table, next_id)


def numbers(sequence, count):
    "Return count numbers of the ir.sequence in one update"
    return list(sequence.get_many(count)) if count else []


def stamp(date, rng):
    "A datetime (UTC, naive as Tryton stores) in the shop hours of date"
    local = dt.datetime.combine(date, dt.time(10)) + dt.timedelta(
        minutes=rng.randrange(9 * 60))
    return local - JST


def meta(date, rng):
    "The create columns of a row written at date"
    return {'create_uid': 1, 'create_date': stamp(date, rng)}


# --- customers ----------------------------------------------------------------

def japan(pool):
    "Japan and its prefectures, imported or created when missing"
    Country = pool.get('country.country')
    Subdivision = pool.get('country.subdivision')
    countries = Country.search([('code', '=', 'JP')])
    if countries:
        country, = countries
    else:
        country, = Country.create([{'name': "日本", 'code': 'JP'}])
    existing = {s.code: s for s in Subdivision.search([
                ('country', '=', country.id)])}
    missing = [{'country': country.id, 'code': code, 'name': name,
            'type': 'prefecture'}
        for code, name, _, _ in PREFECTURES if code not in existing]
    for subdivision in Subdivision.create(missing):
        existing[subdivision.code] = subdivision
    return country, {code: existing[code] for code, *_ in PREFECTURES}


def plan_customers(rng):
    "Return the values of the customers, the first ones from CUSTOMERS"
    people = []
    for name, kana, birthday, consent, channel in CUSTOMERS:
        people.append({'name': name, 'name_kana': kana, 'birthday': birthday,
                'marketing_consent': consent, 'channel': channel,
                'lang': 'ja'})
    used = {p['name'] for p in people}
    foreign = iter(FOREIGN_NAMES)
    while len(people) < CUSTOMER_COUNT:
        if len(people) % FOREIGN_EVERY == FOREIGN_EVERY - 1:
            name, kana = next(foreign)
            lang = 'en'
        else:
            (surname, surname_kana), (given, given_kana) = (
                rng.choice(SURNAMES), rng.choice(GIVEN_NAMES))
            name = "%s %s" % (surname, given)
            kana = "%s %s" % (surname_kana, given_kana)
            lang = 'ja'
            if name in used:
                continue
        used.add(name)
        age = rng.choices([25, 35, 45, 55, 65, 75], [1, 2, 3, 3, 3, 2])[0]
        birthday = TODAY.replace(year=TODAY.year - age - rng.randrange(10),
            month=1, day=1) + dt.timedelta(days=rng.randrange(365))
        people.append({'name': name, 'name_kana': kana,
                'birthday': birthday if rng.random() < 0.8 else None,
                'marketing_consent': rng.random() < 0.65,
                'channel': rng.choices(['store', 'web', 'line'],
                    [5, 3, 3])[0],
                'lang': lang})
    for i, person in enumerate(people):
        person['profile'] = PROFILES_CYCLE[i % len(PROFILES_CYCLE)]
        person['line'] = (person['channel'] == 'line'
            or rng.random() < LINE_SHARE - 0.2)
        person['favourite'] = rng.choices(
            list(EVERYDAY), list(EVERYDAY.values()))[0]
        code, _, _, places = rng.choices(
            PREFECTURES, [p[2] for p in PREFECTURES])[0]
        person['address'] = (code, rng.choice(places))
    people[0]['profile'] = people[5]['profile'] = 'regular'
    return people


def _profiles_cycle():
    "The profiles in a repeating order with their shares"
    cycle = []
    for name, share, _, _ in PROFILES:
        cycle += [name] * round(share * 100)
    return random.Random(SEED).sample(cycle, len(cycle))


PROFILES_CYCLE = _profiles_cycle()


def create_customers(pool, people, channels, rng):
    "Create the parties with their address and contacts in one call"
    Party = pool.get('party.party')
    Lang = pool.get('ir.lang')
    langs = {l.code: l.id for l in Lang.search([('code', 'in', ['ja', 'en'])])}
    country, prefectures = japan(pool)
    values = []
    for person in people:
        code, (city, street, postal_code) = person['address']
        email = 'customer%03d@example.com' % (len(values) + 1)
        contacts = [{'type': 'email', 'value': email}]
        if rng.random() < 0.7:
            contacts.append({'type': 'phone',
                    'value': '090-%04d-%04d' % (
                        rng.randrange(10000), rng.randrange(10000))})
        if person['line']:
            person['line_id'] = 'U' + uuid.UUID(
                int=rng.getrandbits(128)).hex
            contacts.append({'type': 'line', 'value': person['line_id']})
        values.append({
                'name': person['name'],
                'name_kana': person['name_kana'],
                'birthday': person['birthday'],
                'marketing_consent': person['marketing_consent'],
                'acquisition_channel': channels[person['channel']],
                'lang': langs.get(person['lang']),
                'addresses': [('create', [{
                                'country': country.id,
                                'subdivision': prefectures[code].id,
                                'city': city,
                                'street_unstructured': street,
                                'postal_code': postal_code,
                                }])],
                'contact_mechanisms': [('create', contacts)],
                })
    parties = Party.create(values)
    for person, party in zip(people, parties):
        person['party'] = party.id
        person['address_id'] = party.addresses[0].id
    return parties


def date_customers(pool, people, sales, rng):
    """A customer was created, and gave the consent, a few days before the
    first sale"""
    from trytond.transaction import Transaction
    Party = pool.get('party.party')
    party = Party.__table__()
    cursor = Transaction().connection.cursor()
    first = {}
    for date, person, _, _ in sales:
        first.setdefault(person['party'], date)
    for person in people:
        date = first.get(person['party']) or when(rng)
        date -= dt.timedelta(days=rng.randrange(30))
        cursor.execute(*party.update(
                [party.create_date, party.marketing_consent_date],
                [stamp(date, rng),
                    date if person['marketing_consent'] else None],
                where=party.id == person['party']))


# --- the sales plan -----------------------------------------------------------

def on_sale(name, date):
    "Whether the product is sold at the date (seasonal products)"
    months = PRODUCT_MONTHS[name]
    return months is None or date.month in months


PRODUCT_MONTHS = {p[0]: p[5] for p in PRODUCTS}


def sale_dates(person, rng):
    "Return the dates of the sales of the customer, from START to TODAY"
    profile = person['profile']
    _, _, interval, kind = next(p for p in PROFILES if p[0] == profile)
    last_day = TODAY - dt.timedelta(days=RECENT_DAYS + 1)
    dates = []
    if kind in {'active', 'lapsed'}:
        low, high = interval
        mean = rng.randint(low, high)
        date = START + dt.timedelta(days=rng.randrange(300))
        end = last_day
        if kind == 'lapsed':
            end = TODAY - dt.timedelta(days=rng.randint(110, 320))
        while date <= end:
            dates.append(date)
            date += dt.timedelta(days=max(7, round(
                            mean * rng.uniform(0.75, 1.25))))
        # new tea in May and year-end gifts: extra sales in season
        for year in range(START.year, TODAY.year + 1):
            for month, day, chance in [(5, 10, 0.35), (12, 10, 0.3)]:
                extra = dt.date(year, month, day) + dt.timedelta(
                    days=rng.randrange(15))
                if START <= extra <= end and rng.random() < chance:
                    dates.append(extra)
    elif kind == 'gift':
        for year in range(START.year, TODAY.year + 1):
            for month, day, chance in [(12, 1, 0.9), (5, 5, 0.4), (7, 5, 0.3)]:
                date = dt.date(year, month, day) + dt.timedelta(
                    days=rng.randrange(20))
                if START <= date <= last_day and rng.random() < chance:
                    dates.append(date)
    elif kind == 'new':
        date = TODAY - dt.timedelta(days=rng.randint(RECENT_DAYS + 2, 80))
        for _ in range(rng.choice([1, 1, 2, 3])):
            if date <= last_day:
                dates.append(date)
            date += dt.timedelta(days=rng.randint(10, 30))
    elif kind == 'one_old':
        dates.append(START + dt.timedelta(days=rng.randrange(330)))
    elif kind == 'one_recent':
        dates.append(TODAY - dt.timedelta(days=rng.randint(95, 330)))
    return sorted(set(d for d in dates if START <= d <= last_day))


def basket(person, date, rng):
    "Return the (product name, quantity) bought at the date"
    lines = Counter()
    if person['profile'] == 'gift' or (date.month == 12 and date.day >= 5
            and rng.random() < 0.4):
        gift = ("お歳暮詰め合わせ" if on_sale("お歳暮詰め合わせ", date)
            else "煎茶ギフトセット")
        lines[gift] += rng.choice([1, 2, 3, 5])
    if on_sale("新茶 100g", date) and rng.random() < 0.6:
        lines["新茶 100g"] += rng.randint(1, 3)
    if on_sale("水出し緑茶 ティーバッグ", date) and rng.random() < 0.4:
        lines["水出し緑茶 ティーバッグ"] += rng.randint(1, 4)
    if not lines or rng.random() < 0.5:
        lines[person['favourite']] += rng.randint(1, 3)
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        name = rng.choices(list(EVERYDAY), list(EVERYDAY.values()))[0]
        lines[name] += 1 if PRODUCT_CATEGORY[name] != "お茶" else (
            rng.randint(1, 2))
    return sorted(lines.items())


PRODUCT_CATEGORY = {p[0]: p[1] for p in PRODUCTS}


def plan_history(people, rng):
    """Return the sales of the history: (date, person, channel, lines) by
    date, and the returns: (date, sale index, product name, quantity)"""
    sales = []
    for person in people:
        for date in sale_dates(person, rng):
            channel = person['channel']
            if rng.random() < 0.25:
                channel = rng.choice(CHANNELS)[0]
            sales.append((date, person, channel, basket(person, date, rng)))
    sales.sort(key=lambda s: (s[0], s[1]['party']))
    returns = []
    last_day = TODAY - dt.timedelta(days=RECENT_DAYS + 1)
    for index, (date, _, _, lines) in enumerate(sales):
        if rng.random() < RETURN_RATE:
            product, quantity = rng.choice(lines)
            back = date + dt.timedelta(days=rng.randint(2, 10))
            if back <= last_day:
                returns.append((back, index, product, 1))
    returns.sort()
    return sales, returns


# --- the sales history in SQL ------------------------------------------------

class History:
    """Write the planned sales, their shipments and done moves, the returns
    and the restocking, as the sale and stock workflows leave them"""

    def __init__(self, pool, company, products, rng):
        self.pool = pool
        self.company = company
        self.products = products  # name: product record
        self.price, self.cost = {}, {}
        for name, _, price, cost, _, _ in PRODUCTS:
            self.price[products[name].id] = Decimal(price)
            self.cost[products[name].id] = Decimal(cost)
        self.rng = rng
        self.rows = Rows()
        Location = pool.get('stock.location')
        warehouse, = Location.search([('code', '=', 'WH')])
        self.warehouse = warehouse
        self.location = {code: Location.search([('code', '=', code)])[0].id
            for code in ['STO', 'OUT', 'IN', 'CUS', 'SUP']}
        self.currency = company.currency.id
        self.unit = next(iter(products.values())).default_uom.id
        self.employee = pool.get('res.user')(
            self.rows.transaction.user).employee
        self.moves, self.interactions = [], []

    def sequences(self, sales, shipments, returns):
        pool = self.pool
        SaleConfig = pool.get('sale.configuration')
        StockConfig = pool.get('stock.configuration')
        company = self.company.id
        sale_sequence = SaleConfig(1).get_multivalue(
            'sale_sequence', company=company)
        out_sequence = StockConfig(1).get_multivalue(
            'shipment_out_sequence', company=company)
        return_sequence = StockConfig(1).get_multivalue(
            'shipment_out_return_sequence', company=company)
        return (numbers(sale_sequence, sales), numbers(out_sequence, shipments),
            numbers(return_sequence, returns))

    def write(self, sales, returns):
        "Write the sales and the returns; return the sale count and lines"
        from trytond.i18n import gettext
        rows = self.rows
        count = len(sales) + len(returns)
        sale_numbers, out_numbers, return_numbers = self.sequences(
            count, len(sales), len(returns))
        sale_ids = rows.ids('sale_sale', count)
        out_ids = rows.ids('stock_shipment_out', len(sales))
        return_ids = rows.ids('stock_shipment_out_return', len(returns))
        documents = [(date, person, channel, lines, None)
            for date, person, channel, lines in sales]
        for date, index, product, quantity in returns:
            _, person, channel, lines = sales[index]
            documents.append((date, person, channel,
                    [(product, -quantity)], sale_numbers[index]))
        sale_rows, line_rows = [], []
        line_ids = iter(rows.ids(
                'sale_line', sum(len(d[3]) for d in documents)))
        shipments = iter(zip(out_ids, out_numbers))
        return_shipments = iter(zip(return_ids, return_numbers))
        for sale_id, number, (date, person, channel, lines, origin) in zip(
                sale_ids, sale_numbers, documents):
            total = 0
            if origin is None:
                shipment = next(shipments)
                self.shipment_out(shipment, date, person)
            else:
                shipment = next(return_shipments)
                self.shipment_return(shipment, date, person)
            for sequence, (name, quantity) in enumerate(lines, 1):
                product = self.products[name]
                line_id = next(line_ids)
                price = self.price[product.id]
                total += price * quantity
                line_rows.append(dict(meta(date, self.rng),
                        id=line_id, sale=sale_id, sequence=sequence,
                        type='line', product=product.id,
                        description=product.rec_name, quantity=quantity,
                        actual_quantity=quantity, unit=self.unit,
                        unit_price=price, quantity_to_invoice=0,
                        quantity_to_ship=0,
                        note=RETURN_REASONS[sale_id % len(RETURN_REASONS)]
                        if origin else None))
                self.goods(shipment[0], origin is not None, date, product,
                    quantity, line_id)
            sale_rows.append(dict(meta(date, self.rng),
                    id=sale_id, company=self.company.id,
                    currency=self.currency, party=person['party'],
                    invoice_address=person['address_id'],
                    shipment_address=person['address_id'],
                    warehouse=self.warehouse.id,
                    channel=self.channels[channel],
                    payment_term=self.payment_term, sale_date=date,
                    quotation_date=date, number=number,
                    reference=None if origin is None else origin,
                    description=None if origin is None else "返品",
                    # shipped but not invoiced: Tryton keeps a sale with
                    # manual invoices processing
                    state='processing', invoice_method='manual',
                    invoice_state='none', shipment_method='order',
                    shipment_state='sent', to_invoice=False,
                    to_ship=False, untaxed_amount_cache=total,
                    tax_amount_cache=0, total_amount_cache=total,
                    quoted_by=self.employee.id if self.employee else None,
                    confirmed_by=(
                        self.employee.id if self.employee else None)))
            self.interactions.append(dict(meta(date, self.rng),
                    id=None, company=self.company.id, party=person['party'],
                    date=stamp(date, self.rng), type='sale',
                    direction='inbound',
                    subject=gettext('shop_crm.msg_interaction_sale_confirmed',
                        sale=number),
                    employee=self.employee.id if self.employee else None,
                    origin='sale.sale,%s' % sale_id))
        rows.insert('sale_sale', sale_rows)
        rows.insert('sale_line', line_rows)
        return len(sale_rows), len(line_rows)

    def shipment_out(self, shipment, date, person):
        shipment_id, number = shipment
        self.shipment_rows['stock_shipment_out'].append(dict(
                meta(date, self.rng), id=shipment_id, number=number,
                company=self.company.id, customer=person['party'],
                delivery_address=person['address_id'],
                warehouse=self.warehouse.id,
                warehouse_storage=self.location['STO'],
                warehouse_output=self.location['OUT'],
                planned_date=date, origin_planned_date=date,
                effective_date=date, state='done'))

    def shipment_return(self, shipment, date, person):
        shipment_id, number = shipment
        self.shipment_rows['stock_shipment_out_return'].append(dict(
                meta(date, self.rng), id=shipment_id, number=number,
                company=self.company.id, customer=person['party'],
                contact_address=person['address_id'],
                warehouse=self.warehouse.id,
                warehouse_input=self.location['IN'],
                warehouse_storage=self.location['STO'],
                planned_date=date, origin_planned_date=date,
                effective_date=date, state='done'))

    def goods(self, shipment_id, returned, date, product, quantity, line_id):
        """Plan the two moves of a line: storage → output → customer, or
        back customer → input → storage"""
        loc = self.location
        if returned:
            kind, quantity = 'stock.shipment.out.return', -quantity
            legs = [(loc['CUS'], loc['IN']), (loc['IN'], loc['STO'])]
        else:
            kind = 'stock.shipment.out'
            legs = [(loc['OUT'], loc['CUS']), (loc['STO'], loc['OUT'])]
        customer_leg, inner_leg = self.rows.ids('stock_move', 2)
        common = dict(meta(date, self.rng), product=product.id,
            unit=self.unit, quantity=quantity, internal_quantity=quantity,
            company=self.company.id, planned_date=date,
            origin_planned_date=date, effective_date=date, state='done',
            cost_price=self.cost[product.id],
            shipment='%s,%s' % (kind, shipment_id))
        self.moves.append(dict(common, id=customer_leg,
                from_location=legs[0][0], to_location=legs[0][1],
                unit_price=self.price[product.id], currency=self.currency,
                origin='sale.line,%s' % line_id))
        self.moves.append(dict(common, id=inner_leg,
                from_location=legs[1][0], to_location=legs[1][1],
                unit_price=None, currency=None,
                origin='stock.move,%s' % customer_leg))
        if not returned:
            self.sold[(product.id, date.replace(day=1))] += quantity

    def restock(self):
        """A delivery from the supplier on the first day of each month, up to
        the month's sales and the opening stock (10 for seasonal goods)"""
        loc = self.location
        months, month = [], START.replace(day=1)
        while month <= TODAY:
            months.append(month)
            month = (month + dt.timedelta(days=32)).replace(day=1)
        for name, _, _, _, target, season in PRODUCTS:
            product = self.products[name]
            stock = target
            for month in months:
                sold = self.sold[(product.id, month)]
                level = target or (10 if month.month in (season or ()) else 0)
                quantity = -(-max(0, sold + level - stock) // 10) * 10
                stock += quantity - sold
                if not quantity:
                    continue
                date = max(month, START)
                move_id, = self.rows.ids('stock_move', 1)
                self.moves.append(dict(meta(date, self.rng), id=move_id,
                        product=product.id, unit=self.unit,
                        quantity=quantity, internal_quantity=quantity,
                        company=self.company.id, planned_date=date,
                        origin_planned_date=date, effective_date=date,
                        state='done', cost_price=self.cost[product.id],
                        shipment=None, from_location=loc['SUP'],
                        to_location=loc['STO'],
                        unit_price=self.cost[product.id],
                        currency=self.currency, origin=None))

    def run(self, sales, returns, channels, payment_term):
        "Write everything; return the sales, lines and moves written"
        self.channels = {code: c.id for code, c in channels.items()}
        self.payment_term = payment_term
        self.shipment_rows = defaultdict(list)
        self.sold = Counter()
        counts = self.write(sales, returns)
        self.restock()
        for table, table_rows in self.shipment_rows.items():
            self.rows.insert(table, table_rows)
        self.rows.insert('stock_move', self.moves)
        interactions = self.interactions
        for row, id_ in zip(interactions, self.rows.ids(
                    'party_crm_interaction', len(interactions))):
            row['id'] = id_
        self.rows.insert('party_crm_interaction', interactions)
        self.rows.close()
        return counts + (len(self.moves),)


# --- the CRM around the sales -------------------------------------------------

def when(rng, first=START, last=TODAY):
    "A date between first and last, more often recent"
    days = (last - first).days
    return last - dt.timedelta(days=int(days * rng.random() ** 1.6))


def create_attributes(pool, people, rng):
    Attribute = pool.get('party.crm.attribute')
    Party = pool.get('party.party')
    Attribute.create([{'name': name, 'string': string, 'type_': type_,
                'selection': selection}
            for name, string, type_, selection in ATTRIBUTES])
    groups = defaultdict(list)
    for person in people:
        if rng.random() < 0.3:
            value = (('brewing', rng.choice(['kyusu', 'teabag', 'cold'])),)
            if rng.random() < 0.3:
                value += (('gift_wrap', True),)
            groups[value].append(person['party'])
    args = []
    for value, parties in sorted(groups.items()):
        args += [Party.browse(parties), {'crm_attributes': dict(value)}]
    Party.write(*args)


def create_preferences(pool, people, categories, rng):
    Preference = pool.get('party.crm.preference')
    values = []
    for person in people:
        category = PRODUCT_CATEGORY[person['favourite']]
        for kind, chance, category in [
                ('like', 0.5, category),
                ('dislike', 0.08, rng.choice(["和菓子", "器"]))]:
            notes = PREFERENCE_NOTES.get((category, kind))
            if notes and rng.random() < chance:
                values.append({'party': person['party'],
                        'category': categories[category], 'kind': kind,
                        'note': rng.choice(notes)})
    Preference.create(values)
    return len(values)


def create_ratings(pool, sales, products, rng):
    "Ratings of products bought, a few days after the sale"
    Rating = pool.get('party.crm.rating')
    values = []
    for date, person, _, lines in sales:
        if rng.random() < 0.06:
            score = rng.choices([5, 4, 3, 2, 1], [40, 35, 15, 7, 3])[0]
            rated = date + dt.timedelta(days=rng.randint(2, 14))
            values.append({'party': person['party'],
                    'date': min(rated, TODAY), 'score': score,
                    'product': products[rng.choice(lines)[0]].id,
                    'comment': rng.choice(RATING_COMMENTS[score])
                    if rng.random() < 0.7 else None})
    Rating.create(values)
    return len(values)


def plan_interactions(people, company, employee, rng):
    "Calls, emails, visits and notes of the staff, dated in the history"
    rows = []
    for person in people:
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            type_, direction, subject = rng.choice(INTERACTION_NOTES)
            if type_ == 'line' and not person['line']:
                type_ = 'call'
            date = when(rng)
            rows.append(dict(meta(date, rng), id=None, company=company,
                    party=person['party'], date=stamp(date, rng),
                    type=type_, direction=direction, subject=subject,
                    employee=employee, origin=None))
    return rows


def create_inquiries(pool, people, rng):
    """Inquiries through their workflow, then dated in the history with the
    interactions they logged"""
    Inquiry = pool.get('party.crm.inquiry')
    Interaction = pool.get('party.crm.interaction')
    from trytond.transaction import Transaction
    cursor = Transaction().connection.cursor()
    values, states, dates = [], [], []
    for i in range(INQUIRY_COUNT):
        channel, subject, description = INQUIRY_SUBJECTS[
            i % len(INQUIRY_SUBJECTS)]
        person = people[i * 7 % len(people)]
        state = INQUIRY_STATES[i % len(INQUIRY_STATES)]
        if state in {'open', 'draft'}:
            opened = TODAY - dt.timedelta(days=rng.randrange(6))
        else:
            opened = when(rng, last=TODAY - dt.timedelta(days=3))
        values.append({'party': person['party'], 'channel': channel,
                'subject': subject, 'description': description})
        states.append(state)
        dates.append(stamp(opened, rng))
    inquiries = Inquiry.create(values)
    by_state = defaultdict(list)
    for inquiry, state in zip(inquiries, states):
        by_state[state].append(inquiry)
    opened = [i for s, l in by_state.items() if s not in {'draft', 'cancelled'}
        for i in l]
    Inquiry.open(opened)
    Inquiry.answer(by_state['answered'] + by_state['closed'])
    Inquiry.close(by_state['closed'])
    Inquiry.cancel(by_state['cancelled'])
    inquiry_table = Inquiry.__table__()
    interaction = Interaction.__table__()
    for inquiry, state, opened in zip(inquiries, states, dates):
        answered = opened + dt.timedelta(hours=rng.randint(1, 30))
        closed = answered + dt.timedelta(days=rng.randint(1, 5))
        answered = answered if state in {'answered', 'closed'} else None
        closed = closed if state == 'closed' else None
        cursor.execute(*inquiry_table.update(
                [inquiry_table.create_date, inquiry_table.opened_date,
                    inquiry_table.answered_date, inquiry_table.closed_date],
                [opened, opened if state not in {'draft', 'cancelled'}
                    else None, answered, closed],
                where=inquiry_table.id == inquiry.id))
        origin = 'party.crm.inquiry,%s' % inquiry.id
        for direction, date in [('inbound', opened), ('outbound', answered)]:
            cursor.execute(*interaction.update(
                    [interaction.date, interaction.create_date],
                    [date, date],
                    where=(interaction.origin == origin)
                    & (interaction.direction == direction)))
    return Counter(states)


# --- LINE ---------------------------------------------------------------------

def event_id(rng):
    return uuid.UUID(int=rng.getrandbits(128)).hex[:26].upper()


def create_line(pool, company, people, sales, rng):
    """The Official Account with dummy credentials, the webhook events of its
    friends, the campaigns sent to them and a running step scenario"""
    Channel = pool.get('party.crm.line.channel')
    channel, = Channel.create([{'name': "さくら茶房 公式アカウント",
                'company': company.id,
                'channel_secret': 'demo-channel-secret',
                'access_token': 'demo-access-token'}])
    first_sale = {}
    for date, person, _, _ in sales:
        first_sale.setdefault(person['party'], date)
    friends = [p for p in people if p['line']]
    rows = Rows()
    events = []
    for person in friends:
        follow = first_sale.get(person['party'], when(rng))
        chats = [when(rng, follow) for _ in range(rng.choice([0, 0, 1, 2]))]
        for type_, date in [('follow', follow)] + [
                ('message', d) for d in sorted(chats)]:
            timestamp = stamp(date, rng)
            payload = {'type': type_, 'mode': 'active',
                'timestamp': int((timestamp - dt.datetime(1970, 1, 1))
                    .total_seconds() * 1000),
                'source': {'type': 'user', 'userId': person['line_id']},
                'webhookEventId': event_id(rng),
                'deliveryContext': {'isRedelivery': False}}
            if type_ == 'message':
                payload['message'] = {'type': 'text', 'id': str(
                        rng.getrandbits(50)), 'text': rng.choice(LINE_CHATS)}
            events.append(dict(meta(date, rng), company=company.id,
                    channel=channel.id, type=type_, timestamp=timestamp,
                    user_id=person['line_id'],
                    webhook_event_id=payload['webhookEventId'],
                    payload=json.dumps(payload, ensure_ascii=False),
                    is_redelivery=False, state='done', error=None,
                    party=person['party']))
    events.append(failed_event(company, channel, friends[0], rng))
    events.sort(key=lambda e: e['timestamp'])
    for event, id_ in zip(events, rows.ids('party_crm_line_event',
                len(events))):
        event['id'] = id_
    rows.insert('party_crm_line_event', events)
    messages = campaign_messages(company, channel, friends, first_sale, rng)
    messages, push = campaign_push(pool, company, channel, messages)
    enrolled = create_scenario(
        pool, company, channel, friends, messages, rows, rng)
    for message, id_ in zip(messages, rows.ids(
                'party_crm_line_message', len(messages))):
        message['id'] = id_
    push_recipients(push, messages, rows)
    for activity in enrolled:
        activity['message'] = activity['message']['id']
    rows.insert('party_crm_line_message', messages)
    for activity, id_ in zip(enrolled, rows.ids(
                'party_crm_line_scenario_activity', len(enrolled))):
        activity['id'] = id_
    rows.insert('party_crm_line_scenario_activity', enrolled)
    rows.close()
    return len(friends), len(events), len(messages)


def failed_event(company, channel, person, rng):
    "A message event the webhook could not process: its text is empty"
    from trytond.i18n import gettext
    timestamp = stamp(TODAY, rng)
    payload = {'type': 'message', 'mode': 'active',
        'timestamp': int((timestamp - dt.datetime(1970, 1, 1))
            .total_seconds() * 1000),
        'source': {'type': 'user', 'userId': person['line_id']},
        'webhookEventId': event_id(rng),
        'deliveryContext': {'isRedelivery': False},
        'message': {'type': 'text', 'id': str(rng.getrandbits(50)),
            'text': ' '}}
    return dict(meta(TODAY, rng), company=company.id, channel=channel.id,
        type='message', timestamp=timestamp, user_id=person['line_id'],
        webhook_event_id=payload['webhookEventId'],
        payload=json.dumps(payload), is_redelivery=False, state='failed',
        error=gettext('shop_crm.msg_line_event_invalid',
            reason="message.text is empty"),
        party=None)


def line_message(company, channel, party, text, date, retry_key, rng):
    sent = stamp(date, rng)
    return dict(create_uid=1, create_date=sent, id=None,
        company=company.id, channel=channel.id, party=party, text=text,
        payload=None, state='sent', retry_key=retry_key, sent_date=sent,
        http_status=200, error=None)


def campaign_messages(company, channel, friends, first_sale, rng):
    "The seasonal campaigns, sent to the friends who agreed to marketing"
    messages = []
    for year in range(START.year, TODAY.year + 1):
        for month, day, text in LINE_CAMPAIGNS:
            date = dt.date(year, month, day)
            if not START <= date <= TODAY:
                continue
            retry_key = str(uuid.UUID(int=rng.getrandbits(128)))
            for person in friends:
                since = first_sale.get(person['party'])
                if person['marketing_consent'] and since and since <= date:
                    messages.append(line_message(company, channel,
                            person['party'], text, date, retry_key, rng))
    # the last campaign could not reach two friends who blocked the account
    for message in messages[-2:]:
        message.update(state='failed', sent_date=None, http_status=400,
            error='400 Bad Request')
    # the next one is prepared but not sent yet
    retry_key = str(uuid.UUID(int=rng.getrandbits(128)))
    for person in friends[:3]:
        messages.append(dict(line_message(company, channel, person['party'],
                    LINE_DRAFT, TODAY, retry_key, rng),
                state='draft', sent_date=None, http_status=None))
    return messages


def campaign_push(pool, company, channel, messages):
    """The last campaign sent a month ago or more, recorded as the segment
    push it was: 10 % of its friends held out as a control group, so that
    Message Uplift has a result.  Return the messages without those of the
    parties held out, and the push with the retry key of its messages."""
    SegmentPush = pool.get('party.crm.line.segment_push')
    limit = dt.datetime.combine(TODAY - dt.timedelta(days=30), dt.time.max)
    campaigns = {}
    for message in messages:
        if message['state'] == 'sent' and message['sent_date'] <= limit:
            campaigns.setdefault(message['retry_key'], []).append(message)
    campaign = max(campaigns.values(),
        key=lambda c: min(m['sent_date'] for m in c))
    push, = SegmentPush.create([{'company': company.id,
                'channel': channel.id, 'text': campaign[0]['text'],
                'date': min(m['sent_date'] for m in campaign),
                'holdout_share': Decimal('0.1')}])
    held = push.hold_out([m['party'] for m in campaign])
    key = campaign[0]['retry_key']
    sent = [m for m in messages
        if not (m['retry_key'] == key and m['party'] in held)]
    return sent, (push, key)


def push_recipients(push, messages, rows):
    "The recipients of the push, with the messages they were sent"
    push, key = push
    recipients = [m for m in messages if m['retry_key'] == key]
    rows.insert('party_crm_line_segment_push_recipient', [
            dict(create_uid=1, create_date=m['create_date'], id=id_,
                push=push.id, party=m['party'], message=m['id'])
            for m, id_ in zip(recipients, rows.ids(
                    'party_crm_line_segment_push_recipient',
                    len(recipients)))])


def create_scenario(pool, company, channel, friends, messages, rows, rng):
    """The repurchase scenario, running, with the customers it enrolled over
    the last weeks and the steps it sent them; return the activities"""
    Scenario = pool.get('party.crm.line.scenario')
    Step = pool.get('party.crm.line.scenario.step')
    Party = pool.get('party.party')
    scenario, = Scenario.create([{'name': "リピート購入のご案内",
                'company': company.id, 'channel': channel.id,
                'trigger': 'repurchase_due', 'repurchase_days': 7,
                'steps': [('create', [{'sequence': i, 'text': text,
                                'delay': dt.timedelta(days=days)}
                            for i, (days, text) in enumerate(
                                SCENARIO_STEPS, 1)])]}])
    Scenario.start([scenario])
    steps = list(scenario.steps)
    candidates = [p for p in friends if p['marketing_consent']
        and p['profile'] in {'regular', 'occasional'}]
    chosen = rng.sample(candidates, min(24, len(candidates)))
    data = Step.placeholder_data([p['party'] for p in chosen])
    enrollments, activities = [], []
    ids = rows.ids('party_crm_line_scenario_enrollment', len(chosen))
    for enrollment_id, person in zip(ids, chosen):
        entry = TODAY - dt.timedelta(days=rng.randrange(30))
        party = Party(person['party'])
        last_step, state = None, 'running'
        for step in steps:
            date = entry + step.delay
            if date > TODAY:
                break
            message = line_message(company, channel, party.id,
                step.render(party, data[party.id]), date,
                str(uuid.UUID(int=rng.getrandbits(128))), rng)
            messages.append(message)
            activities.append(dict(create_uid=1,
                    create_date=message['sent_date'], id=None,
                    enrollment=enrollment_id, step=step.id,
                    message=message, date=message['sent_date']))
            last_step = step.id
        else:
            state = 'done'
        enrollments.append(dict(meta(entry, rng), id=enrollment_id,
                scenario=scenario.id, company=company.id, party=party.id,
                entry_date=stamp(entry, rng), last_step=last_step,
                state=state))
    rows.insert('party_crm_line_scenario_enrollment', enrollments)
    return activities


# --- the figures --------------------------------------------------------------

def compute(pool, company):
    "Fill the facts, then engagement and forecasts as the crons would"
    from trytond.transaction import Transaction
    Fact = pool.get('sale.insight.fact')
    Engagement = pool.get('party.crm.engagement')
    Forecast = pool.get('sale.insight.forecast')
    # Written in SQL, the sales are not seen by the facts' events
    Fact.fill([company.id])
    with Transaction().set_context(company=company.id):
        Engagement.compute_company([])
        Forecast.compute()


def check_figures(pool, company):
    """Compare the revenue per customer with core's sale reporting over the
    history; return the segments, the predictive backtest and the totals"""
    from trytond.transaction import Transaction
    Core = pool.get('sale.reporting.customer')
    Insight = pool.get('sale.insight.customer')
    Engagement = pool.get('party.crm.engagement')
    Backtest = pool.get('sale.insight.customer_value.backtest')
    Forecast = pool.get('sale.insight.forecast')
    Due = pool.get('party.crm.repurchase_due')
    Fact = pool.get('sale.insight.fact')
    Uplift = pool.get('sale.insight.uplift')
    context = {'company': company.id, 'from_date': START,
        'to_date': TODAY - dt.timedelta(days=RECENT_DAYS + 1)}
    with Transaction().set_context(context):
        core = {r.customer.id: r.revenue for r in Core.search([])}
        insight = {r.customer.id: (r.revenue, r.profit)
            for r in Insight.search([])}
    differences = [p for p in set(core) | set(insight)
        if core.get(p) != (insight.get(p) or (None,))[0]]
    if differences:
        raise SystemExit("revenue differs from sale.reporting.customer "
            "for the parties %s" % sorted(differences)[:10])
    stale = {k: v for k, v in Fact.differences(company.id).items() if v}
    if stale:
        raise SystemExit("the sales facts differ from the moves: %s" % stale)
    with Transaction().set_context(company=company.id):
        segments = Counter(e.segment for e in Engagement.search([]))
    with Transaction().set_context(company=company.id, days=DUE_DAYS):
        due = Due.search([], count=True)
        at_risk = Engagement.search([('at_risk', '=', True)], count=True)
        forecasts = Forecast.search([], count=True)
        backtests = Backtest.search([], order=[('id', 'DESC')], limit=1)
        uplift, = Uplift.search([('kind', '=', 'push')])
        uplift = (uplift.recipients, uplift.holdouts, uplift.uplift,
            uplift.uplift_lower, uplift.uplift_upper)
    revenue = int(sum(core.values()))
    profit = int(sum(p for _, p in insight.values()))
    return {'revenue': revenue, 'profit': profit, 'customers': len(core),
        'segments': segments, 'repurchase_due': due, 'at_risk': at_risk,
        'forecasts': forecasts, 'uplift': uplift,
        'backtest': backtests[0] if backtests else None}


# --- the last days, through the workflow --------------------------------------

def plan_recent(people, rng):
    "Sales of the regular customers in the last RECENT_DAYS days"
    regulars = [p for p in people if p['profile'] == 'regular']
    sales = []
    for person in rng.sample(regulars, 10):
        date = TODAY - dt.timedelta(days=rng.randint(0, RECENT_DAYS))
        sales.append((date, person, person['channel'],
                basket(person, date, rng)))
    sales.sort(key=lambda s: (s[0], s[1]['party']))
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


def create_recent_sales(plan, products, channels, payment_term,
        payment_method):
    """The sales of the last days: all done, except the 4 most recent
    (2 confirmed but not shipped, 1 quotation, 1 draft)"""
    Sale = Model.get('sale.sale')
    Party = Model.get('party.party')
    sales = [
        new_sale(date, Party(person['party']), channels[channel],
            [(products[name], quantity) for name, quantity in lines],
            payment_term)
        for date, person, channel, lines in plan]
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


def date_recent_interactions(pool, rng):
    "The confirmations of the last days happened on their sale date"
    from trytond.transaction import Transaction
    Interaction = pool.get('party.crm.interaction')
    Sale = pool.get('sale.sale')
    cursor = Transaction().connection.cursor()
    interaction = Interaction.__table__()
    for sale in Sale.search([('state', '!=', 'draft')]):
        cursor.execute(*interaction.update(
                [interaction.date], [stamp(sale.sale_date, rng)],
                where=(interaction.origin == 'sale.sale,%s' % sale.id)
                & (interaction.create_date >= dt.datetime.combine(
                        TODAY, dt.time()) - dt.timedelta(days=1))))


def progress(message, _start=time.monotonic()):
    print("  %5.1fs  %s" % (time.monotonic() - _start, message), flush=True)


def main(database, config_file):
    rng = random.Random(SEED)
    # numpy warns when the optimiser of the BG/NBD fit tries parameters
    # that overflow; the demo prints the backtest of the fitted model
    warnings.filterwarnings('ignore', category=RuntimeWarning,
        module=r'trytond\.modules\.shop_sale_insight\.')
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
    add_stock(products, START - dt.timedelta(days=1))

    progress("customers")
    people = plan_customers(rng)
    with server(config) as pool:
        Company = pool.get('company.company')
        Product = pool.get('product.product')
        server_company = Company(company.id)
        create_customers(pool, people, {
                k: c.id for k, c in channels.items()}, rng)
        create_attributes(pool, people, rng)
        progress("sales history (SQL)")
        sales, returns = plan_history(people, rng)
        date_customers(pool, people, sales, rng)
        history = History(pool, server_company, {
                name: Product(p.id) for name, p in products.items()}, rng)
        employee = history.employee.id if history.employee else None
        history.interactions += plan_interactions(
            people, company.id, employee, rng)
        sale_count, line_count, move_count = history.run(
            sales, returns, channels, payment_term.id)
        progress("CRM: preferences, ratings, inquiries; LINE")
        category_ids = {k: c.id for k, c in categories.items()}
        preferences = create_preferences(pool, people, category_ids, rng)
        ratings = create_ratings(pool, sales, {
                name: Product(p.id) for name, p in products.items()}, rng)
        inquiries = create_inquiries(pool, people, rng)
        line = create_line(pool, server_company, people, sales, rng)

    progress("sales of the last days (workflow)")
    recent = create_recent_sales(plan_recent(people, rng), products,
        channels, payment_term, payment_method)

    progress("sales facts, engagement, predictions, demand forecasts")
    with server(config) as pool:
        date_recent_interactions(pool, rng)
        server_company = pool.get('company.company')(company.id)
        compute(pool, server_company)
        figures = check_figures(pool, server_company)
        backtest = figures['backtest']
        backtest = backtest and (backtest.method, backtest.customers,
            backtest.mean_absolute_error, backtest.aggregate_error)
    close_config_wizard()

    states = Counter(s.state for s in recent)
    progress("done: company %s (JPY), %d channels, %d products, "
        "%d customers" % (company.rec_name, len(channels), len(products),
            len(people)))
    print("  history: %d sales (%d returns), %d sale lines, %d stock moves; "
        "last days: %d sales (%s)" % (sale_count, len(returns), line_count,
            move_count, len(recent), ', '.join(
                '%d %s' % (n, s) for s, n in sorted(states.items()))))
    print("  revenue %s, profit %s over %d customers (the same revenue as "
        "sale.reporting.customer)" % (figures['revenue'], figures['profit'],
            figures['customers']))
    print("  segments: %s" % ', '.join('%s %d' % (s, n)
            for s, n in sorted(figures['segments'].items(),
                key=lambda i: str(i[0]))))
    print("  at risk %d, repurchase due (%d days) %d, demand forecast rows %d"
        % (figures['at_risk'], DUE_DAYS, figures['repurchase_due'],
            figures['forecasts']))
    print("  %d preferences, %d ratings, inquiries %s" % (preferences,
            ratings, ', '.join('%s %d' % i for i in sorted(
                    inquiries.items()))))
    print("  LINE: %d friends, %d events, %d messages" % line)
    if backtest:
        print("  backtest (%s): %s customers, MAE %.3f, aggregate error %.3f"
            % backtest)
    print("  uplift of the push: %d recipients, %d held out, profit per "
        "customer %s (95 %% interval %s to %s)" % figures['uplift'])


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-d', '--database', default='shop_demo')
    parser.add_argument('-c', '--config', default='tryton.cfg',
        help="trytond configuration file (default: tryton.cfg)")
    args = parser.parse_args()
    main(args.database, args.config)
