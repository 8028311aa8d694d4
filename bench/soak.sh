#!/usr/bin/env bash
# Soak (issue 17): edgeguard on Redis under a steady mixed load for SOAK_SECONDS (default 10 min)
# while everything an operator changes changes: a reload every 10 s (the config rewritten by
# rename and SIGHUP), the node list and the GeoIP database replaced by rename every 30 s, Redis
# stopped and started again every 2 min. Every 10 s one row: the load's answers in that
# interval (wrk, keep-alive and a new connection per call, both paced), and RSS, open fds,
# threads, connections (counted mid-interval, while the load runs), errors, buckets from
# /metrics and /proc. Not in CI.
#
#   bench/soak.sh [BUILD_DIR]        (default BUILD_DIR: <repo>/build-release)
#
# Pass (exit 0): no failed answer (a socket error, a timeout, or a status other than the
# policy's 200/403/429) in an interval without a Redis outage; RSS and open fds flat after the
# warm-up (the mean of the last three samples within 5 % of the first three after it; fds may
# also differ by one); nothing logged at error level but the expected Redis lines
# (store_fallback_on); no reload refused.
#
# Environment (all optional):
#   SOAK_SECONDS=600       length of the run (rows start until it has passed)
#   SOAK_SAMPLE=10         seconds of load per row (a row takes a little more: wrk's start and
#                          the scrape); a reload at the start of each
#   SOAK_DATA_EVERY=30     seconds between node list and GeoIP database replacements
#   SOAK_REDIS_EVERY=120   seconds between Redis restarts
#   SOAK_REDIS_DOWN=5      seconds Redis stays down each time
#   SOAK_WARMUP=60         seconds not counted in the drift
#   SOAK_KA_CONNS=8        wrk connections, keep-alive
#   SOAK_CLOSE_CONNS=4     wrk connections, a new connection per call
#   SOAK_DELAY_MS=2        pause per connection between an answer and its next call
#   BENCH_SKIP_BUILD=1     use BUILD_DIR/guard/edgeguard as it is
#   BENCH_KEEP=1           keep the scratch directory (configs, logs, raw wrk output)
# Only 127.0.0.1 is used. Everything started here is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$root/build-release}
total=${SOAK_SECONDS:-600}
sample=${SOAK_SAMPLE:-10}
data_every=${SOAK_DATA_EVERY:-30}
redis_every=${SOAK_REDIS_EVERY:-120}
redis_down=${SOAK_REDIS_DOWN:-5}
warmup=${SOAK_WARMUP:-60}
ka_conns=${SOAK_KA_CONNS:-8}
close_conns=${SOAK_CLOSE_CONNS:-4}
delay_ms=${SOAK_DELAY_MS:-2}

for tool in wrk curl python3 redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "soak.sh: $tool is required" >&2; exit 2; }
done
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DEDGEGUARD_TESTS=OFF -DEDGEGUARD_BENCH=OFF >/dev/null
  ninja -C "$build_dir" edgeguard
fi
edgeguard_bin=$build_dir/guard/edgeguard
[[ -x "$edgeguard_bin" ]] || { echo "soak.sh: no binary at $edgeguard_bin" >&2; exit 2; }

run_dir=$(mktemp -d /tmp/edgeguard-soak.XXXXXX)
started=()
redis_pid=""
cleanup() {
  local pid
  for pid in "${started[@]}" $redis_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}" $redis_pid; do wait "$pid" 2>/dev/null || true; done
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    echo "scratch directory kept: $run_dir" >&2
  else
    rm -rf "$run_dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- Redis: restarted on the same port, so its port is chosen here ------------------------------
redis_port=$(free_port)
start_redis() {
  redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$run_dir" \
    >>"$run_dir/redis.log" 2>&1 &
  redis_pid=$!
  local deadline=$((SECONDS + 10))
  until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "soak.sh: redis-server not answering" >&2; exit 1; }
    sleep 0.05
  done
}
stop_redis() {
  kill -TERM "$redis_pid"
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
}
start_redis

# --- data: two versions of the node list and of the GeoIP database, swapped in by rename -------
python3 - "$root/config/tailnet-status.json" "$run_dir" <<'EOF'
import json, sys
src, out = sys.argv[1], sys.argv[2]
status = json.load(open(src))
json.dump(status, open(out + "/nodes-a.json", "w"), indent=1)
peers = status.get("Peer", {})
if peers:  # the second version lacks one peer
    peers.pop(sorted(peers)[0])
json.dump(status, open(out + "/nodes-b.json", "w"), indent=1)
EOF
cp "$root/tests/data/maxmind/GeoIP2-Country-Test.mmdb" "$run_dir/country-a.mmdb"
cp "$root/tests/data/maxmind/GeoLite2-Country-Test.mmdb" "$run_dir/country-b.mmdb"
mkdir -p "$run_dir/data"
cp "$run_dir/nodes-a.json" "$run_dir/tailnet-status.json"
cp "$run_dir/country-a.mmdb" "$run_dir/data/country.mmdb"
replace_data() {  # VERSION: a or b
  cp "$run_dir/nodes-$1.json" "$run_dir/tailnet-status.json.new"
  mv "$run_dir/tailnet-status.json.new" "$run_dir/tailnet-status.json"
  cp "$run_dir/country-$1.mmdb" "$run_dir/data/country.mmdb.new"
  mv "$run_dir/data/country.mmdb.new" "$run_dir/data/country.mmdb"
}

