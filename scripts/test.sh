#!/usr/bin/env bash
# The project's test command:  bash scripts/test.sh [pytest args...]
#
# Creates .venv if missing, installs the project into it (editable, with the
# test/postgres/dev/examples extras), starts a throwaway PostgreSQL cluster with
# scripts/pg.sh unless HARMONY_TEST_POSTGRES_URL is already set, runs pytest
# in parallel on the available cores (pytest-xdist -n auto; tests/conftest.py
# puts the slow tests first, and "--dist worksteal" lets a worker that ran out
# of tests take queued ones from the other, so no core idles at the end: the
# whole suite took 271-281 s on 2 cores against 295-315 s with "--dist load")
# and exits with pytest's exit code. Later arguments win: "-n 0" runs serially.
#
# Without PostgreSQL server binaries the PostgreSQL tests are skipped, except
# under CI=true, where that is an error (pyproject's harmony_require_postgres).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}

say() { printf 'test.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if ! [ -x .venv/bin/python ] || ! .venv/bin/python -c '' >/dev/null 2>&1; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3 (Debian: apt-get install python3 python3-venv)"
    say "creating .venv with $PYTHON"
    "$PYTHON" -m venv --clear .venv \
        || die "'$PYTHON -m venv' failed (Debian: apt-get install python3-venv)"
fi

# The editable install follows code changes by itself; reinstall (15 s even when
# nothing changes) only when pyproject.toml changed or a test dependency is missing.
stamp=.venv/.harmony-test-install
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] \
        && .venv/bin/python -c 'import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in ("harmony", "xdist", "psycopg", "fastapi", "flask", "schemathesis")))' 2>/dev/null; then
    say "project already installed in .venv (pyproject.toml unchanged)"
else
    say "installing the project into .venv"
    .venv/bin/python -m pip install -q -e '.[test,postgres,dev,examples]'
    printf '%s\n' "$wanted" > "$stamp"
fi

pg_dir=
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    if [ -n "$pg_dir" ]; then
        bash scripts/pg.sh stop "$pg_dir" || true
        rmdir "$pg_dir" 2>/dev/null || true  # start failed before using it
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${HARMONY_TEST_POSTGRES_URL:-}" ]; then
    say "using PostgreSQL from HARMONY_TEST_POSTGRES_URL"
elif bash scripts/pg.sh bindir >/dev/null 2>&1; then
    pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/harmony-pg.XXXXXX")
    HARMONY_TEST_POSTGRES_URL=$(bash scripts/pg.sh start "$pg_dir") \
        || die "could not start a throwaway PostgreSQL cluster (see above)"
    export HARMONY_TEST_POSTGRES_URL
    say "PostgreSQL tests use $HARMONY_TEST_POSTGRES_URL"
elif [ "${CI:-}" = true ]; then
    die "CI=true but no PostgreSQL server binaries were found, and PostgreSQL tests must not be skipped in CI; install PostgreSQL (Debian: apt-get install postgresql) or set HARMONY_TEST_POSTGRES_URL"
else
    say "WARNING: no PostgreSQL server binaries found and HARMONY_TEST_POSTGRES_URL is unset: PostgreSQL tests will be SKIPPED (Debian: apt-get install postgresql)"
fi

rc=0
.venv/bin/python -m pytest -n auto --dist worksteal "$@" || rc=$?
exit "$rc"
