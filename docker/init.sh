#!/usr/bin/env bash
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
#
# Create or update the shop database; run by "entrypoint.sh init" (the init
# service of compose.yaml) at every start.  Running it again on a database
# that is up to date changes nothing.
#
#   1. wait for PostgreSQL and create the database $SHOP_DATABASE if missing;
#   2. trytond-admin -u shop_crm shop_sale_insight --activate-dependencies
#      -l ja: activate or update the modules with their dependencies, and
#      load the Japanese translations;
#   3. on a new database, set the "admin" password from the file named by
#      TRYTONPASSFILE (a secret, one line) and its e-mail from
#      SHOP_ADMIN_EMAIL (optional); later runs leave both alone;
#   4. import the countries, the subdivisions of the countries listed in
#      SHOP_SUBDIVISIONS (default JP: the prefectures; "all" for every
#      country) and the currencies of pycountry with core's import scripts
#      (countries.py runs trytond_import_countries limited to those
#      subdivisions, currencies.py trytond_import_currencies and gives the
#      currencies their ISO 4217 decimals: JPY 0), unless they are already
#      there.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONFIGS=("${TRYTOND_CONFIG:-/etc/trytond.conf}")
if [ -n "${SHOP_CONFIG_LOCAL:-}" ]; then
    CONFIGS+=("$SHOP_CONFIG_LOCAL")
fi
DATABASE=${SHOP_DATABASE:-tryton}
MODULES=(shop_crm shop_sale_insight)
LANGUAGE=${SHOP_LANGUAGE:-ja}

step() {
    printf '[init %s] %s\n' "$(date -u +%H:%M:%S)" "$*"
}

database() {
    python3 "$HERE/database.py" "${CONFIGS[@]/#/--config=}" "$@"
}

# The import scripts take one -c: the shared file is read from
# TRYTOND_CONFIG, the local one given.
export TRYTOND_CONFIG=${CONFIGS[0]}
import_options=(-d "$DATABASE")
if [ -n "${SHOP_CONFIG_LOCAL:-}" ]; then
    import_options+=(-c "$SHOP_CONFIG_LOCAL")
fi

step "Waiting for PostgreSQL"
database wait --timeout "${SHOP_WAIT:-60}"
database create "$DATABASE"

admin=(trytond-admin -c "${CONFIGS[@]}" -d "$DATABASE"
    -u "${MODULES[@]}" --activate-dependencies -l "$LANGUAGE")
if database initialised "$DATABASE"; then
    step "Updating ${MODULES[*]} in $DATABASE"
    "${admin[@]}"
else
    if [ ! -s "${TRYTONPASSFILE:-}" ]; then
        echo "TRYTONPASSFILE must name a file with the admin password" \
            "(a secret) to create the database $DATABASE" >&2
        exit 1
    fi
    step "Creating $DATABASE with ${MODULES[*]}"
    if [ -n "${SHOP_ADMIN_EMAIL:-}" ]; then
        "${admin[@]}" --email "$SHOP_ADMIN_EMAIL"
    else
        # trytond-admin asks for the e-mail of a new database: none.
        echo | "${admin[@]}"
    fi
fi

if database imported "$DATABASE"; then
    step "Countries, subdivisions and currencies already imported"
else
    step "Importing countries and the subdivisions of" \
        "${SHOP_SUBDIVISIONS:-JP}"
    python3 "$HERE/countries.py" "${import_options[@]}"
    step "Importing currencies"
    python3 "$HERE/currencies.py" "${import_options[@]}"
fi
step "Database $DATABASE ready"
