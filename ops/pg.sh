#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests and local runs (issue 4 item 1).
#
#   ops/pg.sh start [DIR]   initdb into DIR (default: a new temporary directory),
#                           start the server on a free 127.0.0.1 port, create the
#                           database `keepwatch`, and print exactly one line on
#                           stdout: postgresql://postgres@127.0.0.1:PORT/keepwatch
#                           Starting a DIR that is already running just prints
#                           its URL again; a stopped one is started again.
#   ops/pg.sh url DIR       print the URL of the server in DIR
#   ops/pg.sh stop DIR      stop the server (pg_ctl stop -m fast) and remove DIR
#                           (only a DIR this script created; a missing DIR is fine)
#
# As root the server runs as the `postgres` user (DIR is chowned to it). Trust
# authentication, for 127.0.0.1 and the unix socket inside DIR only: never point
# this at anything but throwaway data. Diagnostics go to stderr.
# PG_BIN overrides the binaries' directory (default /usr/lib/postgresql/15/bin).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
MARKER=.keepwatch-pg   # marks a DIR this script owns (and may delete)

die() { echo "pg.sh: error: $*" >&2; exit 1; }
say() { echo "pg.sh: $*" >&2; }

usage() {
  echo "usage: $0 start [DIR] | url DIR | stop DIR" >&2
  exit 2
}

as_pg() {  # run a command as the server's user
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

is_running() {  # DIR
  [[ -f $1/data/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" status -D "$1/data" >/dev/null 2>&1
}

url_of() { echo "postgresql://postgres@127.0.0.1:$1/keepwatch"; }

require_ours() {  # DIR
  [[ -d $1 ]] || die "no such directory: $1"
  [[ -f $1/$MARKER ]] || die "$1 was not created by ops/pg.sh (no $MARKER); refusing to touch it"
}

start_server() {  # DIR PORT -> 0 if started
  local dir=$1 port=$2
  # the port is chosen per start: write it where postgresql.conf includes it
  echo "port = $port" >"$dir/data/port.conf"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir/data/port.conf"; fi
  as_pg "$PG_BIN/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" >/dev/null
}

cmd_start() {
  local dir=${1:-}
  [[ -x $PG_BIN/initdb ]] || die "PostgreSQL 15 not found in $PG_BIN (apt-get install postgresql-15)"
  command -v python3 >/dev/null || die "python3 is needed to pick a free port"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
  fi

  if [[ -z $dir ]]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/keepwatch-pg.XXXXXX")
    touch "$dir/$MARKER"
  elif [[ ! -e $dir ]]; then
    mkdir -p "$dir"
    touch "$dir/$MARKER"
  elif [[ -d $dir && -z $(ls -A "$dir") ]]; then
    touch "$dir/$MARKER"
  else
    require_ours "$dir"
  fi
  dir=$(cd "$dir" && pwd)

  if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres: "$dir"
    chmod 700 "$dir"
    runuser -u postgres -- test -w "$dir" ||
      die "the postgres user cannot write $dir (is a parent directory closed to it?)"
  fi

  if [[ -f $dir/url ]] && is_running "$dir"; then
    cat "$dir/url"
    return 0
  fi

  if [[ ! -f $dir/data/PG_VERSION ]]; then
    rm -rf "$dir/data"
    say "initdb into $dir/data"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C \
      --auth=trust --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    as_pg mkdir -p "$dir/sock"
    cat >"$dir/data/pg_hba.conf" <<'EOF'
# ops/pg.sh: trust, but only on the socket inside DIR and on 127.0.0.1
local all all trust
host  all all 127.0.0.1/32 trust
EOF
    cat >>"$dir/data/postgresql.conf" <<EOF

# ops/pg.sh (throwaway server)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
include_if_exists = 'port.conf'
EOF
    if [[ $(id -u) -eq 0 ]]; then
      chown postgres: "$dir/data/pg_hba.conf" "$dir/data/postgresql.conf"
    fi
  fi

  # a free port can be taken between picking and binding it: try a few
  local port="" attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if start_server "$dir" "$port"; then break; fi
    say "start on port $port failed (attempt $attempt), see $dir/server.log"
    port=""
  done
  [[ -n $port ]] || { tail -n 20 "$dir/server.log" >&2 || true; die "could not start PostgreSQL"; }

  local exists
  exists=$(as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XAtq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'keepwatch'") || die "cannot connect to the new server"
  if [[ $exists != 1 ]]; then
    as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres keepwatch || die "createdb keepwatch failed"
  fi

  echo "$port" >"$dir/port"
  url_of "$port" >"$dir/url"
  say "PostgreSQL 15 running in $dir on 127.0.0.1:$port"
  cat "$dir/url"
}

cmd_url() {
  local dir=${1:-}
  [[ -n $dir ]] || usage
  require_ours "$dir"
  [[ -f $dir/url ]] || die "$dir has no server URL (was it started?)"
  cat "$dir/url"
}

cmd_stop() {
  local dir=${1:-}
  [[ -n $dir ]] || usage
  if [[ ! -e $dir ]]; then
    say "$dir does not exist: nothing to stop"
    return 0
  fi
  require_ours "$dir"
  if is_running "$dir"; then
    as_pg "$PG_BIN/pg_ctl" stop -w -m fast -D "$dir/data" >/dev/null || die "pg_ctl stop failed for $dir"
  fi
  rm -rf -- "$dir"
  say "stopped and removed $dir"
}

case ${1:-} in
  start) shift; [[ $# -le 1 ]] || usage; cmd_start "$@" ;;
  url)   shift; [[ $# -eq 1 ]] || usage; cmd_url "$@" ;;
  stop)  shift; [[ $# -eq 1 ]] || usage; cmd_stop "$@" ;;
  *) usage ;;
esac