# --- edgeguard: the example policy on Redis ------------------------------------------------------
port=$(free_port)
admin=$(free_port)
# write_config BURST: the example policy; the ERP per-ip burst alternates so each reload is real.
write_config() {
  sed -e "s/^listen:.*/listen: 127.0.0.1:$port/" \
      -e "s/^admin_listen:.*/admin_listen: 127.0.0.1:$admin/" \
      -e "s/^  type: local.*/  type: redis\\n  redis: {address: 127.0.0.1:$redis_port, timeout: 20ms, on_error: local}/" \
      -e "s/^  local: {max_buckets.*//" \
      -e "s/{name: per-ip, average: 300, period: 1m, burst: 60, key: client_ip}/{name: per-ip, average: 300, period: 1m, burst: $1, key: client_ip}/" \
      "$root/config/edgeguard.yaml" >"$run_dir/edgeguard.yaml.new"
  mv "$run_dir/edgeguard.yaml.new" "$run_dir/edgeguard.yaml"
}
write_config 60
grep -q "type: redis" "$run_dir/edgeguard.yaml" || { echo "soak.sh: config not on Redis" >&2; exit 1; }
"$edgeguard_bin" serve --config "$run_dir/edgeguard.yaml" >"$run_dir/edgeguard.log" 2>&1 &
pid=$!
started+=("$pid")
deadline=$((SECONDS + 10))
until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$admin/readyz"; do
  kill -0 "$pid" 2>/dev/null || { echo "soak.sh: edgeguard exited, see $run_dir" >&2; exit 1; }
  ((SECONDS < deadline)) || { echo "soak.sh: edgeguard not answering" >&2; exit 1; }
  sleep 0.05
done

metrics() { curl -s --max-time 5 "http://127.0.0.1:$admin/metrics"; }
# m NAME_AND_LABELS: one value from the last scrape (0 when absent)
m() { awk -v k="$1" '$1 == k {v = $2} END {printf "%.0f", v + 0}' "$run_dir/metrics.txt"; }
status_of() { awk -v k="$1" "/^$2:/ {print \$2}" "/proc/$pid/status"; }

wrk_run() {  # NAME CONNS [HEADER]: one paced wrk for one interval, in the background
  local name=$1 conns=$2
  shift 2
  EG_WRK_STATUS=1 EG_WRK_DELAY_MS=$delay_ms wrk -t1 -c"$conns" -d"${sample}s" --timeout 2s \
    --latency "$@" -s "$root/bench/load/forwardauth_mix.lua" "http://127.0.0.1:$port/" \
    -- seed=42 calls=5000 >"$run_dir/wrk-$name.txt" 2>&1 &
  wrk_pids+=("$!")
}
# wrk_figures NAME: "requests failed p99_us"
wrk_figures() {
  awk '
    /requests in/ { total = $1 }
    /Socket errors/ { gsub(/,/, ""); errors = $4 + $6 + $8 + $10 }
    /^status/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == 200 || kv[1] == 403 || kv[1] == 429) ok += kv[2] } }
    $1 == "99%" { v = $2 + 0; if ($2 ~ /us$/) p = v; else if ($2 ~ /ms$/) p = v * 1000; else p = v * 1000000 }
    END { printf "%d %d %.0f\n", total, total - ok + errors, p }' "$run_dir/wrk-$1.txt"
}

echo "edgeguard $("$edgeguard_bin" version 2>/dev/null | head -1 || true) on redis-server" \
  "$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), threads: 0 ($(nproc) cores);" \
  "wrk keep-alive -c$ka_conns and new-connection -c$close_conns, ${delay_ms} ms between calls;" \
  "${total} s, a row every ${sample} s; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| t s | events | calls | failed | p99 ka ms | p99 new ms | RSS MB | fds | threads | conns | local buckets | fallback | redis errors | fallback answers | reloads ok/failed | nodes | load avg |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"

