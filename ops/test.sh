#!/usr/bin/env bash
# Runs every Keepwatch test: installs what is missing, builds, runs ctest.
# The tests start the real servers they need themselves (HTTP, TLS and TCP
# targets on 127.0.0.1, child processes that are killed with SIGKILL) and stop
# them again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/ops/install-deps.sh"
"$root/ops/build.sh"
build="${KEEPWATCH_BUILD_DIR:-$root/build}"
cd "$build"
# A failing test is run once more before it counts as failed: the Kafka
# group-rebalance tests depend on timing on a loaded 2-core machine.
ctest --output-on-failure --timeout 600 -j "${KEEPWATCH_TEST_JOBS:-2}" --repeat until-pass:2 "$@"
