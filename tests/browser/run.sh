#!/usr/bin/env bash
# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
#
# Browser suite: the web client sao 8.0.11 driven by playwright-core in
# Debian's headless chromium, against a trytond serving a copy of the demo
# database.
#
# Usage: tests/browser/run.sh [--screenshots DIR]
#
#   --screenshots DIR  also copy the screenshots of the documentation
#                      (doc/screenshots/) into DIR
#
# It installs what is missing: chromium, a CJK font and LibreOffice (Writer,
# for the PDF report) with apt-get when run as root; playwright-core and
# tryton-sao with `npm ci` from tests/browser/package-lock.json, into
# .cache/browser/node.  The demo database is built by scripts/demo_data.py
# into .cache/browser/demo-<fingerprint>/ and reused until the modules, the
# demo script or the installed Python packages change.  Each run serves a
# copy of it with trytond on a free port of 127.0.0.1 and stops it at the
# end.  Screenshots go to .cache/browser/screenshots/.
#
# Python: the environment of the test command (.venv-test), or $VENV.
#
# The last line printed is "N passed, M failed" (screens and flows).  Exit
# code: 0 all passed, 1 a failure, 77 skipped (no npm or no chromium).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/tests/browser
VENV=${VENV:-$REPO/.venv-test}
CACHE=$REPO/.cache/browser
NODE_DIR=$CACHE/node
SHOTS=$CACHE/screenshots
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
DB_NAME=shop_demo
MODULES=(shop_crm shop_sale_insight)
SKIPPED=77
COPY_SHOTS=

while [ $# -gt 0 ]; do
    case $1 in
        --screenshots) COPY_SHOTS=${2:?--screenshots needs a folder}; shift ;;
        -h|--help) sed -n '5,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' \
                | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

skip() {
    echo "Browser suite SKIPPED: $*"
    echo "0 passed, 0 failed"
    exit $SKIPPED
}

