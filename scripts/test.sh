#!/usr/bin/env bash
# Run every test of the project: the unit tests and scenarios of shop_crm and
# shop_sale_insight, then the cross-module scenarios of tests/, first on
# SQLite and then on PostgreSQL, then the deployment tests of tests/deploy/.
#
# Usage: scripts/test.sh [sqlite|browser|postgresql|deploy]... [-k PATTERN]...
#
#   sqlite, postgresql  run only on these databases (default: both)
#   browser             run only the browser suite (tests/browser/run.sh,
#                       by default after the SQLite suites)
#   deploy              run only the deployment tests (default: with both):
#                       the compose file and Dockerfile checks, and the
#                       smoke test of docker/'s scripts on PostgreSQL
#   -k PATTERN          passed to unittest: only run the tests (and
#                       scenarios) matching PATTERN; the check that every
#                       scenario ran is then turned off
#
# The project is installed (not in editable mode) into .venv-test, which is
# created on the first run; it is installed again on every run so that the
# tests always see the current sources.  Activated test databases are cached
# in .cache/ (SQLite) or as template databases (PostgreSQL) and thrown away
# when the modules, the tests or the installed packages change.
#
# PostgreSQL is expected at 127.0.0.1:5432, user postgres, without password
# (override with PGHOST, PGPORT, PGUSER).  If it does not answer, its run is
# skipped, except when CI=true: then the run fails.
#
# The last line printed is "N passed, M failed".  The exit code is not zero
# when a test failed, when a suite could not run, or when the number of
# scenarios executed differs from the number of scenario_*.rst files found.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$REPO/.venv-test
PY=$VENV/bin/python
PYTHON=${PYTHON:-python3}
MODULES=(shop_crm shop_sale_insight)
PG_HOST=${PGHOST:-127.0.0.1}
PG_PORT=${PGPORT:-5432}
PG_USER=${PGUSER:-postgres}
PG_URI="postgresql://$PG_USER@$PG_HOST:$PG_PORT/"
CACHE=$REPO/.cache
LOGDIR=$CACHE/test-logs

