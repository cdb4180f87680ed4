#!/usr/bin/env bash
# Runs a Keepwatch node on the embedded log: installs what is missing, builds,
# starts a local PostgreSQL for the read models (ops/pg.sh, data in
# <data>/pg — or, as root in a clone the postgres user cannot reach, such as
# one under /root, in /var/lib/keepwatch/pg-<hash of the data path>; set
# KEEPWATCH_PG_DIR to choose, or KEEPWATCH_DATABASE_URL to use an existing
# PostgreSQL instead), and
# runs `keepwatch serve` with its data in ./data (KEEPWATCH_NODE_DATA_DIR).
# Stop it with Ctrl-C (SIGINT) or SIGTERM: the node stops cleanly, then the
# PostgreSQL this script started.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/ops/install-deps.sh"
"$root/ops/build.sh" --target keepwatch
build="${KEEPWATCH_BUILD_DIR:-$root/build}"
export KEEPWATCH_NODE_DATA_DIR="${KEEPWATCH_NODE_DATA_DIR:-$root/data}"
config="${KEEPWATCH_CONFIG:-$root/config/keepwatch.example.toml}"
mkdir -p "$KEEPWATCH_NODE_DATA_DIR"

pg_dir=""
if [[ -z "${KEEPWATCH_DATABASE_URL:-}" ]]; then
  pg_dir="${KEEPWATCH_PG_DIR:-$KEEPWATCH_NODE_DATA_DIR/pg}"
  chmod 755 "$KEEPWATCH_NODE_DATA_DIR"  # the server may run as the postgres user
  if [[ -z "${KEEPWATCH_PG_DIR:-}" && $(id -u) -eq 0 ]] &&
     ! runuser -u postgres -- test -x "$KEEPWATCH_NODE_DATA_DIR" 2>/dev/null; then
    # As root the server runs as postgres, who cannot pass a closed parent
    # directory (a clone under /root): keep its data where it can, under a
    # name fixed by the data path, so the next run finds it again.
    pg_dir="/var/lib/keepwatch/pg-$(printf '%s' "$KEEPWATCH_NODE_DATA_DIR" | sha256sum | cut -c1-12)"
    mkdir -p /var/lib/keepwatch
    chmod 755 /var/lib/keepwatch
  fi
  echo "keepwatch: PostgreSQL data in $pg_dir"
  KEEPWATCH_DATABASE_URL="$(cd / && "$root/ops/pg.sh" start "$pg_dir")"  # from /: the server user may not enter this one
  export KEEPWATCH_DATABASE_URL
fi
echo "keepwatch: data in $KEEPWATCH_NODE_DATA_DIR, config $config"
echo "keepwatch: read models in $KEEPWATCH_DATABASE_URL"
port="${KEEPWATCH_GATEWAY_PORT:-8080}"
# The first platform admin (tenants across the platform): made at the first
# start, its password kept beside the data.
if [[ -z "${KEEPWATCH_GATEWAY_ADMIN_EMAIL:-}" ]]; then
  export KEEPWATCH_GATEWAY_ADMIN_EMAIL="admin@keepwatch.local"
  pwfile="$KEEPWATCH_NODE_DATA_DIR/admin-password"
  if [[ ! -s "$pwfile" ]]; then
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$pwfile")
  fi
  KEEPWATCH_GATEWAY_ADMIN_PASSWORD="$(cat "$pwfile")"
  export KEEPWATCH_GATEWAY_ADMIN_PASSWORD
  admin_note="keepwatch: platform admin: $KEEPWATCH_GATEWAY_ADMIN_EMAIL, password in $pwfile"
else
  admin_note="keepwatch: platform admin: $KEEPWATCH_GATEWAY_ADMIN_EMAIL"
fi
cat <<EOF
keepwatch: the dashboard is at http://127.0.0.1:$port/ and the API at http://127.0.0.1:$port/api/v1.
keepwatch: sign up (creates your tenant, you are its owner), then log in:
  curl -s -X POST http://127.0.0.1:$port/api/v1/auth/signup -H 'Content-Type: application/json' \\
       -d '{"email":"you@example.com","password":"at least 10 chars","tenant_name":"Acme"}'
  curl -s -X POST http://127.0.0.1:$port/api/v1/auth/login -H 'Content-Type: application/json' \\
       -d '{"email":"you@example.com","password":"at least 10 chars"}'
  then send "Authorization: Bearer <access_token>" to /api/v1/monitors.
keepwatch: monitors and webhooks may not target loopback or private addresses
  (checks.allow_private_targets is ${KEEPWATCH_CHECKS_ALLOW_PRIVATE_TARGETS:-false}); to watch services on this machine or
  its network, run with KEEPWATCH_CHECKS_ALLOW_PRIVATE_TARGETS=true.
$admin_note
EOF

"$build/cluster/keepwatch" serve --config "$config" "$@" &
node=$!
stop() { kill -TERM "$node" 2>/dev/null || true; }
trap stop INT TERM
status=0
wait "$node" || status=$?
# A signal interrupts the first wait: wait again for the node's clean stop.
if kill -0 "$node" 2>/dev/null; then wait "$node" || status=$?; fi
if [[ -n "$pg_dir" ]]; then
  # Keep the data: the next run starts the same PostgreSQL again.
  runuser_prefix=()
  [[ $(id -u) -eq 0 ]] && runuser_prefix=(runuser -u postgres --)
  "${runuser_prefix[@]}" /usr/lib/postgresql/15/bin/pg_ctl -D "$pg_dir/data" stop -m fast >/dev/null 2>&1 || true
fi
exit "$status"