rss_after=()
fds_after=()
failed_outside=0
failed_inside=0
calls_total=0
sighups=0
version=a
soak_start=$SECONDS
next_data=$data_every
next_redis=$redis_every
row=0
while ((SECONDS - soak_start < total)); do
  t=$((SECONDS - soak_start))
  row=$((row + 1))
  events="reload"
  write_config $((row % 2 == 0 ? 60 : 61))
  kill -HUP "$pid"
  sighups=$((sighups + 1))
  if ((t >= next_data)); then
    version=$([[ $version == a ]] && echo b || echo a)
    replace_data "$version"
    events+=", data $version"
    next_data=$((next_data + data_every))
  fi
  outage=0
  wrk_pids=()
  wrk_run ka "$ka_conns"
  wrk_run new "$close_conns" -H "Connection: close"
  # Connections are counted while the load runs (in an outage: while Redis is down).
  if ((t >= next_redis)); then
    outage=1
    next_redis=$((next_redis + redis_every))
    sleep 2
    stop_redis
    sleep "$redis_down"
    conns=$(metrics | awk '$1 == "edgeguard_open_connections" {printf "%.0f", $2}')
    start_redis
    events+=", redis down ${redis_down} s"
  else
    sleep $((sample / 2))
    conns=$(metrics | awk '$1 == "edgeguard_open_connections" {printf "%.0f", $2}')
  fi
  wait "${wrk_pids[@]}" || true
  kill -0 "$pid" 2>/dev/null || { BENCH_KEEP=1; echo "soak.sh: edgeguard died at $t s" >&2; exit 1; }
  read -r ka_calls ka_failed ka_p99 < <(wrk_figures ka)
  read -r new_calls new_failed new_p99 < <(wrk_figures new)
  calls=$((ka_calls + new_calls))
  failed=$((ka_failed + new_failed))
  calls_total=$((calls_total + calls))
  if ((outage)); then failed_inside=$((failed_inside + failed)); else failed_outside=$((failed_outside + failed)); fi
  metrics >"$run_dir/metrics.txt"
  cat "$run_dir/metrics.txt" >>"$run_dir/metrics-all.txt"
  rss=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
  threads=$(awk '/^Threads/ {print $2}' "/proc/$pid/status")
  if ((SECONDS - soak_start > warmup)); then
    rss_after+=("$rss")
    fds_after+=("$fds")
  fi
  echo "| $((SECONDS - soak_start)) | $events | $calls | $failed | $(awk -v v="$ka_p99" 'BEGIN {printf "%.1f", v / 1000}') |" \
    "$(awk -v v="$new_p99" 'BEGIN {printf "%.1f", v / 1000}') | $rss | $fds | $threads |" \
    "${conns:-?} | $(m edgeguard_local_buckets) |" \
    "$(m edgeguard_store_fallback_active) | $(m edgeguard_redis_errors_total) |" \
    "$(m edgeguard_redis_fallback_answers_total) |" \
    "$(m 'edgeguard_config_reloads_total{result="success"}')/$(m 'edgeguard_config_reloads_total{result="failure"}') |" \
    "$(m edgeguard_tailnet_nodes) | $(cut -d' ' -f1 /proc/loadavg) |"
done

# --- verdict -------------------------------------------------------------------------------------
drift() {  # VALUES...: percent change from the mean of the first three to the mean of the last three
  printf '%s\n' "$@" | awk '{ v[NR] = $1 } END {
    n = NR < 3 ? NR : 3; a = 0; b = 0
    for (i = 1; i <= n; i++) { a += v[i]; b += v[NR - n + i] }
    printf "%.1f", (a > 0 ? 100 * (b - a) / a : 0) }'
}
rss_drift=$(drift "${rss_after[@]}")
fds_drift=$(drift "${fds_after[@]}")
errors_logged=$(grep '"level":"error"' "$run_dir/edgeguard.log" | grep -vc '"event":"store_fallback_on"' || true)
fallback_lines=$(grep -c '"event":"store_fallback_on"' "$run_dir/edgeguard.log" || true)
reloads_failed=$(m 'edgeguard_config_reloads_total{result="failure"}')
geoip_reloads=$(grep -c '"event":"geoip_reloaded"' "$run_dir/edgeguard.log" || true)
tailnet_loads=$(grep -c '"event":"tailnet_loaded"' "$run_dir/edgeguard.log" || true)
echo
echo "calls: $calls_total; failed outside Redis outages: $failed_outside; failed in outage intervals: $failed_inside"
echo "RSS drift after ${warmup} s: ${rss_drift} % (${rss_after[0]:-?} -> ${rss_after[-1]:-?} MB); fds drift: ${fds_drift} %"
echo "SIGHUPs: $sighups; reloads: $(m 'edgeguard_config_reloads_total{result="success"}') ok, $reloads_failed failed;" \
  "geoip_reloaded: $geoip_reloads; tailnet_loaded: $tailnet_loads"
echo "log lines at error level: $fallback_lines store_fallback_on (expected), $errors_logged others"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
pass=1
((failed_outside == 0)) || pass=0
awk -v d="$rss_drift" 'BEGIN { exit !(d < 5 && d > -5) }' || pass=0
# A few descriptors: one more or less (a Redis connection being re-made) is more than 5 %.
awk -v d="$fds_drift" -v a="${fds_after[0]:-0}" -v b="${fds_after[-1]:-0}" \
  'BEGIN { exit !((d < 5 && d > -5) || (b - a <= 1 && a - b <= 1)) }' || pass=0
((errors_logged == 0)) || pass=0
((reloads_failed == 0)) || pass=0
if ((pass)); then
  echo "PASS"
else
  BENCH_KEEP=1
  echo "FAIL (logs kept)"
  exit 1
fi
