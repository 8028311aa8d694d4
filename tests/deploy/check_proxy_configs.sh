#!/bin/sh
# The nginx and Caddy reference configs parse with the real servers (ports and paths templated
# exactly as tests/proxies does). Syntax only; tests/proxies runs them against edgeguard.
set -eu
src="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sed -e "s|{{PREFIX}}|$tmp|g" -e "s|{{LISTEN_ADDR}}|127.0.0.1:1|" \
    -e "s|{{EDGEGUARD_ADDR}}|127.0.0.1:2|" -e "s|{{UPSTREAM_ADDR}}|127.0.0.1:3|" \
    -e "s|{{TRUSTED_PROXIES}}||" \
    "$src/deploy/nginx/edgeguard.conf" > "$tmp/nginx.conf"
if grep -v '^ *#' "$tmp/nginx.conf" | grep -q '{{'; then echo "untemplated placeholder left in nginx config"; exit 1; fi
nginx -t -q -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon off;'
HOME="$tmp" XDG_DATA_HOME="$tmp" XDG_CONFIG_HOME="$tmp" \
  EDGEGUARD_ADDR=127.0.0.1:2 SITE_ADDRESS=http://127.0.0.1:1 UPSTREAM_ADDR=127.0.0.1:3 CADDY_ADMIN=off \
  caddy adapt --config "$src/deploy/caddy/Caddyfile" --adapter caddyfile > "$tmp/caddy.json"
grep -q '"copy_headers"\|X-Edgeguard-Route' "$tmp/caddy.json" || { echo "Caddy config lost copy_headers"; exit 1; }
echo "ok: nginx and Caddy accept the reference configs"
