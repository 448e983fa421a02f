#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/) with clang 14, libFuzzer, ASan and UBSan in build-fuzz/ and
# runs each one in turn.
#
#   scripts/fuzz.sh                       every target for 10 s (what the test command runs)
#   scripts/fuzz.sh --seconds 600 image   one target for ten minutes
#   scripts/fuzz.sh --runs 1000000        every target for a million inputs
#
# A target starts from its seeds (fuzz/corpus/<t>) and the inputs that once crashed it
# (fuzz/regressions/<t>); what it learns stays in build-fuzz/corpus/<t> for the next run. A
# finding (crash, sanitizer report, leak, timeout, out of memory) leaves its input in
# build-fuzz/findings/<t>/ and makes the script exit 1: fix it, then copy the input into
# fuzz/regressions/<t>/ so the ordinary test suite replays it from then on.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${IPFS_ACCEL_FUZZ_BUILD_DIR:-$root/build-fuzz}"
limit=(-max_total_time=10)
targets=()
while (($#)); do
  case "$1" in
    --seconds) limit=("-max_total_time=$2"); shift 2 ;;
    --runs) limit=("-runs=$2"); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(safetensors shard_index hf_config onnx_model result_file image audio)
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: no fuzz target '$t' (targets: ${all[*]})" >&2; exit 2; }
done

"$root/scripts/bootstrap.sh"
# -O1 without NDEBUG (asserts stay on): the test command builds this on every CI run.
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DIPFS_ACCEL_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/%/_fuzzer}"

# Leaks are findings; the run stops at the first finding of a target.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
printf '%-12s %12s %8s %8s  %s\n' target executions seconds corpus result
for t in "${targets[@]}"; do
  work="$build/corpus/$t" findings="$build/findings/$t"
  mkdir -p "$work" "$findings"
  log="$build/fuzz-$t.log"
  start=$SECONDS
  set +e
  "$build/fuzz/${t}_fuzzer" "${limit[@]}" -rss_limit_mb=2048 -timeout=30 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$findings/" "$work" "$root/fuzz/corpus/$t" \
    $( [ -d "$root/fuzz/regressions/$t" ] && echo "$root/fuzz/regressions/$t" ) >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  result=ok
  if ((rc != 0)); then
    result="FINDING (exit $rc): $(ls -t "$findings" | head -1) — see $log"
    status=1
  fi
  printf '%-12s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "$((SECONDS - start))" \
    "$(ls "$work" | wc -l)" "$result"
done
exit $status
