#!/usr/bin/env bash
# Installs, from Debian 12's packages, what edgeguard needs and is missing.
#   deploy/install-deps.sh build   compiler, CMake and the libraries edgeguard links
#   deploy/install-deps.sh serve   build + npm (deploy/fetch-geoip.sh fetches the country database)
#   deploy/install-deps.sh test    build + the real servers and tools the tests drive (buildah and
#                                  mmdebstrap build the container image; no daemon is involved)
set -euo pipefail

build=(g++ cmake ninja-build pkg-config git
       libboost1.81-dev libboost-json1.81-dev libhiredis-dev libyaml-cpp-dev libmaxminddb-dev libre2-dev
       zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev)
serve=(npm)
test=(redis-server redis-tools caddy nginx-light libnginx-mod-http-geoip2 wrk mmdb-bin
      prometheus python3 python3-yaml clang clang-format libclang-rt-14-dev systemd curl procps util-linux
      buildah mmdebstrap iproute2 ccache)
# CrowdSec's LAPI for tests/crowdsec (see the crowdsec block below).
test+=(crowdsec)

want=("${build[@]}")
case "${1:-build}" in
  build) ;;
  serve) want+=("${serve[@]}") ;;
  test) want+=("${test[@]}") ;;
  *) echo "usage: $0 build|serve|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  # npm may come with a Node.js that is not Debian's (NodeSource); the Debian package would
  # conflict with it, and any working npm will do.
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
# Installing nginx or redis must not leave system services running on their default ports.
policy_rc=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy_rc" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy_rc" >/dev/null
  $sudo chmod +x "$policy_rc"
  made_policy=1
fi
# crowdsec: its postinst registers with CrowdSec's Central API, and fails offline, unless
# /etc/crowdsec/online_api_credentials.yaml exists and is non-empty before it runs. The tests
# start their own LAPI with their own config (tests/support/crowdsec_fixture.cpp), so the system
# instance is left unregistered and its service disabled (policy-rc.d above keeps it stopped now).
installing_crowdsec=0
if printf '%s\n' "${missing[@]}" | grep -qx crowdsec; then
  installing_crowdsec=1
  capi=/etc/crowdsec/online_api_credentials.yaml
  if [ ! -s "$capi" ]; then
    $sudo mkdir -p /etc/crowdsec
    printf '%s\n' "# Written by edgeguard's deploy/install-deps.sh: no Central API registration." \
      "# To register this system's crowdsec, delete this file and run: cscli capi register" |
      $sudo tee "$capi" >/dev/null
  fi
fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [ "$installing_crowdsec" -eq 1 ] && command -v systemctl >/dev/null; then
  $sudo systemctl disable crowdsec.service >/dev/null 2>&1 || true  # works without a running systemd
fi
[ "$made_policy" -eq 0 ] || $sudo rm -f "$policy_rc"
