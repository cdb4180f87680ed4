#!/usr/bin/env bash
# Runs every Keepwatch test: installs what is missing, builds, runs ctest.
# The tests start the real servers they need themselves (HTTP, TLS and TCP
# targets on 127.0.0.1, child processes that are killed with SIGKILL) and stop
# them again.
#
# Then two instrumented runs, each in its own build dir:
#  - the unit tests that tests/CMakeLists.txt lists for KW_SANITIZE, built
#    with ASan and UBSan (./build-asan; KEEPWATCH_SANITIZE=0 skips it);
#  - every fuzz target of tests/fuzz/ for KEEPWATCH_FUZZ_SECONDS each
#    (default 25; 0 skips), built with clang's libFuzzer (./build-fuzz).
# A sanitizer report or a fuzzer crash fails the run; neither is retried.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/ops/install-deps.sh"
"$root/ops/build.sh"
build="${KEEPWATCH_BUILD_DIR:-$root/build}"
jobs="${KEEPWATCH_JOBS:-2}"
gen=()
if command -v ninja >/dev/null; then gen=(-G Ninja); fi
cd "$build"
# A failing test is run once more before it counts as failed: the Kafka
# group-rebalance tests depend on timing on a loaded 2-core machine.
ctest --output-on-failure --timeout 600 -j "${KEEPWATCH_TEST_JOBS:-2}" --repeat until-pass:2 "$@"

if [[ "${KEEPWATCH_SANITIZE:-1}" != 0 ]]; then
  asan="${KEEPWATCH_ASAN_BUILD_DIR:-$root/build-asan}"
  start=$SECONDS
  if [[ ! -f "$asan/CMakeCache.txt" ]]; then
    cmake -S "$root" -B "$asan" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKW_SANITIZE=ON
  fi
  cmake --build "$asan" -j "$jobs" --target kw_sanitized_tests
  echo "test: sanitizer build took $((SECONDS - start)) s"
  # Leaks are reported too (LeakSanitizer); a report fails the test.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    ctest --test-dir "$asan" -L sanitize --output-on-failure -j "${KEEPWATCH_TEST_JOBS:-2}"
  echo "test: sanitizer build and run took $((SECONDS - start)) s"
fi

if [[ "${KEEPWATCH_FUZZ_SECONDS:-25}" != 0 ]]; then
  fuzz="${KEEPWATCH_FUZZ_BUILD_DIR:-$root/build-fuzz}"
  start=$SECONDS
  if [[ ! -f "$fuzz/CMakeCache.txt" ]]; then
    CC=clang CXX=clang++ cmake -S "$root" -B "$fuzz" "${gen[@]}" -DKW_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
  fi
  cmake -S "$root" -B "$fuzz" -DKW_FUZZ_SECONDS="${KEEPWATCH_FUZZ_SECONDS:-25}" >/dev/null
  cmake --build "$fuzz" -j "$jobs" --target kw_fuzz_targets
  # One target at a time: each fuzzer keeps a core busy for its whole run.
  ctest --test-dir "$fuzz" -R '^fuzz\.' --output-on-failure -j 1
  echo "test: fuzz build and runs took $((SECONDS - start)) s"
fi
