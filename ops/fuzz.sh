#!/usr/bin/env bash
# Fuzzes one target of tests/fuzz/ for a while:
#   ops/fuzz.sh [--no-build] TARGET SECONDS
# Builds it with clang's libFuzzer, ASan and UBSan (KW_FUZZ) into its own
# build dir (./build-fuzz, or $KEEPWATCH_FUZZ_BUILD_DIR), then runs it for
# SECONDS on a scratch copy of its seeds (tests/fuzz/TARGET/*, not crashes/),
# so the repository's seeds are never touched. Exits non-zero when it finds a
# crash, a leak, a timeout or an out-of-memory, and prints where the input is
# and how to replay it. Targets: tests/fuzz/*.cpp (e.g. route, event_decode).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build=1
if [[ "${1:-}" == "--no-build" ]]; then build=0; shift; fi
if [[ $# -ne 2 || ! "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: ops/fuzz.sh [--no-build] TARGET SECONDS   (targets: $(cd "$root/tests/fuzz" && ls -d */ | tr -d / | tr '\n' ' '))" >&2
  exit 2
fi
target="$1" seconds="$2"
seeds="$root/tests/fuzz/$target"
if [[ ! -f "$root/tests/fuzz/$target.cpp" || ! -d "$seeds" ]]; then
  echo "fuzz: no target $target (tests/fuzz/$target.cpp and tests/fuzz/$target/)" >&2
  exit 2
fi
bdir="${KEEPWATCH_FUZZ_BUILD_DIR:-$root/build-fuzz}"
if ((build)); then
  if [[ ! -f "$bdir/CMakeCache.txt" ]]; then
    gen=()
    if command -v ninja >/dev/null; then gen=(-G Ninja); fi
    # -O1 and asserts on: the usual trade of speed for checks when fuzzing.
    CC=clang CXX=clang++ cmake -S "$root" -B "$bdir" "${gen[@]}" -DKW_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
  fi
  cmake --build "$bdir" -j "${KEEPWATCH_JOBS:-2}" --target "fuzz_$target"
fi
bin="$bdir/tests/fuzz/fuzz_$target"
[[ -x "$bin" ]] || { echo "fuzz: $bin is not built (ops/fuzz.sh without --no-build builds it)" >&2; exit 2; }

scratch="$(mktemp -d "${TMPDIR:-/tmp}/keepwatch-fuzz-$target.XXXXXX")"
mkdir -p "$scratch/corpus" "$scratch/artifacts"
find "$seeds" -maxdepth 1 -type f -exec cp {} "$scratch/corpus/" \;
dict=()
if [[ -f "$root/tests/fuzz/$target.dict" ]]; then dict=(-dict="$root/tests/fuzz/$target.dict"); fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
echo "fuzz: $target for ${seconds}s on $(ls "$scratch/corpus" | wc -l) seeds (scratch: $scratch)"
set +e
# One input may take at most 10 s and 2 GiB; inputs up to 64 KiB.
"$bin" "$scratch/corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$scratch/artifacts/" 2>"$scratch/log"
rc=$?
set -e
grep -E '^(#[0-9]+[[:space:]]+(DONE|INITED)|stat::|==[0-9]+==ERROR|SUMMARY|fuzz:)' "$scratch/log" | tail -n 20 || true
found=("$scratch"/artifacts/*)
if ((rc != 0)) || [[ -e "${found[0]}" ]]; then
  echo "----- the fuzzer's report (last 60 lines of $scratch/log) -----"
  tail -n 60 "$scratch/log"
  echo "FUZZ FAILURE: $target exited $rc"
  for f in "${found[@]}"; do
    [[ -e "$f" ]] || continue
    echo "  input: $f"
    echo "  replay: $bin $f"
    echo "  keep as a regression seed: cp $f $seeds/crashes/"
  done
  exit 1
fi
rm -rf "$scratch"
