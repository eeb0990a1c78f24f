// This file is part of the shop modules.  The COPYRIGHT file at the top level
// of this repository contains the full copyright notices and license terms.
//
// Browser suite: drives the web client (sao 8.0) in headless chromium with
// playwright-core.  Started by tests/browser/run.sh, which serves the demo
// database; configured by the environment: SAO_URL, SAO_DB, SHOTS (the
// screenshot folder) and CHROMIUM.
//
// Every menu entry of both modules and each tab of the customer form is a
// "screen": it must show within 30 s, without a page error or an error
// dialog from the server.  Then the user flows are walked.  The expected
// figures are read from the server over RPC in the same session, so the
// suite does not depend on the demo data.  The time each screen took to
// show is printed (a report, not an assertion), and the last line is
// "N passed, M failed".
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');
const labels = require('./labels');

const BASE = process.env.SAO_URL || 'http://127.0.0.1:8000/';
const DB = process.env.SAO_DB || 'shop_demo';
const USER = process.env.SAO_USER || 'admin';
const PASS = process.env.SAO_PASS || 'admin';
const SHOTS = process.env.SHOTS || path.join(os.tmpdir(), 'shop-browser-shots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOWN_TIMEOUT = 30000;

const results = [];
const pageErrors = [];
let page;

// --- helpers ------------------------------------------------------------------

let inflight = 0;
let lastChange = Date.now();

function trackRequests() {
    const done = () => { inflight--; lastChange = Date.now(); };
    page.on('request', (request) => {
        inflight++;
        lastChange = Date.now();
        if (process.env.DEBUG_RPC) {  // print every call with its arguments
            console.log(`       rpc ${(request.postData() || request.url()).slice(0, 600)}`);
        }
    });
    page.on('requestfinished', done);
    page.on('requestfailed', done);
}

// sao is a single-page application: wait until no request has been pending
// for `quiet` ms.
async function rpcIdle(quiet = 400, timeout = SHOWN_TIMEOUT) {
    const start = Date.now();
    while (inflight > 0 || Date.now() - lastChange < quiet) {
        if (Date.now() - start > timeout) {
            throw new Error(`network still busy after ${timeout} ms`);
        }
        await page.waitForTimeout(50);
    }
}

async function shot(name) {
    await page.screenshot({
        path: path.join(SHOTS, `${name}.png`), animations: 'disabled'});
}

// Call the server over JSON-RPC in the session of the web client.
async function rpc(method, params, context = {}) {
    return page.evaluate(([method, params, context]) => {
        const revive = (value) => Sao.rpc.convertJSONObject(value);
        return new Promise((resolve, reject) => {
            Sao.rpc({
                method,
                params: revive(params).concat([context ? revive(context) : {}]),
            }, Sao.Session.current_session, true, false).then(
                (result) => resolve(JSON.parse(JSON.stringify(
                    Sao.rpc.prepareObject(result)))),
                (error) => reject(new Error(
                    `${method}: ${JSON.stringify(error) || String(error)}`)));
        });
    }, [method, params, context]);
}

function date(value) {  // a JSON-RPC date from a JavaScript Date
    return {__class__: 'date', year: value.getFullYear(),
        month: value.getMonth() + 1, day: value.getDate()};
}

function isoDate(value) {
    return `${value.year}-${String(value.month).padStart(2, '0')}-` +
        String(value.day).padStart(2, '0');
}

const activePane = () => page.locator('#tabcontent .tab-pane.active');

// Fail on an error dialog of the server (a traceback) and on any page error
// raised since `since`.
async function checkErrors(since) {
    const errors = pageErrors.slice(since);
    if (errors.length) {
        throw new Error(`page error: ${errors.join(' | ')}`);
    }
    const dialog = page.locator('.modal.in.error-dialog, .error-dialog.in');
    if (await dialog.count()) {
        const text = (await dialog.first().innerText()).slice(0, 500);
        throw new Error(`server error dialog: ${text}`);
    }
}

// Wait until the active tab (or a wizard dialog) shows its view.
async function waitShown(timeout = SHOWN_TIMEOUT) {
    await page.waitForFunction(() => {
        const visible = (el) => el && el.offsetParent !== null;
        const modal = document.querySelector('.modal.in .modal-body .form');
        if (visible(modal)) {
            return true;
        }
        const pane = document.querySelector('#tabcontent .tab-pane.active');
        if (!pane) {
            return false;
        }
        for (const el of pane.querySelectorAll(
                '.treeview table, .form, .graph svg, .calendar, .list-form')) {
            if (visible(el)) {
                return true;
            }
        }
        return false;
    }, null, {timeout});
    await rpcIdle();
    if (await page.locator('.modal.in.error-dialog').count()) {
        return;
    }
}

async function closeDialogs() {
    for (let i = 0; i < 5; i++) {
        const modal = page.locator('.modal.in').last();
        if (!(await modal.count())) {
            return;
        }
        const button = modal.locator(
            '.modal-footer button').filter({hasText: /cancel|close|ok/i});
        if (await button.count()) {
            await button.first().click({timeout: 5000}).catch(() => {});
        } else {
            await page.keyboard.press('Escape');
        }
        await page.waitForTimeout(300);
    }
}

async function closeTabs() {
    await closeDialogs();
    await page.evaluate(() => new Promise((resolve) => {
        const close = () => {
            if (!Sao.Tab.tabs.length) {
                resolve();
                return;
            }
            const tab = Sao.Tab.tabs[Sao.Tab.tabs.length - 1];
            tab.close().then(() => {
                if (~Sao.Tab.tabs.indexOf(tab)) {
                    resolve();
                } else {
                    close();
                }
            }, resolve);
        };
        close();
    }));
    await closeDialogs();
    await rpcIdle();
}

// Record one screen or flow: name, how long it took, failure.
async function check(kind, name, fn) {
    const since = pageErrors.length;
    const start = Date.now();
    let error = null;
    try {
        await fn();
        await checkErrors(since);
    } catch (e) {
        error = e;
        await shot(`failed-${name.replace(/[^\w]+/g, '_')}`).catch(() => {});
    }
    const ms = Date.now() - start;
    results.push({kind, name, ms, error});
    const status = error ? 'FAIL' : 'ok  ';
    console.log(`${status} ${kind.padEnd(6)} ${(ms / 1000).toFixed(1).padStart(5)} s  ${name}` +
        (error ? `\n       ${String(error.message || error).split('\n')[0]}` : ''));
    if (error) {
        // start again from a fresh page: a failed screen may have left a
        // modified record or a dialog behind
        await login().catch((e) => console.log(`       login again: ${e.message}`));
    }
    return !error;
}

// --- login ----------------------------------------------------------------------

async function login() {
    await page.goto('about:blank');
    await page.goto(BASE, {waitUntil: 'networkidle'});
    const loginInput = page.locator('.modal.in #login');
    await loginInput.waitFor({state: 'visible', timeout: SHOWN_TIMEOUT});
    const database = page.locator('.modal.in input#database');
    if (await database.isVisible()
            && (await database.getAttribute('readonly')) === null) {
        await database.fill(DB);
    }
    await loginInput.fill(USER);
    await page.locator('.modal.in .btn-primary').first().click();
    const password = page.locator('.modal.in input[type=password]');
    const menu = page.locator('#menu .treeview table').first();
    const asked = await Promise.race([
        password.waitFor({state: 'visible', timeout: SHOWN_TIMEOUT})
            .then(() => true),
        menu.waitFor({state: 'visible', timeout: SHOWN_TIMEOUT})
            .then(() => false),
    ]);
    if (asked) {
        await password.fill(PASS);
        await password.press('Enter');
    }
    await menu.waitFor({state: 'visible', timeout: SHOWN_TIMEOUT});
    await rpcIdle();
}

// --- screens ----------------------------------------------------------------------

// The menu entries of both modules: run.sh reads their ids from the
// database (ir.model.data is not readable over RPC).
async function moduleMenus() {
    const ours = (process.env.MENU_IDS || '').split(',').filter(Boolean)
        .map(Number);
    if (!ours.length) {
        throw new Error('MENU_IDS is empty');
    }
    const menus = await rpc('model.ir.ui.menu.read',
        [ours, ['complete_name', 'action']]);
    return menus.filter((m) => m.action)
        .sort((a, b) => a.complete_name.localeCompare(b.complete_name));
}

// Open a menu entry the way a click in the menu does.
async function openMenu(menu) {
    await page.evaluate((id) => Sao.Action.exec_keyword('tree_open', {
        model: 'ir.ui.menu', id: id}, null, false), menu.id);
    await waitShown();
}

async function openMenuByPath(names) {
    const menus = await rpc('model.ir.ui.menu.search_read', [
        [['complete_name', '=', names.join(' / ')]], 0, 1, null,
        ['complete_name']]);
    if (!menus.length) {
        throw new Error(`no menu ${names.join(' / ')}`);
    }
    await openMenu(menus[0]);
}

// Click the menu tree itself, expanding each level.
async function clickMenu(names) {
    // the children of a row follow it: look for each name after its parent
    const titled = (name) => `.column-char[title="${name}"]`;
    let rows = page.locator('#menu tbody tr');
    for (const [i, name] of names.entries()) {
        const row = rows.filter({has: page.locator(titled(name))}).first();
        await row.waitFor({timeout: SHOWN_TIMEOUT});
        rows = row.locator('xpath=following-sibling::tr');
        if (i < names.length - 1) {
            // expand unless the next level already shows (opened before)
            const next = rows.filter({has: page.locator(titled(names[i + 1]))});
            if (!await next.first().isVisible()) {
                await row.locator('.expander').click();
                await rpcIdle();
            }
        } else {
            await row.locator('.column-char').click();
        }
    }
    await waitShown();
}

// Screens of the documentation (doc/screenshots/) taken from the menu
const DOC_SHOTS = {
    'Inventory per Product': 'inventory',
    'Demand Forecasts': 'forecast',
};

const PROFITABILITY_MENU = [
    'Sales', 'Reporting', 'Insight', 'Profitability per Customer'];

const SLUG = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

async function checkMenus() {
    const menus = await moduleMenus();
    for (const menu of menus) {
        await check('screen', `menu ${menu.complete_name}`, async () => {
            await openMenu(menu);
            await shot(`menu-${SLUG(menu.complete_name)}`);
            const doc = DOC_SHOTS[menu.complete_name.split(' / ').pop()];
            if (doc) {
                await shot(`doc-${doc}`);
            }
            await closeTabs();
        });
    }
    return menus.length;
}

// Open a party of the company's customers in a form tab.
async function openParty(partyId) {
    await page.evaluate((id) => Sao.Tab.create({
        model: 'party.party', res_id: id, mode: ['form', 'tree'],
        name: 'Parties'}), partyId);
    await waitShown();
    await activePane().locator('.form').first().waitFor(
        {state: 'visible', timeout: SHOWN_TIMEOUT});
    await rpcIdle();
}

async function notebookTabs() {
    return activePane().locator('.form .nav-tabs > li > a');
}

async function checkCustomerForm() {
    // The customer with the most interactions shows the fullest form.
    const interactions = await rpc('model.party.crm.interaction.search_read',
        [[], 0, 1, [['party', 'ASC']], ['party']]);
    const parties = await rpc('model.party.party.search', [
        [['crm_interactions', '!=', null]], 0, 1, null]);
    const partyId = parties[0] || (interactions[0] || {}).party;
    if (!partyId) {
        throw new Error('no customer with interactions in the database');
    }
    let tabNames = [];
    await check('screen', 'customer form', async () => {
        await openParty(partyId);
        const tabs = await notebookTabs();
        tabNames = await tabs.allInnerTexts();
    });
    for (const [i, tabName] of tabNames.entries()) {
        await check('screen', `customer form tab ${tabName.trim()}`, async () => {
            const tab = (await notebookTabs()).nth(i);
            await tab.click();
            await rpcIdle();
            await activePane().locator('.form .tab-pane.active').first()
                .waitFor({state: 'visible', timeout: SHOWN_TIMEOUT});
            await shot(`customer-tab-${SLUG(tabName) || i}`);
            if (tabName.trim() === 'CRM') {
                await shot('doc-customer-crm');
            }
        });
    }
    await closeTabs();
    return tabNames.length;
}

// --- flows ----------------------------------------------------------------------

function todayMinus(days) {
    const d = new Date();
    d.setDate(d.getDate() - days);
    return d;
}

async function fill(locator, value) {
    for (let i = 0; i < 3; i++) {
        await locator.fill(value);
        await locator.press('Tab');
        await rpcIdle();
        if ((await locator.inputValue()) === value) {
            return;
        }
    }
    throw new Error(`could not type ${value}`);
}

// Choose the record named `text` in a many2one: from the completion list,
// or from the search dialog sao opens on Tab (sometimes a moment later).
// The input must then show the record; sao clears it when its search is
// cancelled, so the choice is tried again.
async function selectMany2One(input, text) {
    const search = page.locator('.modal.in').filter({
        has: page.locator('.modal-title:text-matches("^Search")')});
    for (let attempt = 0; attempt < 3; attempt++) {
        await input.fill(text);
        await input.press('Tab');
        await rpcIdle();
        await page.waitForTimeout(300);
        await rpcIdle();
        if (await search.count()) {
            await search.locator('tbody tr').filter({hasText: text}).first().click();
            await search.locator('.modal-footer button').filter({
                hasText: /^\s*OK\s*$/i}).first().click();
            await rpcIdle();
        }
        if ((await input.inputValue()).includes(text)) {
            return;
        }
    }
    throw new Error(`could not choose ${text} in ${await input.getAttribute('name')}`);
}

async function clickButton(scope, text) {
    await scope.locator('button').filter({hasText: new RegExp(`^\\s*${text}\\s*$`)})
        .first().click();
    await rpcIdle();
}

async function save() {
    const pane = activePane();
    await pane.locator('[title^="Save"]').first().click();
    await rpcIdle();
    await page.getByText('Record saved.').first().waitFor({timeout: SHOWN_TIMEOUT});
    const close = page.locator('.infobar .alert button.close');
    if (await close.count()) {
        await close.first().click().catch(() => {});
    }
}

async function newRecord() {
    const pane = activePane();
    const defaults = page.waitForResponse((r) =>
        /default_get/.test(r.request().postData() || ''),
        {timeout: SHOWN_TIMEOUT});
    await pane.locator('[title^="New"]').first().click();
    await defaults;
    await rpcIdle();
}

async function currentId() {
    return page.evaluate(() => Sao.Tab.tabs.get_current().screen.current_record.id);
}

async function flowCustomer() {
    const name = `Browser Customer ${Date.now()}`;
    const attributes = await rpc('model.party.crm.attribute.search_read',
        [[['type_', '=', 'char']], 0, 1, null, ['name', 'string']]);
    let attribute = attributes[0];
    if (!attribute) {  // named as a Japanese shop would (it is data)
        attribute = {name: 'favourite_tea', string: '好きなお茶'};
        await rpc('model.party.crm.attribute.create', [[
            {...attribute, type_: 'char'}]]);
    }
    const categories = await rpc('model.product.category.search_read',
        [[], 0, 1, null, ['rec_name']]);
    await openMenuByPath(['Parties', 'Parties']);
    await newRecord();
    const pane = activePane();
    await fill(pane.locator('.form input[name="name"]').first(), name);
    await pane.locator('.form .nav-tabs a').filter({hasText: /^CRM$/}).click();
    const birthday = pane.locator('.form [name="birthday"] input, .form input[name="birthday"]').first();
    await birthday.fill('06/15/1990');
    await birthday.press('Tab');
    await rpcIdle();
    // Attributes: type the name of the key and add it, then its value
    const dict = pane.locator('.form-dict').first();
    await dict.locator('input[placeholder="Search"]').fill(attribute.string);
    await dict.locator('button[title="Add"]').click();
    await rpcIdle();
    // more than one key may match: sao asks which in a search dialog
    const search = page.locator('.modal.in').filter({hasText: 'Search'});
    if (await search.count()) {
        await search.locator('tbody tr').filter({hasText: attribute.string})
            .first().click();
        await search.locator('.modal-footer button').filter({hasText: /^\s*OK\s*$/i})
            .first().click();
        await rpcIdle();
    }
    const value = dict.locator('.form-dict-container input:not([placeholder="Search"])').last();
    await value.waitFor({timeout: SHOWN_TIMEOUT});
    await value.fill('Sencha');
    await value.press('Tab');
    await rpcIdle();
    // Preference: a new row of the editable list
    if (categories.length) {
        const preferences = pane.locator('.form-one2many').filter({
            hasText: 'Preferences'}).first();
        await preferences.locator('button[title^="New"]').first().click();
        await rpcIdle();
        await selectMany2One(preferences.locator('input[name="category"]').first(),
            categories[0].rec_name);
    }
    await save();
    const id = await currentId();
    const [party] = await rpc('model.party.party.read', [[id],
        ['name', 'birthday', 'crm_attributes', 'crm_preferences']]);
    if (party.name !== name) {
        throw new Error(`saved name ${party.name}`);
    }
    if (!party.birthday || isoDate(party.birthday) !== '1990-06-15') {
        throw new Error(`saved birthday ${JSON.stringify(party.birthday)}`);
    }
    if ((party.crm_attributes || {})[attribute.name] !== 'Sencha') {
        throw new Error(`saved attributes ${JSON.stringify(party.crm_attributes)}`);
    }
    if (categories.length && party.crm_preferences.length !== 1) {
        throw new Error(`${party.crm_preferences.length} preferences saved`);
    }
    await closeTabs();
    return id;
}

async function flowInquiry(partyId) {
    await page.evaluate(() => Sao.Tab.create({
        model: 'party.crm.inquiry', mode: ['form', 'tree'],
        name: 'Inquiries'}));
    await waitShown();
    const pane = activePane();
    const [party] = await rpc('model.party.party.read', [[partyId], ['rec_name']]);
    await rpcIdle();
    await selectMany2One(pane.locator('.form input[name="party"]').first(),
        party.rec_name);
    await fill(pane.locator('.form input[name="subject"]').first(), 'Gift wrapping?');
    await save();
    const id = await currentId();
    for (const [button, state] of [
            ['Open', 'open'], ['Answer', 'answered'], ['Close', 'closed']]) {
        await clickButton(pane.locator('.form'), button);
        await closeDialogs();
        const [inquiry] = await rpc('model.party.crm.inquiry.read', [[id], ['state']]);
        if (inquiry.state !== state) {
            throw new Error(`after ${button}: state ${inquiry.state}`);
        }
    }
    await closeTabs();
}

async function flowRating(partyId) {
    await page.evaluate(() => Sao.Tab.create({
        model: 'party.crm.rating', mode: ['form', 'tree'], name: 'Ratings'}));
    await waitShown();
    const pane = activePane();
    const [party] = await rpc('model.party.party.read', [[partyId], ['rec_name']]);
    await selectMany2One(pane.locator('.form input[name="party"]').first(),
        party.rec_name);
    await fill(pane.locator('.form input[name="score"]').first(), '4');
    await save();
    const id = await currentId();
    const [rating] = await rpc('model.party.crm.rating.read', [[id], ['score', 'party']]);
    if (rating.score !== 4 || rating.party !== partyId) {
        throw new Error(`saved rating ${JSON.stringify(rating)}`);
    }
    await closeTabs();
}

// The rows of the list in the active tab: {customer name: revenue text}.
async function listRows(column) {
    return activePane().locator('.treeview table tbody tr').evaluateAll(
        (rows, column) => rows.map((row) => {
            const cell = (name) => {
                const el = row.querySelector(`td[data-field="${name}"], td.column-${name}`);
                return el ? el.innerText.trim() : null;
            };
            return [cell('customer'), cell(column)];
        }), column);
}

async function headerIndex(label) {
    const headers = await activePane().locator('.treeview table thead th')
        .allInnerTexts();
    return headers.findIndex((h) => h.trim() === label);
}

async function tableCells() {
    return activePane().locator('.treeview table tbody tr:visible').evaluateAll(
        (rows) => rows.map((row) => Array.from(row.querySelectorAll('td'))
            .map((td) => td.innerText.trim())));
}

async function serverCustomers(context) {
    return rpc('model.sale.insight.customer.search_read', [[], 0, null,
        [['customer', 'ASC']], ['customer.rec_name', 'revenue', 'number']], context);
}

function amountText(value) {  // the digits of an amount, sign included
    const number = value && value.__class__ === 'Decimal' ? value.decimal : value;
    return String(Math.round(Number(number)));
}

const digits = (text) => (text || '').replace(/[^\d-]/g, '');

// The list shows its first rows (sao's display size) and a button for more:
// each row shown must be one of the server's, with its revenue, and the list
// must show as many as the server has, up to that size.
async function compareList(expected, label) {
    await rpcIdle();
    const customerCol = await headerIndex('Customer');
    const revenueCol = await headerIndex('Revenue');
    if (customerCol < 0 || revenueCol < 0) {
        throw new Error('no Customer or Revenue column');
    }
    const displaySize = await page.evaluate(() => Sao.config.display_size);
    const wanted = expected.map((r) => [
        r['customer.']?.rec_name ?? r['customer.rec_name'],
        amountText(r.revenue)]).sort();
    const count = Math.min(wanted.length, displaySize);
    const shownRows = async () => (await tableCells())
        .filter((c) => c[customerCol])
        .map((c) => [c[customerCol], digits(c[revenueCol])]).sort();
    // A change of the context reloads the list a moment later (longer on a
    // loaded machine): wait for the server's rows, until the timeout.
    const unexpected = (rows) => {
        const left = wanted.map((row) => JSON.stringify(row));
        return rows.filter((row) => {
            const index = left.indexOf(JSON.stringify(row));
            if (index < 0) {
                return true;
            }
            left.splice(index, 1);
            return false;
        });
    };
    const start = Date.now();
    let shown = await shownRows();
    let extra = unexpected(shown);
    while ((shown.length !== count || extra.length)
            && Date.now() - start < SHOWN_TIMEOUT) {
        await page.waitForTimeout(200);
        shown = await shownRows();
        extra = unexpected(shown);
    }
    if (shown.length !== count || extra.length) {
        throw new Error(`${label}: list ${JSON.stringify(shown.slice(0, 5))}… ` +
            `(${shown.length} rows, ${extra.length} not on the server: ` +
            `${JSON.stringify(extra.slice(0, 3))}) != server ` +
            `${JSON.stringify(wanted.slice(0, 5))}… (${wanted.length} rows, ` +
            `${count} expected on screen)`);
    }
}

// Change a field of the context form above the list: the list must reload by
// itself (web/custom.js), without Enter nor the search button.
async function setContextField(name, text, many2one = false) {
    const input = activePane().locator(`.filter-box input[name="${name}"]`).first();
    if (many2one) {
        await selectMany2One(input, text);
    } else {
        await input.fill(text);
        await input.press('Tab');
    }
    await rpcIdle();
}

async function flowProfitability() {
    await clickMenu(PROFITABILITY_MENU);
    const [user] = await rpc('model.res.user.get_preferences', [true]).then(
        (prefs) => [prefs]);
    const company = user.company;
    const channels = await rpc('model.sale.channel.search_read', [
        [['company', '=', company]], 0, null, null, ['rec_name', 'name']]);
    // the context form's defaults, from the server: its today is the
    // company's, which may not be the browser's
    const defaults = await rpc('model.sale.insight.context.default_get',
        [['from_date', 'to_date', 'period'], false]);
    const base = {company, from_date: defaults.from_date,
        to_date: defaults.to_date, period: defaults.period};
    let channel = null;
    for (const c of channels) {
        const rows = await serverCustomers({...base, channel: c.id});
        const all = await serverCustomers(base);
        if (rows.length && rows.length < all.length) {
            channel = c;
            break;
        }
    }
    channel = channel || channels[0];
    if (!channel) {
        throw new Error('no sale channel');
    }
    await compareList(await serverCustomers(base), 'all channels');
    await shot('doc-profitability-list');  // once its rows are shown
    return {base, channel};
}

function dateText(value) {  // as typed in a date field of the English client
    return `${String(value.getMonth() + 1).padStart(2, '0')}/` +
        `${String(value.getDate()).padStart(2, '0')}/${value.getFullYear()}`;
}

// The channel, then a shorter period: each change must reload the list with
// the server's figures.
async function flowProfitabilityFilters({base, channel}) {
    const byChannel = {...base, channel: channel.id};
    const channelRows = await serverCustomers(byChannel);
    await setContextField('channel', channel.name, true);
    await compareList(channelRows, `channel ${channel.rec_name}`);
    await shot('profitability-by-channel');
    // a start date that changes the rows, if the demo has one
    let from = null, rows = null;
    for (const days of [30, 90, 180, 270]) {
        from = todayMinus(days);
        rows = await serverCustomers({...byChannel, from_date: date(from)});
        if (JSON.stringify(rows) !== JSON.stringify(channelRows)) {
            break;
        }
    }
    await setContextField('from_date', dateText(from));
    await compareList(rows, `channel ${channel.rec_name} from ${dateText(from)}`);
    console.log(`       ${channelRows.length} customers by channel, ` +
        `${rows.length} from ${dateText(from)}`);
}

// The graph and the report open the list again: they do not depend on what
// the flows before them left on screen.
async function openProfitability() {
    await closeTabs();
    await openMenuByPath(PROFITABILITY_MENU);
    return activePane();
}

async function flowGraph() {
    const pane = await openProfitability();
    await pane.locator('[title^="Switch"]').first().click();
    await rpcIdle();
    await pane.locator('.graph svg').first().waitFor(
        {state: 'visible', timeout: SHOWN_TIMEOUT});
    await shot('doc-profitability-graph');
    await closeTabs();
}

async function flowReport() {
    const pane = await openProfitability();
    await pane.locator('.treeview table tbody tr').first().click();
    const download = page.waitForEvent('download', {timeout: 120000});
    await pane.locator('[title^="Print"]').first().click();
    const menu = page.locator('.dropdown-menu:visible a').filter({
        hasText: 'Customer Profitability'});
    if (await menu.count()) {
        await menu.first().click();
    }
    const file = await download;
    const target = path.join(SHOTS, file.suggestedFilename());
    await file.saveAs(target);
    const head = fs.readFileSync(target).subarray(0, 5).toString('latin1');
    const pdf = head === '%PDF-';
    const zip = head.startsWith('PK');
    if (process.env.EXPECT_PDF === '1' ? !pdf : !(pdf || zip)) {
        throw new Error(`${file.suggestedFilename()} starts with ${JSON.stringify(head)}`);
    }
    console.log(`       report: ${file.suggestedFilename()} (${pdf ? 'PDF' : 'ODT'})`);
    await closeTabs();
}

async function flowEngagement() {
    for (const names of [
            ['Parties', 'CRM', 'Customer Engagement'],
            ['Parties', 'CRM', 'At Risk Customers'],
            ['Parties', 'CRM', 'Repurchase Due']]) {
        await openMenuByPath(names);
        const counts = await activePane().locator('.nav-tabs .badge').allInnerTexts();
        const rows = await activePane().locator('.treeview table tbody tr').count();
        console.log(`       ${names[names.length - 1]}: ${rows} rows` +
            (counts.length ? `, tabs ${counts.join('/')}` : ''));
        await shot(`doc-${SLUG(names[names.length - 1])}`);
        await closeTabs();
    }
}

async function flowLineChannel() {
    await openMenuByPath(['Parties', 'CRM', 'Configuration', 'LINE Channels']);
    await newRecord();
    const pane = activePane();
    const name = `Browser LINE ${Date.now()}`;
    await fill(pane.locator('.form input[name="name"]').first(), name);
    for (const [field, value] of [
            ['channel_secret', 'browser-secret'],
            ['access_token', 'browser-token']]) {
        const input = pane.locator(`.form input[name="${field}"], .form textarea[name="${field}"]`).first();
        if (await input.count()) {
            await input.fill(value);
            await input.press('Tab');
        }
    }
    await rpcIdle();
    await save();
    const found = await rpc('model.party.crm.line.channel.search', [
        [['name', '=', name]], 0, null, null]);
    if (found.length !== 1) {
        throw new Error(`${found.length} LINE channels named ${name}`);
    }
    await closeTabs();
}

// As the Preferences dialog does: store the language, reload the context
// of the session (kept in the browser) and the page.
async function setLanguage(code) {
    await rpc('model.res.user.set_preferences', [{language: code}]);
    await page.evaluate(() => new Promise((resolve) =>
        Sao.Session.current_session.reload_context().then(resolve, resolve)));
    await login();
}

async function flowJapanese(menu) {
    const [party] = await rpc('model.party.party.search', [
        [['crm_interactions', '!=', null]], 0, 1, null]);
    await openParty(party);
    await activePane().locator('.form .nav-tabs a').filter({hasText: '顧客管理'}).click();
    await rpcIdle();
    const text = await activePane().locator('.form').first().innerText();
    for (const label of ['誕生日', '顧客生涯価値']) {
        if (!text.includes(label)) {
            throw new Error(`CRM tab without ${label}`);
        }
    }
    await shot('customer-crm-ja');
    await closeTabs();
    await openMenu(menu);
    const headers = (await activePane().locator('.treeview table thead th')
        .allInnerTexts()).map((h) => h.trim());
    for (const label of ['顧客', '売上']) {
        if (!headers.includes(label)) {
            throw new Error(`profitability list without ${label}: ${headers.join(', ')}`);
        }
    }
    await shot('profitability-ja');
    await closeTabs();
}

// The main screens whose labels must all be Japanese, by English menu path
const JAPANESE_SCREENS = [
    ['Parties', 'CRM', 'Inquiries'],
    ['Parties', 'CRM', 'Customer Engagement'],
    PROFITABILITY_MENU,
    ['Sales', 'Reporting', 'Insight', 'Demand Forecasts'],
    ['Parties', 'CRM', 'Configuration', 'LINE Channels'],
    ['Parties', 'CRM', 'Configuration', 'LINE Events'],
    ['Parties', 'CRM', 'LINE Messages'],
    ['Parties', 'CRM', 'LINE Scenarios'],
];

// Walk the main screens in Japanese, print the labels still in English and
// fail when there is one.
async function flowEnglishLabels(menuIds) {
    const found = new Map();  // "kind\ttext" -> [kind, text, screens]
    let shown = 0;
    const survey = async (screen) => {
        const all = await page.evaluate(labels.collect);
        shown += all.length;
        const pairs = labels.english(all);
        for (const [kind, text] of pairs) {
            const key = `${kind}\t${text}`;
            if (!found.has(key)) {
                found.set(key, [kind, text, []]);
            }
            found.get(key)[2].push(screen);
        }
    };
    const menus = await rpc('model.ir.ui.menu.read', [menuIds, ['complete_name']]);
    for (const menu of menus) {
        await clickMenu(menu.complete_name.split(' / '));
        await survey(menu.complete_name);
        await closeTabs();
    }
    await survey('menu');
    const [party] = await rpc('model.party.party.search', [
        [['crm_interactions', '!=', null]], 0, 1, null]);
    await openParty(party);
    const tabs = await (await notebookTabs()).allInnerTexts();
    for (const [i, name] of tabs.entries()) {
        await (await notebookTabs()).nth(i).click();
        await rpcIdle();
        await survey(`customer form, tab ${name.trim()}`);
    }
    await closeTabs();
    const left = [...found.values()];
    console.log(`       English labels on the Japanese screens: ${left.length} ` +
        `(${shown} labels read on ${menus.length + 1 + tabs.length} screens)`);
    for (const [kind, text, screens] of left) {
        console.log(`         ${kind}: ${text}  (${[...new Set(screens)].join('; ')})`);
    }
    if (left.length) {
        throw new Error(`${left.length} labels still in English`);
    }
}

async function checkJapanese() {
    const [lang] = await rpc('model.ir.lang.search_read', [
        [['code', '=', 'ja']], 0, 1, null, ['translatable']]);
    const menuIds = [];
    for (const names of JAPANESE_SCREENS) {
        const [menu] = await rpc('model.ir.ui.menu.search', [
            [['complete_name', '=', names.join(' / ')]], 0, 1, null]);
        menuIds.push(menu);
    }
    await setLanguage('ja');
    try {
        await check('flow', 'Japanese labels', () => {
            if (!lang || !lang.translatable) {
                throw new Error('Japanese is not loaded');
            }
            return flowJapanese({id: menuIds[JAPANESE_SCREENS.indexOf(PROFITABILITY_MENU)]});
        });
        await check('flow', 'no English label on the Japanese screens',
            () => flowEnglishLabels(menuIds.filter(Boolean)));
    } finally {
        await setLanguage('en');
    }
}

async function checkScreensAndFlows() {
    if (!process.env.ONLY_FLOWS) {
        await checkMenus();
        await checkCustomerForm();
    }
    let partyId = null;
    await check('flow', 'create a customer with birthday, attributes, preference',
        async () => { partyId = await flowCustomer(); });
    if (!partyId) {
        await closeTabs().catch(() => {});
        partyId = (await rpc('model.party.party.search', [[], 0, 1, null]))[0];
    }
    await check('flow', 'inquiry Open > Answer > Close', () => flowInquiry(partyId));
    await check('flow', 'rating', () => flowRating(partyId));
    let profitability = null;
    await check('flow', 'profitability per customer compared with the server',
        async () => { profitability = await flowProfitability(); });
    if (profitability) {
        await check('flow', 'profitability per customer by channel and period',
            () => flowProfitabilityFilters(profitability));
    }
    if (profitability) {
        await check('flow', 'profitability graph', flowGraph);
        await check('flow', 'print Customer Profitability', flowReport);
    }
    await closeTabs().catch(() => {});
    await check('flow', 'engagement lists', flowEngagement);
    await check('flow', 'create a LINE channel', flowLineChannel);
}

// --- main ---------------------------------------------------------------------------

async function main() {
    fs.mkdirSync(SHOTS, {recursive: true});
    const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        acceptDownloads: true,
        viewport: {width: 1366, height: 850},
        locale: 'en-US',
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync'],
    });
    const start = Date.now();
    try {
        page = context.pages()[0] || await context.newPage();
        page.setDefaultTimeout(SHOWN_TIMEOUT);
        trackRequests();
        page.on('pageerror', (e) => {
            pageErrors.push(e.message);
            console.log(`       pageerror: ${e.message}`);
        });
        if (!await check('screen', 'login and menu', login)) {
            return;
        }
        // the labels the suite looks for are English
        const preferences = await rpc('model.res.user.get_preferences', [true]);
        if (preferences.language !== 'en') {
            await setLanguage('en');
        }
        if (!process.env.ONLY_JAPANESE) {  // to work on the translations
            await checkScreensAndFlows();
        }
        await checkJapanese();
    } finally {
        await context.close();
        fs.rmSync(userDataDir, {recursive: true, force: true});
    }
    const failed = results.filter((r) => r.error);
    const screens = results.filter((r) => r.kind === 'screen');
    const flows = results.filter((r) => r.kind === 'flow');
    const slowest = [...screens].sort((a, b) => b.ms - a.ms).slice(0, 5);
    console.log(`\n${screens.length} screens, ${flows.length} flows in ` +
        `${((Date.now() - start) / 1000).toFixed(0)} s; slowest screens: ` +
        slowest.map((r) => `${r.name} ${(r.ms / 1000).toFixed(1)} s`).join(', '));
    console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
    process.exitCode = failed.length ? 1 : 0;
}

main().catch((e) => {
    console.error(e);
    console.log(`${results.filter((r) => !r.error).length} passed, ` +
        `${results.filter((r) => r.error).length + 1} failed`);
    process.exitCode = 1;
});
