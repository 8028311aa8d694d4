#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz and runs each for a bounded time
# from its seed corpus. Exits non-zero on any finding; the crashing input is left in
# build-fuzz/fuzz-artifacts/ (make it a regression input: tests/fuzz/regressions/<target>/).
#
#   tests/fuzz/run.sh                 # every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=5 tests/fuzz/run.sh path host
#   FUZZ_RUNS=20000 tests/fuzz/run.sh  # repeatable: fixed seed and input count (CI)
#   BUILD_DIR=/tmp/b tests/fuzz/run.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$src/build-fuzz}
seconds=${FUZZ_SECONDS:-20}
# FUZZ_RUNS=N (CI): a fixed number of inputs from a fixed seed, so a run is repeatable and a
# green CI stays green; FUZZ_SECONDS explores for a time instead (developers, longer runs).
if [ -n "${FUZZ_RUNS:-}" ]; then
  budget=(-runs="$FUZZ_RUNS" -seed=1)
else
  budget=(-max_total_time="$seconds")
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(forward_auth forward_auth_scanner xff path host policy nodes_tailscale_status nodes_tailscale_api
           nodes_headscale nodes_list redis_reply gcra_reply ban_message admin_request
           crowdsec_stream access_log
           failure_reports login_name ban_list)
fi

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -G Ninja -DEDGEGUARD_FUZZ=ON \
    -DEDGEGUARD_TESTS=OFF -DEDGEGUARD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build" -j"${FUZZ_BUILD_JOBS:-2}" "${targets[@]/#/fuzz_}" >/dev/null

artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"
failed=()
start=$SECONDS
for t in "${targets[@]}"; do
  work=$build/fuzz-corpus/$t  # grows while fuzzing; the committed seeds stay small
  mkdir -p "$work"
  seeds=$src/tests/fuzz/corpus/$t
  extra=()
  [ -d "$src/tests/fuzz/regressions/$t" ] && extra+=("$src/tests/fuzz/regressions/$t")
  dict=()
  [ -f "$src/tests/fuzz/dict/$t.dict" ] && dict=(-dict="$src/tests/fuzz/dict/$t.dict")
  log=$build/fuzz-$t.log
  if "$build/tests/fuzz/fuzz_$t" "$work" "$seeds" "${extra[@]}" "${dict[@]}" \
      "${budget[@]}" -timeout=5 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$t-" >"$log" 2>&1; then
    echo "fuzz_$t: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs)"
  else
    echo "fuzz_$t: FINDING (see $log and $artifacts/$t-*)"
    grep -m5 -E 'ERROR|invariant failed|runtime error|SUMMARY' "$log" || tail -20 "$log"
    failed+=("$t")
  fi
done
echo "fuzzing took $((SECONDS - start)) s"
if [ ${#failed[@]} -ne 0 ]; then
  echo "findings in: ${failed[*]}"
  exit 1
fi
