#!/usr/bin/env bash
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
#
# Entrypoint of the shop image: one role per container.
#
# Usage: entrypoint.sh init|web|worker|cron|healthcheck|COMMAND...
#
#   init         create or update the database (docker/init.sh), then exit
#   web          trytond: the web client and the RPC and webhook routes
#   worker       trytond-worker: the queued tasks ([queue] worker = True)
#   cron         trytond-cron: the scheduled tasks
#   healthcheck  exit 0 when the local web process answers
#   other        run as given (trytond-admin, trytond-console, a shell...)
#
# Environment:
#   TRYTOND_CONFIG          the shared configuration (/etc/trytond.conf)
#   SHOP_CONFIG_LOCAL       optional second configuration file, read after it
#   SHOP_DATABASE           the database name (default tryton)
#   POSTGRES_PASSWORD_FILE  file holding the PostgreSQL password (a secret)
#   SHOP_PROCESSES          processes of the worker and cron (default: cores)
#   SHOP_WAIT               seconds to wait for PostgreSQL (default 60)
#   TRYTOND_LOGGING_LEVEL   10 DEBUG, 20 INFO (default), 30 WARNING
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export TRYTOND_CONFIG=${TRYTOND_CONFIG:-/etc/trytond.conf}
export SHOP_DATABASE=${SHOP_DATABASE:-tryton}
# trytond's asserts make a search of N rows cost N².
export PYTHONOPTIMIZE=${PYTHONOPTIMIZE:-1}
export TRYTOND_LOGGING_LEVEL=${TRYTOND_LOGGING_LEVEL:-20}

CONFIGS=("$TRYTOND_CONFIG")
if [ -n "${SHOP_CONFIG_LOCAL:-}" ]; then
    CONFIGS+=("$SHOP_CONFIG_LOCAL")
fi

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    PGPASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
    export PGPASSWORD
fi

# Every process names its PostgreSQL connections (pg_stat_activity).
appname() {
    export TRYTOND_APPNAME=${TRYTOND_APPNAME:-shop-$1}
}

wait_for_database() {
    python3 "$HERE/database.py" -c "$TRYTOND_CONFIG" \
        ${SHOP_CONFIG_LOCAL:+-c "$SHOP_CONFIG_LOCAL"} \
        wait --timeout "${SHOP_WAIT:-60}"
}

processes() {
    if [ -n "${SHOP_PROCESSES:-}" ]; then
        echo -n "$SHOP_PROCESSES"
    else
        nproc
    fi
}

role=${1:-web}
case $role in
    init)
        appname init
        exec "$HERE/init.sh"
        ;;
    web)
        appname web
        wait_for_database
        exec trytond -c "${CONFIGS[@]}" -d "$SHOP_DATABASE"
        ;;
    worker)
        appname worker
        wait_for_database
        exec trytond-worker -c "${CONFIGS[@]}" -d "$SHOP_DATABASE" \
            -n "$(processes)"
        ;;
    cron)
        appname cron
        wait_for_database
        exec trytond-cron -c "${CONFIGS[@]}" -d "$SHOP_DATABASE" \
            -n "$(processes)"
        ;;
    healthcheck)
        exec python3 "$HERE/healthcheck.py" -c "$TRYTOND_CONFIG" \
            ${SHOP_CONFIG_LOCAL:+-c "$SHOP_CONFIG_LOCAL"}
        ;;
    *)
        exec "$@"
        ;;
esac
