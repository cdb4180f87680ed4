#!/usr/bin/env bash
# Compares `keepwatch audit replay` of two builds on the same embedded log,
# byte for byte: every tenant given, JSON lines and CSV, the whole history
# and a --from/--to window, and the exit status and stderr of each run.
# For changes that must not alter replay's output (speed work, refactors).
#
#   compare_replay.sh OLD_KEEPWATCH NEW_KEEPWATCH DATA_DIR PARTITIONS TENANT...
#
# Exits 0 when every output is identical, 1 naming the first difference.
set -euo pipefail
old=$1 new=$2 dir=$3 parts=$4
shift 4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
run() {  # run NAME BINARY ARGS...
  local name=$1 bin=$2
  shift 2
  set +e
  "$bin" audit replay -d "$dir" -p "$parts" "$@" --out "$work/$name.out" 2>"$work/$name.err"
  echo $? >"$work/$name.rc"
  set -e
}
for tenant in "$@"; do
  # A window: the times of the tenant's second and second-to-last events.
  run probe "$old" --tenant "$tenant"
  from=$(sed -n 2p "$work/probe.out" | grep -o '"time":"[^"]*"' | cut -d'"' -f4 || true)
  to=$(tail -n 2 "$work/probe.out" | head -n 1 | grep -o '"time":"[^"]*"' | cut -d'"' -f4 || true)
  variants=("--format jsonl" "--format csv")
  if [[ -n $from && -n $to ]]; then
    variants+=("--format jsonl --from $from --to $to" "--format csv --from $from --to $to")
  fi
  for v in "${variants[@]}"; do
    # shellcheck disable=SC2086
    run a "$old" --tenant "$tenant" $v
    # shellcheck disable=SC2086
    run b "$new" --tenant "$tenant" $v
    for f in out err rc; do
      if ! cmp -s "$work/a.$f" "$work/b.$f"; then
        echo "DIFFERENT: tenant $tenant, $v: $f" >&2
        cmp "$work/a.$f" "$work/b.$f" >&2 || true
        status=1
      fi
    done
    echo "tenant $tenant, $v: $(wc -l <"$work/a.out") lines, exit $(cat "$work/a.rc"), $([[ $status == 0 ]] && echo same || echo DIFFERENT)"
  done
done
exit $status
