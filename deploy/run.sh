#!/usr/bin/env bash
# Installs what is missing, builds Release, fetches a real country database, and serves the
# example policy (config/edgeguard.yaml) with local state in the foreground.
#   deploy/run.sh                  serve config/edgeguard.yaml
#   deploy/run.sh path/to.yaml     serve another policy
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
config=${1:-config/edgeguard.yaml}

deploy/install-deps.sh serve
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGEGUARD_TESTS=OFF \
  -DEDGEGUARD_BENCH=OFF >/dev/null
ninja -C build/release edgeguard
# The example's GeoIP rules read config/data/country.mmdb (CC BY 4.0 data from the NRO via
# ip-location-db; attribution kept beside it). Not committed: fetched once.
deploy/fetch-geoip.sh config/data
build/release/guard/edgeguard check --config "$config"
exec build/release/guard/edgeguard serve --config "$config"