fail() {
    echo "Browser suite FAILED: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

timed() {  # label command...: run the command, print how long it took
    local label=$1 start=$SECONDS rc
    shift
    "$@"
    rc=$?
    echo "  [$label: $((SECONDS - start))s]"
    return $rc
}

# --- system packages ---------------------------------------------------------
has_cjk_font() {
    command -v fc-list >/dev/null && [ -n "$(fc-list :lang=ja 2>/dev/null)" ]
}

install_system() {
    local packages=()
    [ -x "$CHROMIUM" ] || packages+=(chromium)
    has_cjk_font || packages+=(fonts-noto-cjk)
    command -v soffice >/dev/null || packages+=(libreoffice-writer-nogui)
    [ ${#packages[@]} -gt 0 ] || return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "Missing ${packages[*]} and not root with apt-get: not installed"
        return 0
    fi
    echo "Installing ${packages[*]} (apt-get)"
    timed apt-get apt_install "${packages[@]}" \
        || echo "apt-get failed, see $CACHE/apt.log"
}

apt_install() {  # packages...; the lists are updated only when needed
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$@" >"$CACHE/apt.log" 2>&1 \
        || { apt-get update -q >>"$CACHE/apt.log" 2>&1 \
            && apt-get install -y -q "$@" >>"$CACHE/apt.log" 2>&1; }
}

# --- playwright-core and sao from the lockfile --------------------------------
install_node() {
    local stamp
    stamp=$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -c1-16)
    if [ "$(cat "$NODE_DIR/.stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    echo "Installing playwright-core and tryton-sao (npm ci)"
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/.npmrc" "$NODE_DIR/"
    (cd "$NODE_DIR" && timed npm-ci npm ci --no-audit --no-fund --silent) \
        || return 1
    # index.html of sao loads node_modules/<package>/...: npm put them one
    # level up.
    ln -s .. "$NODE_DIR/node_modules/tryton-sao/node_modules"
    echo "$stamp" > "$NODE_DIR/.stamp"
}

# --- the demo database ---------------------------------------------------------
demo_fingerprint() {
    {
        (cd "$REPO" && find modules scripts/demo_data.py -type f \
            ! -name '*.py[co]' ! -path '*/__pycache__/*' -print0 \
            | sort -z | xargs -0 sha256sum)
        "$VENV/bin/python" -m pip freeze --disable-pip-version-check \
            2>/dev/null | grep -v '^shop.tryton'
        "$VENV/bin/python" -VV
    } | sha256sum | cut -c1-16
}

build_demo() {  # folder
    local dir=$1 tmp passfile
    tmp=$dir.tmp
    rm -rf "$tmp" && mkdir -p "$tmp" && touch "$tmp/$DB_NAME.sqlite"
    passfile=$tmp/adminpass
    echo admin > "$passfile"
    echo "Building the demo database (scripts/demo_data.py) into $dir"
    if (export TRYTOND_DATABASE__URI=sqlite:// TRYTOND_DATABASE__PATH=$tmp
            timed activate env TRYTONPASSFILE="$passfile" \
                "$VENV/bin/trytond-admin" -d "$DB_NAME" -u "${MODULES[@]}" \
                --activate-dependencies --email admin@example.com \
            && timed demo_data "$VENV/bin/python" "$REPO/scripts/demo_data.py" \
                -d "$DB_NAME" -c "$REPO/tryton.cfg") >"$tmp/build.log" 2>&1; then
        rm -f "$passfile"
        rm -rf "$dir" && mv "$tmp" "$dir"
        tail -4 "$dir/build.log"
    else
        tail -30 "$tmp/build.log" >&2
        return 1
    fi
}

demo_database() {  # prints the folder of the cached demo database
    local fp dir
    fp=$(demo_fingerprint)
    dir=$CACHE/demo-$fp
    find "$CACHE" -mindepth 1 -maxdepth 1 -name 'demo-*' ! -name "demo-$fp" \
        -exec rm -rf {} + 2>/dev/null
    if [ ! -f "$dir/$DB_NAME.sqlite" ]; then
        build_demo "$dir" >&2 || return 1
    fi
    echo "$dir"
}

menu_ids() {  # database file: the ids of the menu entries of the modules
    "$VENV/bin/python" - "$1" "${MODULES[@]}" <<'EOF'
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
modules = sys.argv[2:]
ids = connection.execute(
    "SELECT db_id FROM ir_model_data WHERE model = 'ir.ui.menu' "
    "AND module IN (%s) ORDER BY db_id" % ','.join('?' * len(modules)),
    modules).fetchall()
print(','.join(str(i) for i, in ids))
EOF
}

# --- the server ------------------------------------------------------------------
free_port() {
    "$VENV/bin/python" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

SERVER_PID=
RUN_DIR=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
    fi
    [ -z "$RUN_DIR" ] || rm -rf "$RUN_DIR"
}

start_server() {  # demo folder port
    local demo=$1 port=$2 i
    RUN_DIR=$(mktemp -d /tmp/shop-browser-XXXXXX)
    mkdir -p "$RUN_DIR/db"
    cp "$demo/$DB_NAME.sqlite" "$RUN_DIR/db/"
    cat > "$RUN_DIR/trytond.conf" <<EOF
[database]
uri = sqlite://
path = $RUN_DIR/db
language = en

[web]
listen = 127.0.0.1:$port
root = $NODE_DIR/node_modules/tryton-sao
EOF
    # Servers run with asserts off (PYTHONOPTIMIZE), as in production; -d
    # loads the database at start (trytond 8.0.12 needs it for the login).
    env -u TRYTOND_CONFIG -u TRYTOND_DATABASE__URI -u TRYTOND_DATABASE__PATH \
        PYTHONOPTIMIZE=1 "$VENV/bin/trytond" -c "$RUN_DIR/trytond.conf" \
        -d "$DB_NAME" >"$CACHE/trytond.log" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 1 120); do
        if "$VENV/bin/python" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)' \
                "http://127.0.0.1:$port/" 2>/dev/null; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.5
    done
    tail -20 "$CACHE/trytond.log" >&2
    return 1
}

main() {
    local start=$SECONDS demo port rc
    mkdir -p "$CACHE"
    command -v npm >/dev/null || skip "npm not found"
    install_system
    [ -x "$CHROMIUM" ] || skip "$CHROMIUM not found (apt-get install chromium)"
    has_cjk_font || echo "No CJK font: Japanese shows as boxes (apt-get install fonts-noto-cjk)"
    command -v soffice >/dev/null \
        || echo "No LibreOffice (soffice): the report stays ODT, its PDF is not checked"
    [ -x "$VENV/bin/trytond" ] || fail "no trytond in $VENV (run scripts/test.sh first)"
    install_node || fail "npm ci failed"
    # the Japanese catalogue and custom.js, as the demo and the deployment
    "$VENV/bin/python" "$REPO/scripts/install_sao_locale.py" \
        "$NODE_DIR/node_modules/tryton-sao" >/dev/null \
        || fail "could not install the web client catalogues"
    demo=$(demo_database) || fail "could not build the demo database"
    port=$(free_port)
    trap stop_server EXIT
    start_server "$demo" "$port" || fail "trytond did not start (see $CACHE/trytond.log)"
    echo "Serving a copy of $demo/$DB_NAME.sqlite on http://127.0.0.1:$port/"
    rm -rf "$SHOTS" && mkdir -p "$SHOTS"
    MENU_IDS=$(menu_ids "$demo/$DB_NAME.sqlite") \
    EXPECT_PDF=$(command -v soffice >/dev/null && echo 1 || echo 0) \
    NODE_PATH=$NODE_DIR/node_modules SAO_URL="http://127.0.0.1:$port/" \
        SAO_DB=$DB_NAME SHOTS=$SHOTS CHROMIUM=$CHROMIUM \
        PYTHON="$VENV/bin/python" TRYTOND_CONF="$RUN_DIR/trytond.conf" \
        node "$HERE/suite.js"
    rc=$?
    stop_server
    if [ -n "$COPY_SHOTS" ]; then
        mkdir -p "$COPY_SHOTS"
        cp "$SHOTS"/doc-*.png "$COPY_SHOTS/" 2>/dev/null
        for f in "$COPY_SHOTS"/doc-*.png; do
            [ -e "$f" ] && mv "$f" "$COPY_SHOTS/${f##*/doc-}"
        done
        echo "Screenshots copied into $COPY_SHOTS"
    fi
    echo "Browser suite: $((SECONDS - start))s; screenshots in $SHOTS"
    [ "$rc" -eq 0 ] || return 1
}

main
