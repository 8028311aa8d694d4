#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the Release build and the
# AddressSanitizer + UndefinedBehaviorSanitizer build (each with ctest in parallel), the
# ThreadSanitizer build of the concurrent tests, every libFuzzer target for a fixed number of
# inputs, and the container image (deploy/Dockerfile built with buildah and run).
#   tests/run.sh                    everything
#   TESTS_ONLY=release              only the Release build (quick local loop)
#   TESTS_ONLY=release,image        any comma-separated subset of release,asan,tsan,fuzz,image,
#                                   mutants
#   EDGEGUARD_CONFIGURE_ONLY=1      configure the ctest suites' build trees and stop (no install)
# Each suite must run at least one test: a suite that ran none fails the run, so a build tree
# configured without tests (EDGEGUARD_TESTS=OFF) can never pass for a green run.
# The Release suite is build/release, configured here with its options spelled out; deploy/run.sh
# builds in build/serve, so the two commands work in either order.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

only=${TESTS_ONLY:-all}
want() { [ "$only" = all ] || [[ ",$only," == *",$1,"* ]]; }
configure_only=${EDGEGUARD_CONFIGURE_ONLY:-0}

[ "$configure_only" = 1 ] || deploy/install-deps.sh test

jobs=$(nproc)
tally=()
total=0
count() {  # suite, number that passed (empty: none)
  local n=${2:-0}
  [ "$n" -gt 0 ] || { echo "=== $1 ran no test: failing the run" >&2; exit 1; }
  tally+=("$1 $n")
  total=$((total + n))
}
# The N of ctest's "100% tests passed, 0 tests failed out of N" in a saved output, or 0.
ctest_passed() { sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$1" | tail -1; }

run_suite() {  # name, cmake options...
  local name=$1
  shift
  local dir="$root/build/$name"
  echo "=== $name: configure and build"
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
  [ "$configure_only" = 1 ] && return
  ninja -C "$dir" -j"$jobs"
  echo "=== $name: test"
  # --no-tests=error: "No tests were found" is a failure, not a pass.
  ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 300 --no-tests=error |
    tee "$dir/ctest.out"
  count "$name" "$(ctest_passed "$dir/ctest.out")"
}

if want release; then
  run_suite release -DCMAKE_BUILD_TYPE=Release -DEDGEGUARD_TESTS=ON -DEDGEGUARD_BENCH=ON \
    -DEDGEGUARD_SANITIZE=OFF -DEDGEGUARD_TSAN=OFF -DEDGEGUARD_FUZZ=OFF
fi
if want asan; then
  # The micro benchmarks are built and smoke-run in the Release suite only.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite asan -DCMAKE_BUILD_TYPE=Debug -DEDGEGUARD_TESTS=ON -DEDGEGUARD_BENCH=OFF \
    -DEDGEGUARD_SANITIZE=ON -DEDGEGUARD_TSAN=OFF -DEDGEGUARD_FUZZ=OFF
fi
if [ "$configure_only" = 1 ]; then
  echo "=== configured: ${only}"
  exit 0
fi
if want tsan; then
  echo "=== tsan: the store and server tests under ThreadSanitizer"
  mkdir -p "$root/build/tsan"
  BUILD_DIR="$root/build/tsan" JOBS="$jobs" tests/tsan.sh | tee "$root/build/tsan/ctest.out"
  count tsan "$(ctest_passed "$root/build/tsan/ctest.out")"
fi
if want fuzz; then
  echo "=== fuzz: every libFuzzer target, fixed seed and input count"
  mkdir -p "$root/build/fuzz"
  BUILD_DIR="$root/build/fuzz" FUZZ_BUILD_JOBS="$jobs" FUZZ_RUNS="${FUZZ_RUNS:-20000}" \
    tests/fuzz/run.sh | tee "$root/build/fuzz/fuzz.out"
  count fuzz "$(grep -c '^fuzz_[a-z_]*: ok' "$root/build/fuzz/fuzz.out" || true)"
fi
if want image; then
  echo "=== image: deploy/Dockerfile built with buildah and run"
  mkdir -p "$root/build/image"
  start=$SECONDS
  tests/image/run.sh | tee "$root/build/image/image.out"
  echo "image stage: $((SECONDS - start)) s"
  count image "$(sed -n 's/^image: \([0-9]*\) checks passed$/\1/p' "$root/build/image/image.out")"
fi
# Planted bugs the suite must catch (tests/mutants.sh): each mutant is built in a scratch copy
# and its tests must fail. Measured on the shared 2-core machine: 1 min with everything in
# ccache, 5 when only the mutants are new to it, about 15 from a cold ccache.
if want mutants; then
  echo "=== mutants: planted bugs the tests must catch"
  mkdir -p "$root/build/mutants"
  MUTANTS_DIR="$root/build/mutants" JOBS="$jobs" tests/mutants.sh | tee "$root/build/mutants/mutants.out"
  count mutants "$(sed -n 's/^mutants: [0-9]* planted, \([0-9]*\) killed, 0 not.*/\1/p' \
    "$root/build/mutants/mutants.out")"
fi
[ ${#tally[@]} -gt 0 ] || { echo "TESTS_ONLY=$only selects no suite" >&2; exit 2; }
echo "=== all suites passed: $(IFS=,; echo "${tally[*]}" | sed 's/,/, /g')"
echo "$total passed, 0 failed"
