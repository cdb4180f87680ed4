#!/usr/bin/env bash
# Builds and runs Keepwatch's benchmarks (tests/bench/): all of them, or the
# ones named (e.g. `ops/bench.sh decider_bench`). Each prints one JSON line
# per figure with the issue's target beside it. Benchmarks never fail a build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/ops/install-deps.sh" >&2
build="${KEEPWATCH_BUILD_DIR:-$root/build}"
"$root/ops/build.sh" >&2
mapfile -t benches < <(find "$build/tests/bench" -type f -name '*_bench' -perm -u+x | sort)
for b in "${benches[@]}"; do
  name="$(basename "$b")"
  if (($#)); then
    keep=0
    for want in "$@"; do [[ "$name" == "$want" ]] && keep=1; done
    ((keep)) || continue
  fi
  "$b" || echo "{\"bench\":\"$name\",\"error\":\"exited with $?\"}"
done
