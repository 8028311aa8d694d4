#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the Release build and the
# AddressSanitizer + UndefinedBehaviorSanitizer build, each with ctest in parallel.
#   tests/run.sh            everything
#   TESTS_ONLY=release      only the Release build (quick local loop)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

deploy/install-deps.sh test

jobs=$(nproc)
run_suite() {  # name, cmake options...
  local name=$1
  shift
  local dir="$root/build/$name"
  echo "=== $name: configure and build"
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
  ninja -C "$dir" -j"$jobs"
  echo "=== $name: test"
  ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 300
}

run_suite release -DCMAKE_BUILD_TYPE=Release
if [ "${TESTS_ONLY:-all}" = all ]; then
  # The micro benchmarks are built and smoke-run in the Release suite only.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite asan -DCMAKE_BUILD_TYPE=Debug -DEDGEGUARD_SANITIZE=ON -DEDGEGUARD_BENCH=OFF
fi
echo "=== all suites passed"
