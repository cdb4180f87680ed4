#!/usr/bin/env bash
# Runs a Keepwatch node on the embedded log: installs what is missing, builds,
# and starts `keepwatch serve` with its data in ./data (override with
# KEEPWATCH_NODE_DATA_DIR). Stop it with Ctrl-C (SIGINT) or SIGTERM.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/ops/install-deps.sh"
"$root/ops/build.sh" --target keepwatch
build="${KEEPWATCH_BUILD_DIR:-$root/build}"
export KEEPWATCH_NODE_DATA_DIR="${KEEPWATCH_NODE_DATA_DIR:-$root/data}"
config="${KEEPWATCH_CONFIG:-$root/config/keepwatch.example.toml}"
echo "keepwatch: data in $KEEPWATCH_NODE_DATA_DIR, config $config"
exec "$build/cluster/keepwatch" serve --config "$config" "$@"