usage() {
    sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

# --- command line ------------------------------------------------------------
DATABASES=()
PATTERNS=()
BROWSER_ASKED=false
while [ $# -gt 0 ]; do
    case $1 in
        sqlite|postgresql|deploy) DATABASES+=("$1") ;;
        browser) DATABASES+=("$1"); BROWSER_ASKED=true ;;
        -k) [ $# -ge 2 ] || { echo "-k needs a pattern" >&2; exit 2; }
            PATTERNS+=(-k "$2"); shift ;;
        -k*) PATTERNS+=(-k "${1#-k}") ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[ ${#DATABASES[@]} -gt 0 ] || DATABASES=(sqlite browser postgresql deploy)

# Asserts must stay on in tests; a configuration file would override the
# database settings given below.
unset PYTHONOPTIMIZE TRYTOND_CONFIG

# --- results -----------------------------------------------------------------
ROWS=()          # one "db|suite|unit|scen_run|scen_found|passed|failed|skipped|secs|note" per run
TOTAL_PASSED=0
TOTAL_FAILED=0

add_row() {  # db suite unit scen_run scen_found passed failed skipped secs note
    ROWS+=("$1|$2|$3|$4|$5|$6|$7|$8|$9|${10}")
    TOTAL_PASSED=$((TOTAL_PASSED + $6))
    TOTAL_FAILED=$((TOTAL_FAILED + $7))
}

# --- test environment --------------------------------------------------------
pip_install() {  # quiet, without the warnings about unused local indexes
    (cd "$REPO" && "$PY" -m pip install -q --disable-pip-version-check "$@") \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

setup_venv() {
    local start=$SECONDS stamp
    if [ ! -x "$PY" ]; then
        echo "Creating $VENV"
        "$PYTHON" -m venv "$VENV" || return 1
    fi
    # Dependencies: only when setup.py changed since the last install.
    stamp=$(sha256sum "$REPO/setup.py" | cut -d' ' -f1)
    if [ "$(cat "$VENV/.deps-stamp" 2>/dev/null)" != "$stamp" ]; then
        echo "Installing the project with its test dependencies"
        rm -rf "$REPO/build"
        pip_install '.[test]' || return 1
        echo "$stamp" > "$VENV/.deps-stamp"
    fi
    # The project itself: on every run, so the tests see the current code.
    # A stale build/ would put deleted files back into the package.
    rm -rf "$REPO/build"
    pip_install --force-reinstall --no-deps . || return 1
    rm -rf "$REPO/build"
    echo "Test environment ready in $((SECONDS - start))s"
}

# Changes when the modules, the cross-module tests or any installed package
# change: cached databases made before are then stale.
fingerprint() {
    {
        (cd "$REPO" && find modules tests -type f ! -name '*.py[co]' \
            ! -path '*/__pycache__/*' ! -path 'tests/deploy/*' -print0 \
            | sort -z | xargs -0 sha256sum)
        "$PY" -m pip freeze --disable-pip-version-check 2>/dev/null \
            | grep -v '^shop.tryton'
        "$PY" -VV
    } | sha256sum | cut -c1-16
}

# Number of scenario doctests expected in a folder: one per scenario_*.rst,
# or one per configuration of its .json file.
expected_scenarios() {
    "$PYTHON" - "$1" <<'EOF'
import glob, json, os, sys
count = 0
for rst in sorted(glob.glob(os.path.join(sys.argv[1], 'scenario_*.rst'))):
    variants = rst[:-len('.rst')] + '.json'
    if os.path.exists(variants):
        with open(variants) as fp:
            count += len(json.load(fp))
    else:
        count += 1
print(count)
EOF
}

# --- PostgreSQL helpers (psycopg comes with trytond[postgresql]) -------------
pg() {  # run the python code read on stdin with `cursor` on database postgres
    "$PY" - "$@" <<EOF
import sys
import psycopg
conn = psycopg.connect(host='$PG_HOST', port=$PG_PORT, user='$PG_USER',
    dbname='postgres', connect_timeout=5, autocommit=True)
cursor = conn.cursor()
$(cat)
EOF
}

pg_reachable() {
    echo 'cursor.execute("SELECT 1")' | pg 2>/dev/null
}

pg_drop_database() {  # name
    pg "$1" <<'EOF'
from psycopg import sql
cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(
    sql.Identifier(sys.argv[1])))
EOF
}

# trytond caches activated databases as template databases named
# test-<hash of the module list>, whatever the code that made them.  Each
# template is labelled (COMMENT ON DATABASE) with the fingerprint of the code
# that used it; templates of other code are dropped before a run.
PG_TEMPLATES="SELECT datname, shobj_description(oid, 'pg_database')
    FROM pg_database WHERE datname ~ '^test-[0-9a-f]{40}$'"

pg_drop_stale_templates() {  # fingerprint
    pg "shop_tryton $1" <<EOF
from psycopg import sql
cursor.execute("""$PG_TEMPLATES""")
for name, label in cursor.fetchall():
    if label != sys.argv[1]:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(
            sql.Identifier(name)))
EOF
}

pg_label_templates() {  # fingerprint
    pg "shop_tryton $1" <<EOF
from psycopg import sql
cursor.execute("""$PG_TEMPLATES""")
for name, label in cursor.fetchall():
    if label is None:
        cursor.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(name), sql.Literal(sys.argv[1])))
EOF
}

# --- one unittest run ----------------------------------------------------------
# run_suite DB SUITE CWD -- unittest arguments...
run_suite() {
    local db=$1 suite=$2 cwd=$3
    shift 4
    local log=$LOGDIR/$db-$suite.log start=$SECONDS rc
    echo
    echo "=== [$db] $suite: python -m unittest $*"
    (cd "$cwd" && "$PY" -m unittest "$@" "${PATTERNS[@]}") 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    collect "$db" "$suite" "$log" "$rc" $((SECONDS - start))
}

# status_count NAME STATUS: the NAME=N count of unittest's last line
status_count() {
    sed -n "s/.*[(, ]$1=\([0-9]*\).*/\1/p" <<<"$2"
}

