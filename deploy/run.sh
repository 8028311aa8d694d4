#!/usr/bin/env bash
# Installs what is missing, builds Release, fetches a real country database, and serves the
# example policy (config/edgeguard.yaml) with local state in the foreground.
#   deploy/run.sh                  serve config/edgeguard.yaml
#   deploy/run.sh path/to.yaml     serve another policy
#   EDGEGUARD_CONFIGURE_ONLY=1     configure build/serve and stop (no install, no build)
# It builds in build/serve, never in tests/run.sh's build/release: one shared cache let whichever
# script ran first decide whether the other had tests, and a test run would rebuild the binary
# this script is serving.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
config=${1:-config/edgeguard.yaml}
build=build/serve

[ "${EDGEGUARD_CONFIGURE_ONLY:-0}" = 1 ] || deploy/install-deps.sh serve
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGEGUARD_TESTS=OFF \
  -DEDGEGUARD_BENCH=OFF >/dev/null
[ "${EDGEGUARD_CONFIGURE_ONLY:-0}" = 1 ] && exit 0
ninja -C "$build" edgeguard
# The example's GeoIP rules read config/data/country.mmdb (CC BY 4.0 data from the NRO via
# ip-location-db; attribution kept beside it). Not committed: fetched once.
deploy/fetch-geoip.sh config/data
"$build/guard/edgeguard" check --config "$config"
exec "$build/guard/edgeguard" serve --config "$config"
