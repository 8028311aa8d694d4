#!/usr/bin/env bash
# The README's two commands work in either order on one checkout: deploy/run.sh's configure step
# and tests/run.sh's, run in sequence on a scratch copy of this checkout (what is committed or
# would be), must leave the Release test tree with its tests; deploy/run.sh's own tree stays
# without them. Also the upgrade case: a build/release that an older deploy/run.sh configured with
# EDGEGUARD_TESTS=OFF gets its tests back from tests/run.sh. Configure only: no install, no build.
#   tests/deploy/check_configure_order.sh SOURCE_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

fresh_copy() {  # -> a new directory holding the checkout's files (tracked and new, not ignored)
  local dest
  dest=$(mktemp -d -p "$scratch")
  git -C "$src" ls-files -z --cached --others --exclude-standard |
    (cd "$src" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) |
    (cd "$src" && xargs -0 cp --parents -t "$dest")
  echo "$dest"
}
serve() { EDGEGUARD_CONFIGURE_ONLY=1 "$1/deploy/run.sh" >/dev/null; }
tests() { EDGEGUARD_CONFIGURE_ONLY=1 TESTS_ONLY=release "$1/tests/run.sh" >/dev/null; }
test_count() {  # build tree -> the number of tests ctest knows there (0 when none)
  local n
  n=$(ctest --test-dir "$1" -N 2>/dev/null | sed -n 's/^Total Tests: \([0-9]*\)$/\1/p')
  echo "${n:-0}"
}
fail=0
expect_tests() {  # checkout, what ran
  local n
  n=$(test_count "$1/build/release")
  if [ "$n" -gt 0 ] && grep -q '^EDGEGUARD_TESTS:BOOL=ON$' "$1/build/release/CMakeCache.txt"; then
    echo "ok: $2: build/release has $n tests configured"
  else
    echo "FAIL: $2: build/release has $n tests configured"
    fail=1
  fi
  if [ -f "$1/build/serve/CMakeCache.txt" ] &&
     ! grep -q '^EDGEGUARD_TESTS:BOOL=OFF$' "$1/build/serve/CMakeCache.txt"; then
    echo "FAIL: $2: build/serve (deploy/run.sh) was configured with the tests"
    fail=1
  fi
}

a=$(fresh_copy)
serve "$a"
tests "$a"
expect_tests "$a" "deploy/run.sh, then tests/run.sh"
serve "$a"
expect_tests "$a" "deploy/run.sh, tests/run.sh, deploy/run.sh again"

b=$(fresh_copy)
tests "$b"
serve "$b"
expect_tests "$b" "tests/run.sh, then deploy/run.sh"

c=$(fresh_copy)
cmake -S "$c" -B "$c/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGEGUARD_TESTS=OFF \
  -DEDGEGUARD_BENCH=OFF >/dev/null
[ "$(test_count "$c/build/release")" -eq 0 ] || { echo "FAIL: a tree without tests counts some"; fail=1; }
tests "$c"
expect_tests "$c" "a build/release left with EDGEGUARD_TESTS=OFF, then tests/run.sh"
exit $fail