# Read the counts out of a unittest -v log and record them.
collect() {
    local db=$1 suite=$2 log=$3 rc=$4 secs=$5
    local ran status scen_run scen_found failures errors unexpected skipped
    local failed passed note=""
    ran=$(grep -E '^Ran [0-9]+ tests? in ' "$log" | tail -1 | cut -d' ' -f2)
    status=$(grep -E '^(OK|FAILED|NO TESTS RAN)( |$)' "$log" | tail -1)
    # doctest cases show as "Doctest: scenario_x.rst ... ok"
    scen_run=$(grep -cE '^Doctest: scenario_[^ ]*\.rst \.\.\.|^scenario_[A-Za-z0-9_]*_rst \(' "$log")
    scen_found=${SCENARIOS_FOUND[$suite]}
    failures=$(status_count failures "$status")
    errors=$(status_count errors "$status")
    unexpected=$(status_count 'unexpected successes' "$status")
    skipped=$(status_count skipped "$status")
    failed=$(( ${failures:-0} + ${errors:-0} + ${unexpected:-0} ))
    skipped=${skipped:-0}
    if [ -z "$ran" ]; then
        ran=0; failed=$((failed + 1)); note="did not run (exit code $rc)"
    elif [ "$rc" -ne 0 ] && ! { [ "$rc" -eq 5 ] && [ "$ran" -eq 0 ]; } \
            && [ "$failed" -eq 0 ]; then
        # exit code 5 is "NO TESTS RAN" (Python 3.12+), fine here
        failed=1; note="exit code $rc"
    fi
    passed=$((ran - failed - skipped))
    [ "$passed" -ge 0 ] || passed=0
    if [ ${#PATTERNS[@]} -gt 0 ]; then
        note="${note:+$note; }filtered: scenarios not checked"
    elif [ "$scen_found" = '?' ]; then
        failed=$((failed + 1))
        note="${note:+$note; }could not count the scenarios"
    elif [ "$scen_found" -ne "$scen_run" ]; then
        # each scenario missing (or unexpected) counts as a failure
        local diff=$((scen_found - scen_run))
        failed=$((failed + ${diff#-}))
        note="${note:+$note; }$scen_run scenarios run but $scen_found found"
    fi
    add_row "$db" "$suite" $((ran - scen_run)) "$scen_run" "$scen_found" \
        "$passed" "$failed" "$skipped" "$secs" "$note"
}

# Count the scenario files of each suite when the code is installed, so that
# files added during the run do not count.
declare -A SCENARIOS_FOUND
count_scenarios() {
    local module
    for module in "${MODULES[@]}"; do
        SCENARIOS_FOUND[$module]=$(expected_scenarios \
            "$REPO/modules/$module/tests") || SCENARIOS_FOUND[$module]='?'
    done
    SCENARIOS_FOUND[cross-module]=$(expected_scenarios "$REPO/tests") \
        || SCENARIOS_FOUND[cross-module]='?'
    SCENARIOS_FOUND[deploy]=$(expected_scenarios "$REPO/tests/deploy") \
        || SCENARIOS_FOUND[deploy]='?'
}

# --- one database --------------------------------------------------------------
run_database() {
    local db=$1 workdir module
    workdir=$(mktemp -d)
    # Module tests run outside the checkout so that Python imports the
    # installed packages; the cross-module tests/ package needs the checkout.
    for module in "${MODULES[@]}"; do
        run_suite "$db" "$module" "$workdir" -- \
            discover -s "trytond.modules.$module.tests" -v
    done
    run_suite "$db" cross-module "$REPO" -- \
        discover -s tests -t . -v
    rm -rf "$workdir"
}

run_sqlite() {
    local fp
    fp=$(fingerprint)
    # Keep only the cache made by the current code.
    find "$CACHE/db-sqlite" -mindepth 1 -maxdepth 1 ! -name "$fp" \
        -exec rm -rf {} + 2>/dev/null
    mkdir -p "$CACHE/db-sqlite/$fp"
    TRYTOND_DATABASE_URI=sqlite:// DB_NAME=:memory: \
    DB_CACHE=$CACHE/db-sqlite/$fp \
        run_database sqlite
}

run_postgresql() {
    local fp db_name=test_shop_$$
    if ! pg_reachable; then
        echo
        echo "PostgreSQL not reachable at $PG_HOST:$PG_PORT: SKIPPED"
        if [ "${CI:-}" = true ]; then
            echo "CI=true: the PostgreSQL run is required" >&2
            add_row postgresql '(all)' 0 0 0 0 1 0 0 "not reachable (required in CI)"
        else
            add_row postgresql '(all)' 0 0 0 0 0 0 0 "SKIPPED: not reachable"
        fi
        return
    fi
    fp=$(fingerprint)
    if ! pg_drop_stale_templates "$fp"; then
        add_row postgresql '(all)' 0 0 0 0 1 0 0 "could not drop stale template databases"
        return
    fi
    TRYTOND_DATABASE_URI=$PG_URI DB_NAME=$db_name DB_CACHE=$PG_URI \
        run_database postgresql
    pg_label_templates "$fp" || true
    pg_drop_database "$db_name" || true
}

# --- browser suite (tests/browser/run.sh) ----------------------------------------
# The web client in headless chromium against a copy of the demo database.
# Skipped without npm or chromium (a failure when CI=true) and when -k
# filters the tests, unless "browser" is asked for.
run_browser() {
    local log=$LOGDIR/browser.log start=$SECONDS rc last passed failed note=""
    if [ ${#PATTERNS[@]} -gt 0 ] && ! $BROWSER_ASKED; then
        add_row browser suite 0 0 0 0 0 0 0 "SKIPPED: filtered by -k"
        return
    fi
    echo
    echo "=== [browser] tests/browser/run.sh"
    VENV=$VENV "$REPO/tests/browser/run.sh" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    passed=${last%% passed*}
    failed=${last#*, }
    failed=${failed%% failed}
    passed=${passed:-0}
    failed=${failed:-0}
    if [ "$rc" -eq 77 ]; then
        note="SKIPPED: $(sed -n 's/^Browser suite SKIPPED: //p' "$log" | tail -1)"
        if [ "${CI:-}" = true ]; then
            failed=$((failed + 1)); note="$note (required in CI)"
        fi
    elif [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=1; note="exit code $rc"
    fi
    add_row browser suite 0 0 0 "$passed" "$failed" 0 $((SECONDS - start)) "$note"
}

# The deployment tests: one row of the PostgreSQL results.  The smoke test
# runs docker/'s scripts on PostgreSQL in a database of its own; it skips
# itself when PostgreSQL does not answer (a failure with CI=true).  It keeps
# the database of its first init as a template for the same code
# (DEPLOY_CACHE=0: create it again).  DEPLOY_TESTS picks the test files
# (default all; 'test_compose.py' for the checks of the files only).
run_deploy() {
    PGHOST=$PG_HOST PGPORT=$PG_PORT PGUSER=$PG_USER \
        run_suite postgresql deploy "$REPO/tests/deploy" -- \
        discover -s . -t . -p "${DEPLOY_TESTS:-test_*.py}" -v
}

# --- report --------------------------------------------------------------------
summary() {
    local row db suite unit scen_run scen_found passed failed skipped secs note
    local fmt='%-11s %-18s %6s %10s %7s %7s %8s %6s  %s\n'
    local -A t_unit t_run t_found t_passed t_failed t_skipped t_secs
    local dbs=()
    echo
    echo "Summary"
    printf "$fmt" database suite unit scenarios passed failed skipped time note
    for row in "${ROWS[@]}"; do
        IFS='|' read -r db suite unit scen_run scen_found passed failed \
            skipped secs note <<<"$row"
        printf "$fmt" "$db" "$suite" "$unit" "$scen_run/$scen_found" \
            "$passed" "$failed" "$skipped" "${secs}s" "$note"
        [ -n "${t_unit[$db]:-}" ] || dbs+=("$db")
        t_unit[$db]=$(( ${t_unit[$db]:-0} + unit ))
        t_run[$db]=$(( ${t_run[$db]:-0} + scen_run ))
        t_found[$db]=$(( ${t_found[$db]:-0} + ${scen_found//\?/0} ))
        t_passed[$db]=$(( ${t_passed[$db]:-0} + passed ))
        t_failed[$db]=$(( ${t_failed[$db]:-0} + failed ))
        t_skipped[$db]=$(( ${t_skipped[$db]:-0} + skipped ))
        t_secs[$db]=$(( ${t_secs[$db]:-0} + secs ))
    done
    for db in "${dbs[@]}"; do
        printf "$fmt" "$db" "= total" "${t_unit[$db]}" \
            "${t_run[$db]}/${t_found[$db]}" "${t_passed[$db]}" \
            "${t_failed[$db]}" "${t_skipped[$db]}" "${t_secs[$db]}s" ""
    done
    echo "Logs: $LOGDIR"
    failures
}

# The failed tests of every log, each with its message, so that the end of
# the output names them: unittest's FAIL/ERROR blocks (header and last line
# of the traceback) and the browser suite's FAIL lines (and the next one).
failures() {
    local log name lines
    lines=$(for log in "$LOGDIR"/*.log; do
        [ -e "$log" ] || continue
        name=$(basename "$log" .log)
        awk -v name="$name" '
            /^(FAIL|ERROR): / { header = $0; last = ""; state = 1; next }
            state == 1 && /^-{20,}$/ { state = 2; next }
            state == 2 && /^(-{20,}|={20,})$/ {
                print name ": " header "\n    " last; state = 0; next }
            state == 2 && NF { last = $0 }
            /^FAIL / { print name ": " $0; getline; print name ": " $0 }
        ' "$log"
    done)
    [ -n "$lines" ] || return 0
    echo
    echo "Failures"
    echo "$lines" | head -60
}

main() {
    local start=$SECONDS db
    mkdir -p "$LOGDIR"
    rm -f "$LOGDIR"/*.log
    count_scenarios
    if ! setup_venv; then
        echo "Could not set up the test environment in $VENV" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    for db in "${DATABASES[@]}"; do
        "run_$db"
    done
    summary
    echo "Total time: $((SECONDS - start))s"
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    [ "$TOTAL_FAILED" -eq 0 ]
}

main
