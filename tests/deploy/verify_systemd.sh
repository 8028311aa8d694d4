#!/bin/sh
# systemd-analyze verify on deploy/systemd/edgeguard.service. The binary path is pointed at
# /bin/true (the unit names the installed path, absent here). verify exits 0 even on bad
# directives, so any diagnostic about the unit fails the test. Negative self-test: a misspelt
# value must produce a diagnostic.
set -eu
unit="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sed 's|/usr/local/bin/edgeguard|/bin/true|g' "$unit" > "$tmp/edgeguard.service"
out="$(systemd-analyze verify "$tmp/edgeguard.service" 2>&1 || true)"
if [ -n "$out" ]; then
  echo "systemd-analyze verify reported:"; echo "$out"; exit 1
fi
sed 's|^ProtectSystem=strict|ProtectSystem=stritc|' "$tmp/edgeguard.service" > "$tmp/bad.service"
bad="$(systemd-analyze verify "$tmp/bad.service" 2>&1 || true)"
case "$bad" in
  *stritc*) ;;
  *) echo "self-test failed: a bad ProtectSystem value was not reported"; exit 1 ;;
esac
for key in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes DynamicUser=yes \
           ReadOnlyPaths= 'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -q "^$key" "$unit" || { echo "missing hardening line: $key"; exit 1; }
done
echo "ok: unit verifies cleanly and a bad value is caught"
