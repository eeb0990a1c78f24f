/* This file is part of the shop modules.  The COPYRIGHT file at the top level
   of this repository contains the full copyright notices and license terms. */
/* Loaded by sao's index.html after the web client (its customisation file).

   sao 8.0 applies the context form of a report (the dates, company, channel…
   above the list) only when the filter box is submitted: it registers no
   listener on the context record, so choosing a channel left the list on its
   old rows.  The context screen calls record_modified() on its windows at
   each change of a field: register one that searches again, with the text of
   the search box, once the value differs from the last one searched.

   sao loads the rows of each search when its answer comes, whatever the
   searches started since: the searches of a screen with a context form run
   one after the other, and the last one searches again if the context
   changed while it ran, so the list ends on the rows of the context shown. */
(function() {
    'use strict';
    if (typeof Sao === 'undefined' || !Sao.Screen) {
        return;
    }
    const init = Sao.Screen.prototype.init;
    const search_filter = Sao.Screen.prototype.search_filter;

    function context_key(screen) {
        const record = screen.context_screen.current_record;
        return record ? JSON.stringify(
            Sao.rpc.prepareObject(record.get_on_change_value())) : null;
    }

    function search_again(screen) {
        return screen.search_filter(screen.screen_container.get_text());
    }

    Sao.Screen.prototype.init = function() {
        init.apply(this, arguments);
        if (!this.context_screen) {
            return;
        }
        let timer = null;
        this.context_screen.windows.push({
            record_modified: () => {
                clearTimeout(timer);
                // after the widget's change handlers, once per burst
                timer = setTimeout(() => {
                    if (this._searched_context !== undefined &&
                            context_key(this) !== this._searched_context) {
                        search_again(this);
                    }
                }, 50);
            },
        });
    };

    Sao.Screen.prototype.search_filter = function(search_string, only_ids) {
        if (!this.context_screen || only_ids) {
            return search_filter.apply(this, arguments);
        }
        if (this.context_screen_prm.state() == 'pending') {
            return this.context_screen_prm.then(
                () => this.search_filter(search_string));
        }
        const run = () => {
            this._searched_context = context_key(this);
            return search_filter.call(this, search_string);
        };
        const previous = this._context_search || jQuery.when();
        const prm = previous.then(run, run);
        this._context_search = prm;
        return prm.then((result) => {
            if (this._context_search === prm &&
                    context_key(this) !== this._searched_context) {
                return search_again(this);
            }
            return result;
        });
    };
}());
