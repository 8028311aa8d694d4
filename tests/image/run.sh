#!/usr/bin/env bash
# The container image, built and run for real: deploy/Dockerfile built by buildah (an OCI builder;
# no Docker engine runs here), then the image's entrypoint run as the image's user in a network
# namespace of its own, as a container runtime would, and checked from the host over a veth pair:
# a ForwardAuth call gets its verdict (200, then 429 with Retry-After and problem+json), /healthz
# and /metrics answer, the image's own HEALTHCHECK command succeeds inside (and fails once the
# process is gone), and SIGTERM drains (the process exits 0). Prints the runtime image's size.
#
# The Dockerfile's bases (debian:12, debian:12-slim) cannot be pulled here: they are made once from
# Debian's packages with mmdebstrap, with this host's Debian sources (the only mirror reachable),
# and kept in buildah's storage; IMAGE_REFRESH_BASE=1 makes them again. Layers are cached
# (--layers): the deps stage is tagged so it survives the pruning of the previous run's layers.
# Needs root (buildah, ip netns) and deploy/install-deps.sh test.
#   tests/image/run.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
[ "$(id -u)" -eq 0 ] || { echo "tests/image/run.sh needs root (buildah storage, ip netns)" >&2; exit 2; }

image=localhost/edgeguard:latest
deps=localhost/edgeguard-deps:cache
bases=(docker.io/library/debian:12-slim docker.io/library/debian:12)
ns=egimg$$
veth_host=egimg$$h
veth_ctr=egimg$$c
net=10.231.0  # a /30 for the veth pair: host .1 (the proxy), container .2
host_ip=$net.1
ctr_ip=$net.2
work=$(mktemp -d)
containers=()
runner=

passed=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passed=$((passed + 1)); echo "ok: $*"; }

cleanup() {
  if [ -n "$runner" ] && kill -0 "$runner" 2>/dev/null; then
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    wait "$runner" 2>/dev/null || true
  fi
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  ip netns del "$ns" 2>/dev/null || true  # takes the veth pair with it
  rm -rf "$work"
}
trap cleanup EXIT

# One image test at a time on a machine: they share buildah's storage (pruned below) and the
# veth subnet.
exec 9>/var/lock/edgeguard-image-test.lock
flock -w 3600 9 || fail "another image test holds /var/lock/edgeguard-image-test.lock"

