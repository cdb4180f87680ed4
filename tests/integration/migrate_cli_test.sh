#!/usr/bin/env bash
# `keepwatch migrate` against a throwaway PostgreSQL (ops/pg.sh): the first
# run applies every migration, the second none; a bad URL is a clear error.
set -euo pipefail
keepwatch="$1"
pg="$2"
dir="$(mktemp -d /tmp/keepwatch-migrate-XXXXXX)"
chmod 755 "$dir"  # the server may run as the postgres user
trap '"$pg" stop "$dir/pg" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
url="$("$pg" start "$dir/pg")"
first="$("$keepwatch" migrate --database-url "$url")"
second="$("$keepwatch" migrate --database-url "$url")"
want="$(ls "$(dirname "$pg")/../projections/migrations"/*.sql | wc -l)"
fail=0
[[ "$first" == "$want migration(s) applied" ]] || { echo "first run: $first (want $want)"; fail=1; }
[[ "$second" == "0 migration(s) applied" ]] || { echo "second run: $second"; fail=1; }
if "$keepwatch" migrate --database-url "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2" 2>"$dir/err"; then
  echo "an unreachable database was not an error"; fail=1
fi
grep -q "migrate:" "$dir/err" || { echo "no clear error: $(cat "$dir/err")"; fail=1; }
if ((fail)); then echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
