#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the test suite.
#
#   bash scripts/pg.sh start DIR   # init + start a cluster in DIR (empty or new);
#                                  # prints ONE line on stdout: the SQLAlchemy URL
#   bash scripts/pg.sh stop DIR    # immediate shutdown, then removes DIR (idempotent)
#   bash scripts/pg.sh restart DIR # fast shutdown and start again, same port and options
#   bash scripts/pg.sh bindir      # prints the server bin directory, exit 1 if none
#
# The cluster runs with fsync, synchronous_commit and full_page_writes off (tests need
# no durability); HARMONY_PG_DURABLE=1 keeps the server defaults (fsync on), which is
# what benchmark claims are made on.
#
# Server binaries are looked up in this order: $HARMONY_PG_BINDIR,
# `pg_config --bindir`, the highest /usr/lib/postgresql/*/bin, `initdb` on PATH.
# PostgreSQL refuses to run as root, so when run as root the cluster is created
# and run as the `postgres` OS user (created with useradd if it is missing) and
# DIR is handed over to that user. As any other user it runs as that user.
# Everything but the URL goes to stderr.
set -euo pipefail

PG_OS_USER=postgres
DB_NAME=harmony_test
MARKER=.harmony-pg

log() { printf 'pg.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { printf 'usage: bash scripts/pg.sh start DIR | stop DIR | restart DIR | bindir\n' >&2; exit 2; }

has_server_bins() {
    [ -n "$1" ] && [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]
}

find_bindir() {
    local d
    if [ -n "${HARMONY_PG_BINDIR:-}" ]; then
        has_server_bins "$HARMONY_PG_BINDIR" && { printf '%s\n' "$HARMONY_PG_BINDIR"; return 0; }
        log "HARMONY_PG_BINDIR=$HARMONY_PG_BINDIR has no initdb/pg_ctl/postgres; ignoring it"
    fi
    # On Debian pg_config may come from libpq-dev alone, so check that the
    # directory it names really holds the server.
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        has_server_bins "$d" && { printf '%s\n' "$d"; return 0; }
    fi
    while IFS= read -r d; do
        has_server_bins "$d" && { printf '%s\n' "$d"; return 0; }
    done < <(for d in /usr/lib/postgresql/*/bin; do [ -d "$d" ] && printf '%s\n' "$d"; done | sort -rV)
    if command -v initdb >/dev/null 2>&1; then
        d=$(dirname "$(readlink -f "$(command -v initdb)")")
        has_server_bins "$d" && { printf '%s\n' "$d"; return 0; }
    fi
    return 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the cluster owner (postgres when we are root).
as_pg() {
    if ! is_root; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$PG_OS_USER" -- "$@"
    else
        su "$PG_OS_USER" -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

ensure_pg_user() {
    is_root || return 0
    id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
    log "creating system user $PG_OS_USER"
    if getent group "$PG_OS_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /bin/sh -g "$PG_OS_USER" "$PG_OS_USER" >&2
    else
        useradd --system --no-create-home --shell /bin/sh --user-group "$PG_OS_USER" >&2
    fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Is PID a live postmaster of data directory DATA?
is_our_postmaster() {
    local pid=$1 data=$2 cmdline
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    [ -r "/proc/$pid/cmdline" ] || return 0   # cannot tell; assume yes
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$data"* ]]
}

cmd_start() {
    local dir=$1 bindir port attempt opts started=0

    bindir=$(find_bindir) || die "no PostgreSQL server binaries found (looked at \`pg_config --bindir\`, /usr/lib/postgresql/*/bin and initdb on PATH); on Debian: apt-get install postgresql"
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to pick a free port"
    ensure_pg_user

    if [ -e "$dir" ]; then
        [ -d "$dir" ] || die "$dir exists and is not a directory"
        [ -z "$(ls -A "$dir")" ] || die "$dir is not empty; give an empty or new directory (e.g. \"\$(mktemp -d)\")"
    else
        mkdir -p "$dir"
    fi
    dir=$(cd "$dir" && pwd -P)
    # The path ends up inside pg_ctl's shell command line (-o ...).
    case $dir in
        *[!A-Za-z0-9._/+-]*) die "unsupported characters in $dir; use a plain path such as one from mktemp -d" ;;
    esac
    # Unix socket paths are limited to 107 bytes.
    [ $(( ${#dir} + 22 )) -le 107 ] || die "$dir is too long for a Unix socket path; use a shorter one (e.g. under /tmp)"

    touch "$dir/$MARKER"
    mkdir "$dir/sock"
    if is_root; then
        chown -R "$PG_OS_USER:" "$dir"
        chmod 0700 "$dir"
        as_pg test -w "$dir" -a -x "$dir" \
            || die "user $PG_OS_USER cannot reach $dir: every parent directory must be searchable by it (o+x); use a directory under /tmp, e.g. \"\$(mktemp -d)\""
    fi

    log "using server binaries in $bindir"
    # pg_ctl/initdb as postgres must not sit in a directory it cannot read.
    cd /

    if ! as_pg "$bindir/initdb" -D "$dir/data" --auth=trust --username=postgres \
            --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb failed"
    fi

    # The free port can be taken between picking it and binding it; retry then.
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        opts="-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c max_connections=200"
        if [ "${HARMONY_PG_DURABLE:-}" != 1 ]; then
            # A throwaway cluster for tests: durability only costs time.
            opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        fi
        if as_pg "$bindir/pg_ctl" -D "$dir/data" -o "$opts" -l "$dir/log" -w -t 60 start >&2; then
            started=1
            break
        fi
        if grep -q 'could not bind\|already in use' "$dir/log" 2>/dev/null && [ "$attempt" -lt 5 ]; then
            log "port $port was taken, retrying"
            continue
        fi
        break
    done
    if [ "$started" -ne 1 ]; then
        log "server log ($dir/log):"
        tail -n 50 "$dir/log" >&2 2>/dev/null || true
        as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
        die "could not start PostgreSQL"
    fi

    if ! as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$DB_NAME" >&2; then
        as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
        die "createdb $DB_NAME failed"
    fi

    log "PostgreSQL running on 127.0.0.1:$port (data in $dir, stop with: bash scripts/pg.sh stop $dir)"
    printf 'postgresql+psycopg://postgres@127.0.0.1:%s/%s\n' "$port" "$DB_NAME"
}

cmd_stop() {
    local dir=$1 bindir pid data i
    if [ ! -e "$dir" ]; then
        log "$dir does not exist; nothing to stop"
        return 0
    fi
    dir=$(cd "$dir" && pwd -P) || return 0
    if [ "$dir" = / ] || [ ! -f "$dir/$MARKER" ]; then
        log "warning: $dir was not made by 'pg.sh start'; leaving it alone"
        return 0
    fi
    cd /
    data=$dir/data
    if [ -f "$data/postmaster.pid" ]; then
        if bindir=$(find_bindir); then
            as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w -t 30 stop >&2 || true
        fi
        # Fallback if pg_ctl is gone or did not manage it: SIGQUIT is an
        # immediate shutdown, SIGKILL the last resort.
        pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
        if is_our_postmaster "$pid" "$data"; then
            kill -QUIT "$pid" 2>/dev/null || true
            for i in $(seq 50); do
                is_our_postmaster "$pid" "$data" || break
                [ "$i" -lt 50 ] && sleep 0.2
            done
            if is_our_postmaster "$pid" "$data"; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    rm -rf -- "$dir" || log "warning: could not remove all of $dir"
    return 0
}

cmd_restart() {
    local dir=$1 bindir
    [ -f "$dir/$MARKER" ] || die "$dir was not made by 'pg.sh start'"
    dir=$(cd "$dir" && pwd -P)
    bindir=$(find_bindir) || die "no PostgreSQL server binaries found"
    cd /
    # pg_ctl restart reuses the options of the running server (postmaster.opts).
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -m fast -w -t 60 restart >&2
}

[ $# -ge 1 ] || usage
case $1 in
    start) if [ $# -ne 2 ] || [ -z "$2" ]; then usage; fi; cmd_start "$2" ;;
    stop)  if [ $# -ne 2 ] || [ -z "$2" ]; then usage; fi; cmd_stop "$2" || true ;;
    restart) if [ $# -ne 2 ] || [ -z "$2" ]; then usage; fi; cmd_restart "$2" ;;
    bindir) [ $# -eq 1 ] || usage; find_bindir || { log "no PostgreSQL server binaries found"; exit 1; } ;;
    -h|--help|help) usage ;;
    *) usage ;;
esac
