#!/usr/bin/env bash
# Configures and builds Keepwatch into ./build (or $KEEPWATCH_BUILD_DIR), with
# ccache and mold when present (CMakeLists picks them up) and -j2 by default.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${KEEPWATCH_BUILD_DIR:-$root/build}"
jobs="${KEEPWATCH_JOBS:-2}"
gen=()
if command -v ninja >/dev/null; then gen=(-G Ninja); fi
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" -j "$jobs" "$@"
