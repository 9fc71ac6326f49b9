#!/usr/bin/env bash
# Builds the fuzz targets (clang, libFuzzer, ASan + UBSan) and runs each for a
# bounded time from the seed corpus in tests/fuzz/corpus.
#
#   tests/fuzz/run.sh [SECONDS] [BUILD_DIR]    (default: 60 s a target, build/fuzz)
#
# Inputs the fuzzer finds interesting collect in BUILD_DIR/corpus-TARGET (kept
# between local runs); a crash, a leak, a hang (-timeout) or a large
# allocation (-malloc_limit_mb: no input of a few kB warrants one) stops the
# run, leaves the input in BUILD_DIR/crashes-TARGET and fails the script. Add
# it to tests/fuzz/corpus/TARGET once fixed: CTest replays that directory.
# Installs Debian's clang when clang++ is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
build="${2:-build/fuzz}"

if ! command -v clang++ >/dev/null; then
  apt-get update -qq && apt-get install -y -qq clang >/dev/null
fi
cmake -S tests/fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --parallel 2

summary=""
for target in safetensors csv; do
  corpus="$build/corpus-$target"
  crashes="$build/crashes-$target"
  mkdir -p "$corpus" "$crashes"
  dict=()
  [ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
  echo "--- fuzz_$target for $seconds s"
  status=0
  "$build/fuzz_$target" "$corpus" "tests/fuzz/corpus/$target" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=64 \
    -max_len=8192 -print_final_stats=1 -artifact_prefix="$crashes/" \
    > "$build/fuzz_$target.log" 2>&1 || status=$?
  grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb)' \
    "$build/fuzz_$target.log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$build/fuzz_$target.log"
    echo "FAIL: fuzz_$target found a problem (exit $status); the input is in $crashes/" >&2
    exit 1
  fi
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz_$target.log")"
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$build/fuzz_$target.log" | tail -n 1)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")"
  units="$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$done_line")"
  summary+="fuzz_$target: ${runs:-?} inputs in $seconds s, ${cov:-?} edges covered, ${units:-?} corpus inputs, 0 crashes"$'\n'
done
printf '%s' "$summary"
