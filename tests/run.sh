#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the Release build and the
# AddressSanitizer + UndefinedBehaviorSanitizer build (each with ctest in parallel), the
# ThreadSanitizer build of the concurrent tests, and every libFuzzer target for a fixed number
# of inputs.
#   tests/run.sh            everything
#   TESTS_ONLY=release      only the Release build (quick local loop)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

deploy/install-deps.sh test

jobs=$(nproc)
passed=0
run_suite() {  # name, cmake options...
  local name=$1
  shift
  local dir="$root/build/$name"
  echo "=== $name: configure and build"
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
  ninja -C "$dir" -j"$jobs"
  echo "=== $name: test"
  ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 300 | tee "$dir/ctest.out"
  local n
  n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$dir/ctest.out")
  passed=$((passed + ${n:-0}))
}

run_suite release -DCMAKE_BUILD_TYPE=Release
if [ "${TESTS_ONLY:-all}" = all ]; then
  # The micro benchmarks are built and smoke-run in the Release suite only.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite asan -DCMAKE_BUILD_TYPE=Debug -DEDGEGUARD_SANITIZE=ON -DEDGEGUARD_BENCH=OFF
fi
if [ "${TESTS_ONLY:-all}" = all ]; then
  echo "=== tsan: the store and server tests under ThreadSanitizer"
  BUILD_DIR="$root/build/tsan" JOBS="$jobs" tests/tsan.sh
  echo "=== fuzz: every libFuzzer target, fixed seed and input count"
  BUILD_DIR="$root/build/fuzz" FUZZ_BUILD_JOBS="$jobs" FUZZ_RUNS="${FUZZ_RUNS:-20000}" \
    tests/fuzz/run.sh
fi
# Planted bugs the suite must catch (tests/mutants.sh): each mutant is built in a scratch copy
# and its tests must fail. Measured on the shared 2-core machine: 1 min with everything in
# ccache, 5 when only the mutants are new to it, about 15 from a cold ccache.
if [ "${TESTS_ONLY:-all}" = all ]; then
  echo "=== mutants: planted bugs the tests must catch"
  MUTANTS_DIR="$root/build/mutants" JOBS="$jobs" tests/mutants.sh
fi
echo "=== all suites passed"
echo "$passed passed, 0 failed"