# --- the base images -------------------------------------------------------------------------
t0=$SECONDS
have_bases=1
for b in "${bases[@]}"; do buildah inspect --type image "$b" >/dev/null 2>&1 || have_bases=0; done
if [ "$have_bases" -eq 0 ] || [ "${IMAGE_REFRESH_BASE:-0}" = 1 ]; then
  # This host's Debian sources (deb822 or one-line), not third-party repositories.
  sources=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && grep -Eq '^[^#]*(URIs:|deb) +[a-z]+://[^ ]*/debian(-security)?/?( |$)' "$f" && sources+=("$f")
  done
  [ ${#sources[@]} -gt 0 ] || fail "no Debian apt sources on this host"
  echo "=== base: mmdebstrap --variant=minbase bookworm (sources: ${sources[*]})"
  # The file excludes of Docker's debian:*-slim (no man pages, docs or translations), and a merged
  # /usr without the usrmerge package (which would pull in perl).
  mmdebstrap --variant=minbase --quiet --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --aptopt='Acquire::Languages "none"' \
    bookworm "$work/base.tar" "${sources[@]}" >"$work/mmdebstrap.log" 2>&1 ||
    { tail -40 "$work/mmdebstrap.log"; fail "mmdebstrap"; }
  c=$(buildah from --pull-never scratch)
  containers+=("$c")
  buildah add --quiet "$c" "$work/base.tar" /
  rm -f "$work/base.tar"
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --label org.edgeguard.base=mmdebstrap-minbase-bookworm "$c"
  # One rootfs for both names: the build stage needs no more than minbase (+ its apt-get).
  buildah commit --quiet --rm "$c" "${bases[0]}" >/dev/null
  containers=()
  buildah tag "${bases[0]}" "${bases[1]}"
fi
echo "base images: $((SECONDS - t0)) s"

# --- the build -------------------------------------------------------------------------------
t1=$SECONDS
bud=(buildah bud --isolation chroot --network host --layers --pull-never --format docker
     --ignorefile deploy/Dockerfile.dockerignore
     -f deploy/Dockerfile)
echo "=== build: ${bud[*]} ."
"${bud[@]}" --target deps -t "$deps" . >"$work/deps.log" 2>&1 || { tail -40 "$work/deps.log"; fail "deps stage"; }
deps_s=$((SECONDS - t1))
"${bud[@]}" -t "$image" . >"$work/build.log" 2>&1 || { tail -60 "$work/build.log"; fail "image build"; }
build_s=$((SECONDS - t1))
echo "image build: $build_s s (deps stage $deps_s s, cached: $(grep -c 'Using cache' "$work/deps.log" "$work/build.log" | paste -sd' '))"
ok "deploy/Dockerfile builds"
# The previous run's layers (untagged now) go; the bases, the deps stage and this image stay.
buildah rmi --prune >/dev/null 2>&1 || true

# --- what the image is -----------------------------------------------------------------------
config=$(buildah inspect --type image "$image")
field() { python3 -c 'import json,sys; c=json.load(sys.stdin)["Docker"]["config"]; print(json.dumps(c.get(sys.argv[1])))' "$1" <<<"$config"; }
words() { python3 -c 'import json,sys; [print(w) for w in (json.loads(sys.argv[1]) or [])]' "$1"; }
user=$(field User | tr -d '"')
[ "$user" = "10001:10001" ] || fail "image user is '$user', want 10001:10001"
ok "image runs as 10001:10001"
mapfile -t entry < <(words "$(field Entrypoint)")
mapfile -t cmd < <(words "$(field Cmd)")
mapfile -t health < <(python3 -c 'import json,sys; h=(json.loads(sys.argv[1]) or {}).get("Test") or []; [print(w) for w in h]' "$(field Healthcheck)")
[ "${health[0]:-}" = CMD ] || fail "HEALTHCHECK missing or not in exec form: ${health[*]:-none}"
health=("${health[@]:1}")
size=$(buildah images --format '{{.Size}}' "$image" | head -1)
echo "runtime image: $size (debian:12-slim $(buildah images --format '{{.Size}}' "${bases[0]}" | head -1))"

# --- run it ----------------------------------------------------------------------------------
ip netns add "$ns"
ip link add "$veth_host" type veth peer name "$veth_ctr"
ip link set "$veth_ctr" netns "$ns"
ip addr add "$host_ip/30" dev "$veth_host"
ip link set "$veth_host" up
ip -n "$ns" addr add "$ctr_ip/30" dev "$veth_ctr"
ip -n "$ns" link set "$veth_ctr" up
ip -n "$ns" link set lo up

ctr=$(buildah from --pull-never "$image")
containers+=("$ctr")
log=$work/edgeguard.log
: >"$log"
# buildah run does not apply ENTRYPOINT/CMD: run exactly what the image says, as its user.
ip netns exec "$ns" buildah run --isolation chroot --user "$user" "$ctr" -- "${entry[@]}" "${cmd[@]}" \
  >"$log" 2>&1 &
runner=$!
deadline=$((SECONDS + 30))
until grep -q '"event":"started"' "$log"; do
  kill -0 "$runner" 2>/dev/null || { cat "$log"; fail "edgeguard exited before starting"; }
  [ $SECONDS -lt $deadline ] || { cat "$log"; fail "no started line within 30 s"; }
  sleep 0.1  # polling a log file for a line; the process gives no other signal
done
ok "entrypoint started: $(grep -o '"listen":"[^"]*"' "$log")"

pid=
for p in $(ip netns pids "$ns"); do
  [ "$(basename "$(readlink "/proc/$p/exe" 2>/dev/null)")" = edgeguard ] && pid=$p
done
[ -n "$pid" ] || fail "no edgeguard process in the namespace"
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
[ "$uids" = "10001 10001 10001 10001" ] && [ "$gids" = "10001 10001 10001 10001" ] ||
  fail "edgeguard runs as uid ($uids) gid ($gids)"
ok "edgeguard (pid $pid) runs as uid/gid 10001"

# A ForwardAuth call as Traefik sends it, from the host (the proxy's side of the veth).
forward() {  # method host uri client-ip -> headers and body in $work/resp, status on stdout
  curl -sS -o "$work/resp" -D "$work/resp.h" -w '%{http_code}' \
    -H "X-Forwarded-Method: $1" -H "X-Forwarded-Proto: https" -H "X-Forwarded-Host: $2" \
    -H "X-Forwarded-Uri: $3" -H "X-Forwarded-For: $4" "http://$ctr_ip:8080/"
}
status=$(forward GET app.example.org / 198.51.100.7)
[ "$status" = 200 ] && grep -qi '^X-Edgeguard-Route: default' "$work/resp.h" ||
  fail "GET app.example.org: $status $(cat "$work/resp.h")"
ok "ForwardAuth GET on no route: 200, X-Edgeguard-Route: default"

login=/api/v3/flows/executor/default-authentication-flow/
allowed=0
status=
for _ in $(seq 1 20); do
  status=$(forward POST auth.securenexus.net "$login" 203.0.113.9)
  [ "$status" = 200 ] || break
  allowed=$((allowed + 1))
done
[ "$status" = 429 ] || fail "login flood: got $status after $allowed allowed, want 429"
[ "$allowed" -ge 1 ] && [ "$allowed" -le 6 ] || fail "login flood: $allowed allowed before the 429 (burst 5)"
grep -qi '^Retry-After: [1-9]' "$work/resp.h" || fail "429 without Retry-After: $(cat "$work/resp.h")"
grep -qi '^Content-Type: application/problem+json' "$work/resp.h" || fail "429 not problem+json"
grep -q '"route":"authentik-login"' "$work/resp" || fail "429 body: $(cat "$work/resp")"
ok "login flood from one client: $allowed allowed, then 429 + Retry-After + problem+json"
status=$(forward POST auth.securenexus.net "$login" 203.0.113.10)
[ "$status" = 200 ] || fail "another client was limited too: $status"
ok "another client still passes"

[ "$(curl -sS -o /dev/null -w '%{http_code}' "http://$ctr_ip:9090/healthz")" = 200 ] || fail "/healthz"
ok "/healthz answers 200 from the host"
curl -sS "http://$ctr_ip:9090/metrics" >"$work/metrics"
grep -q '^edgeguard_decisions_total{route="authentik-login",verdict="deny",reason="rate_limit"} 1$' \
  "$work/metrics" || fail "/metrics does not count the 429: $(grep decisions_total "$work/metrics")"
ok "/metrics counts the denial"

# The image's own HEALTHCHECK command, inside: the image's rootfs and user, the container's
# network namespace. A second working container, because buildah 1.28 crashes when two runs
# share one (its cleanup of the first then panics).
probe=$(buildah from --pull-never "$image")
containers+=("$probe")
healthcheck() { ip netns exec "$ns" buildah run --isolation chroot --user "$user" "$probe" -- "${health[@]}"; }
healthcheck >"$work/health.out" 2>&1 || fail "HEALTHCHECK (${health[*]}) failed: $(cat "$work/health.out")"
ok "HEALTHCHECK ${health[*]} succeeds inside"

# SIGTERM drains: an idle keep-alive connection must not hold the exit up.
exec 8<>"/dev/tcp/$ctr_ip/8080"
t2=$SECONDS
kill -TERM "$pid"
rc=0
timeout 20 tail --pid="$runner" -f /dev/null || fail "still running 20 s after SIGTERM"
wait "$runner" || rc=$?
runner=
exec 8<&-
[ "$rc" -eq 0 ] || { cat "$log"; fail "exit status $rc after SIGTERM"; }
grep -q '"event":"draining","signal":"SIGTERM"' "$log" && grep -q '"event":"stopped"' "$log" ||
  { cat "$log"; fail "no draining/stopped lines"; }
ok "SIGTERM: draining, stopped, exit 0 in $((SECONDS - t2)) s"
if healthcheck >/dev/null 2>&1; then fail "HEALTHCHECK succeeds with edgeguard stopped"; fi
ok "HEALTHCHECK fails once edgeguard is gone"

mnt=$(buildah mount "$ctr")
bin=$(du -k "$mnt/usr/local/bin/edgeguard" | cut -f1)
buildah umount "$ctr" >/dev/null
echo "image: $image $size (edgeguard binary ${bin} KiB, stripped), built in $build_s s"
echo "image: $passed checks passed"
