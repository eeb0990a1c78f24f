/* This file is part of the shop modules.  The COPYRIGHT file at the top level
   of this repository contains the full copyright notices and license terms. */
/* Loaded by sao's index.html after the web client (its customisation file).

   sao 8.0 applies the context form of a report (the dates, company, channel…
   above the list) only when the filter box is submitted: it registers no
   listener on the context record, so choosing a channel left the list on its
   old rows.  The context screen calls record_modified() on its windows at
   each change of a field: register one that searches again, with the text of
   the search box, once the value differs from the last one searched. */
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
                        this.search_filter(this.screen_container.get_text());
                    }
                }, 50);
            },
        });
    };

    Sao.Screen.prototype.search_filter = function(search_string, only_ids) {
        if (this.context_screen && !only_ids &&
                this.context_screen_prm.state() != 'pending') {
            this._searched_context = context_key(this);
        }
        return search_filter.apply(this, arguments);
    };
}());
