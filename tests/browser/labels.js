// This file is part of the shop modules.  The COPYRIGHT file at the top level
// of this repository contains the full copyright notices and license terms.
//
// The visible labels of the web client and which of them are still English.
//
// A label is a text of the interface, not of the data: menu entries, field
// labels, notebook tabs, column headers, button texts and tooltips, the
// filter box (its button and placeholder).  Cell values, input values and
// record names are data and are not collected.
'use strict';

// Collect the labels shown in the menu and in the active tab.  Runs in the
// page: returns [kind, text] pairs.
function collect() {
    const visible = (el) => el.getClientRects().length > 0 &&
        getComputedStyle(el).visibility !== 'hidden';
    const labels = [];
    const add = (kind, text) => {
        text = (text || '').replace(/\s+/g, ' ').replace(/\s*[:：]$/, '').trim();
        if (text) {
            labels.push([kind, text]);
        }
    };
    const each = (root, selector, fn) => {
        for (const el of root.querySelectorAll(selector)) {
            if (visible(el)) {
                fn(el);
            }
        }
    };
    each(document, '#menu .column-char', (el) => add('menu', el.innerText));
    const pane = document.querySelector('#tabcontent .tab-pane.active');
    const roots = [pane, ...document.querySelectorAll('.modal.in')]
        .filter(Boolean);
    for (const root of roots) {
        each(root, 'label', (el) => add('label', el.innerText));
        each(root, '.nav-tabs > li > a', (el) => {
            const badge = el.querySelector('.badge');
            add('tab', el.innerText.replace(badge ? badge.innerText : '', ''));
        });
        each(root, 'thead th', (el) => add('column', el.innerText));
        each(root, 'button, a.btn', (el) => {
            add('button', el.innerText);
            add('tooltip', el.getAttribute('title'));
            if (!el.innerText.trim() && !el.getAttribute('title')) {
                add('button', el.getAttribute('aria-label'));
            }
        });
        each(root, 'input[placeholder]', (el) => add('placeholder',
            el.getAttribute('placeholder')));
        each(root, '.dropdown-menu.open a, .dropdown-menu a:not(:empty)',
            (el) => add('menu item', el.innerText));
    }
    return labels;
}

// Upper-case words of the glossary kept as they are (LINE, RFM, ABC, ID…),
// "Webhook" as the Japanese LINE Developers console writes it, key names of
// the shortcuts, and units.
const KEPT = /\b(?:[A-Z]{2,6}|Webhook|Ctrl|Shift|Alt|Enter|Esc|Tab|F\d+|km|kg)\b/g;
const CJK = /[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]/;

// Whether a label is still English: two Latin letters in a row once the
// kept words are removed, and no Japanese at all.
function isEnglish(text) {
    return !CJK.test(text) && /[A-Za-z]{2,}/.test(text.replace(KEPT, ''));
}

// The English labels of the pairs, each once: [[kind, text]].
function english(labels) {
    const seen = new Set();
    return labels.filter(([kind, text]) => {
        const key = `${kind}\t${text}`;
        if (!isEnglish(text) || seen.has(key)) {
            return false;
        }
        seen.add(key);
        return true;
    });
}

module.exports = {collect, english, isEnglish};
