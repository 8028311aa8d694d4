#!/usr/bin/env bash
# ThreadSanitizer run of the tests that exercise stores and the server concurrently: the local
# store's multi-thread tests, the Redis store and cluster (real redis-server, replicas on two
# threads, faults under load, a stopped Redis under every on_error policy), the server black-box
# tests (the TSan-built edgeguard binary with EDGEGUARD_TEST_THREADS event-loop threads, 4 by
# default, where the normal run uses one; ScaleTest: thousands of connections, each thread with
# its own session slab and request buffer pool), the admin listener and the Redis store through
# start, readiness and drain, tests/hardening's TsanConcurrency, the ban table's TsanBanTable, and
# the CrowdSec puller and reporter (their io_context on one thread; the set read and bans reported
# from another). Any TSan report fails the run, including one written by the edgeguard child
# processes the server tests start.
#   tests/tsan.sh                 # configure + build build-tsan, run the subset
#   BUILD_DIR=/tmp/t JOBS=4 tests/tsan.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build-tsan}
jobs=${JOBS:-2}
start=$SECONDS

cmake -S "$src" -B "$build" -G Ninja -DEDGEGUARD_TSAN=ON -DEDGEGUARD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Only the suites that exist in this checkout (tests/server may still be missing).
known=$(ninja -C "$build" -t targets all 2>/dev/null)
targets=()
for t in unit_tests redis_tests server_tests memory_bound_tests e2e_tests crowdsec_lapi_tests edgeguard; do
  if grep -q "^$t:" <<<"$known"; then targets+=("$t"); fi
done
ninja -C "$build" -j"$jobs" "${targets[@]}"
echo "tsan build: $((SECONDS - start)) s"

reports=$build/tsan-reports
rm -rf "$reports" && mkdir -p "$reports"
# log_path: every process (tests and the edgeguard children they start) writes its reports to
# its own file, so a race in a child is not lost in a test's captured output.
export TSAN_OPTIONS="log_path=$reports/tsan second_deadlock_stack=1 history_size=4 ${TSAN_OPTIONS:-}"
# Several event loops in every server test that does not pin its count (tests/support/harness.h
# test_threads()): the point of this run is the loops racing each other.
export EDGEGUARD_TEST_THREADS=${EDGEGUARD_TEST_THREADS:-4}
pattern='^(LocalStore\.|RedisStoreTest\.|Policies/RedisStoppedTest\.|RedisClusterTest\.|ServerTest\.|ScaleTest\.|'
pattern+='Admin\.|RedisLifecycleE2e\.|TsanConcurrency\.|TsanBanTable\.|CrowdsecPuller|CrowdsecReporter)'
run_start=$SECONDS
status=0
# --no-tests=error: a pattern that matches nothing (a renamed suite) fails instead of passing.
ctest --test-dir "$build" -R "$pattern" -j"$jobs" --output-on-failure --timeout 600 \
  --no-tests=error || status=$?
echo "tsan tests: $((SECONDS - run_start)) s"
if compgen -G "$reports/tsan*" >/dev/null; then
  echo "ThreadSanitizer reports:"
  for f in "$reports"/tsan*; do
    echo "== $f"
    head -60 "$f"
  done
  status=1
fi
echo "tsan total: $((SECONDS - start)) s"
exit $status
