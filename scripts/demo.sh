#!/usr/bin/env bash
# Demo: install the modules, create the demo database and serve it.
#
# Usage: scripts/demo.sh [--reset] [--no-serve]
#
#   --reset     drop the demo database and create it again
#   --no-serve  prepare everything but do not start the server
#
# Steps:
#   1. .venv: created with python3 if missing; the project is installed into
#      it (pip install ., not editable) with proteus.
#   2. sao/: the web client tryton-sao, when npm is available.
#   3. db/shop_demo.sqlite: created with shop_crm and shop_sale_insight
#      activated (admin password "admin"), then filled by
#      scripts/demo_data.py.  An existing database is reused (its modules
#      are updated if their code changed since).
#   4. The server: http://127.0.0.1:8000/ (Ctrl-C stops it).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"  # the web client root in tryton.cfg is relative: sao/

VENV=$REPO/.venv
PYTHON=${PYTHON:-python3}
CONFIG=tryton.cfg
DB_NAME=shop_demo
DB_FILE=db/$DB_NAME.sqlite
DB_STAMP=db/$DB_NAME.modules  # fingerprint of the modules the database has
SAO_VERSION=8.0.11
HOST=127.0.0.1
PORT=8000
URL=http://$HOST:$PORT/
MODULES=(shop_crm shop_sale_insight)
# trytond needs an absolute database path; tryton.cfg leaves it to us.
export TRYTOND_DATABASE__PATH=$REPO/db

RESET=false
SERVE=true
for arg in "$@"; do
    case $arg in
        --reset) RESET=true ;;
        --no-serve) SERVE=false ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
            exit 0 ;;
        *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
done

T0=$SECONDS
step() {
    printf '\n==> [%3ss] %s\n' $((SECONDS - T0)) "$*"
}

pip_install() {  # quiet, without the warnings about unused local indexes
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

# Modules symlinked into the environment (a development setup) are used as
# they are; installing the project there would write through the links.
modules_linked() {
    local site
    site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    [ -L "$site/trytond/modules/${MODULES[0]}" ]
}

install_python() {
    if [ ! -x "$VENV/bin/python" ]; then
        step "Creating $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    if modules_linked; then
        step "Modules are linked into $VENV: installing proteus only"
        pip_install 'proteus>=8.0,<8.1' pycountry
        return
    fi
    step "Installing the modules into $VENV (pip install .)"
    rm -rf build  # a stale build/ would put deleted files back
    pip_install . 'proteus>=8.0,<8.1' pycountry
    pip_install --force-reinstall --no-deps .  # pick up changed sources
    rm -rf build
}

install_sao() {
    if [ -f sao/index.html ] && [ -d sao/node_modules ]; then
        return
    fi
    if ! command -v npm >/dev/null; then
        step "npm not found: the web client is not installed"
        echo "Connect with the desktop client (tryton 8.0) to $HOST:$PORT instead."
        return
    fi
    step "Installing the web client (tryton-sao $SAO_VERSION) into sao/"
    local tmp
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack --silent "tryton-sao@$SAO_VERSION" >/dev/null \
            && mkdir sao \
            && tar xzf "tryton-sao-$SAO_VERSION.tgz" -C sao --strip-components=1 \
            && cd sao \
            && npm install --omit=dev --legacy-peer-deps --no-audit --no-fund \
                --silent); then
        rm -rf sao
        mv "$tmp/sao" sao
    else
        echo "Could not install the web client; the desktop client (tryton 8.0)" \
            "can connect to $HOST:$PORT." >&2
    fi
    rm -rf "$tmp"
}

# The Japanese catalogue of the web client (locale/sao/ja.po) into sao/.
install_sao_locale() {
    [ -f sao/index.html ] || return 0
    "$VENV/bin/python" scripts/install_sao_locale.py sao
}

# Create the database; on failure remove it so the next run starts again.
create_database() {
    local passfile
    step "Creating the database $DB_NAME ($DB_FILE)"
    rm -f "$DB_FILE"
    mkdir -p db
    touch "$DB_FILE"  # trytond-admin needs the SQLite file to exist
    passfile=$(mktemp)
    echo admin > "$passfile"
    step "Activating ${MODULES[*]} and their dependencies"
    if TRYTONPASSFILE=$passfile "$VENV/bin/trytond-admin" -c "$CONFIG" \
            -d "$DB_NAME" -u "${MODULES[@]}" --activate-dependencies \
            --email admin@example.com -l ja \
        && step "Importing countries and subdivisions (in Japanese too)" \
        && "$VENV/bin/trytond_import_countries" -c "$CONFIG" -d "$DB_NAME" \
        && step "Creating the demo data (scripts/demo_data.py)" \
        && "$VENV/bin/python" scripts/demo_data.py -d "$DB_NAME" -c "$CONFIG"
    then
        rm -f "$passfile"
        modules_fingerprint > "$DB_STAMP"
    else
        rm -f "$passfile" "$DB_FILE"
        echo "Creating the demo database failed (removed $DB_FILE)." >&2
        exit 1
    fi
}

modules_fingerprint() {
    find modules -type f ! -name '*.py[co]' ! -path '*/__pycache__/*' -print0 \
        | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

# An existing database is kept, but updated when the modules changed.
update_database() {
    step "Reusing the existing database $DB_NAME ($DB_FILE);" \
        "pass --reset to create it again"
    if [ "$(cat "$DB_STAMP" 2>/dev/null)" = "$(modules_fingerprint)" ]; then
        return
    fi
    step "The modules changed since: updating them in $DB_NAME"
    if ! "$VENV/bin/trytond-admin" -c "$CONFIG" -d "$DB_NAME" \
            -u "${MODULES[@]}" --activate-dependencies; then
        echo "Updating failed; start again with: $0 --reset" >&2
        exit 1
    fi
    modules_fingerprint > "$DB_STAMP"
}

port_in_use() {
    "$VENV/bin/python" - "$HOST" "$PORT" <<'EOF'
import socket, sys
with socket.socket() as s:
    sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
EOF
}

main() {
    install_python
    install_sao
    install_sao_locale
    if [ -f "$DB_FILE" ] && ! $RESET; then
        update_database
    else
        create_database
    fi

    cat <<EOF

Demo ready in $((SECONDS - T0))s
  URL:      $URL
  Database: $DB_NAME
  Login:    admin / admin
EOF
    [ -f sao/index.html ] || echo "  (no web client: use the desktop client tryton 8.0 on $HOST:$PORT)"
    $SERVE || exit 0
    if port_in_use; then
        echo "Something already listens on $HOST:$PORT: stop it first." >&2
        exit 1
    fi
    echo
    echo "Starting the server (Ctrl-C to stop)"
    # -d loads the database at start; without it the first login fails.
    exec env PYTHONOPTIMIZE=1 "$VENV/bin/trytond" -c "$CONFIG" -d "$DB_NAME"
}

main
