#!/usr/bin/env bash
# Load benchmark: edgeguard against the nginx peer (bench/peers/nginx/) on the same core, driven
# by the same wrk script, with keep-alive and with a new connection per request (what Traefik
# does beyond its 2 idle connections per auth host). See bench/README.md.
#
#   bench/load.sh [BUILD_DIR]        (default BUILD_DIR: <repo>/build-release)
#
# Environment (all optional):
#   BENCH_DURATION=10s      wrk -d per run
#   BENCH_CONNECTIONS=32    wrk -c per run
#   BENCH_SERVER_CPU=1      core for edgeguard and nginx (one thread / one worker each)
#   BENCH_CLIENT_CPU=0      core for wrk (one thread)
#   BENCH_SCRIPTS=mix       wrk scripts to run: mix (bench/load/forwardauth_mix.lua), flood
#   BENCH_MODES="keepalive close"
#   BENCH_SEED=42           seed of the mix
#   BENCH_ROUNDS=1          runs per cell; the table shows the median of each figure
#   BENCH_REDIS=1           also run edgeguard with `store: redis` (a redis-server started here,
#                           pinned to the client core) and print its ratio to local mode
#   BENCH_SKIP_BUILD=1      use BUILD_DIR/guard/edgeguard as it is
#   BENCH_KEEP=1            keep the scratch directory (configs, logs, raw wrk output)
# Only 127.0.0.1 is used. Everything started here is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$root/build-release}
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
server_cpu=${BENCH_SERVER_CPU:-1}
client_cpu=${BENCH_CLIENT_CPU:-0}
scripts=${BENCH_SCRIPTS:-mix}
modes=${BENCH_MODES:-keepalive close}
seed=${BENCH_SEED:-42}
rounds=${BENCH_ROUNDS:-1}

tools=(wrk nginx taskset curl python3 cmake ninja)
[[ "${BENCH_REDIS:-0}" == 1 ]] && tools+=(redis-server redis-cli)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "load.sh: $tool is required" >&2; exit 2; }
done

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DEDGEGUARD_TESTS=OFF -DEDGEGUARD_BENCH=OFF >/dev/null
  ninja -C "$build_dir" edgeguard
fi
edgeguard_bin=$build_dir/guard/edgeguard
[[ -x "$edgeguard_bin" ]] || { echo "load.sh: no binary at $edgeguard_bin" >&2; exit 2; }

run_dir=$(mktemp -d /tmp/edgeguard-bench.XXXXXX)
started=()
cleanup() {
  local pid
  for pid in "${started[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${started[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
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

# Poll until URL answers (any HTTP status), at most 10 s.
wait_http() {
  local url=$1 pid=$2 deadline=$((SECONDS + 10))
  until curl -s -o /dev/null --max-time 1 "$url"; do
    kill -0 "$pid" 2>/dev/null || { echo "load.sh: server exited, see $run_dir" >&2; return 1; }
    ((SECONDS < deadline)) || { echo "load.sh: $url not answering after 10 s" >&2; return 1; }
    sleep 0.05
  done
}

# --- edgeguard: the example policy, on free ports, one thread ---------------------------------
# Its relative paths are kept: the tailnet nodes file comes from config/, the country database is
# the MaxMind test database (the mix uses its GB, IE and IR networks).
geoip_test_db=$root/tests/data/maxmind/GeoIP2-Country-Test.mmdb
country_db=$(sed -n 's/^geoip:.*country_db: *\([^,} ]*\).*/\1/p' "$root/config/edgeguard.yaml")
nodes_file=$(sed -n 's/^ *nodes:.*file: *\([^,} ]*\).*/\1/p' "$root/config/edgeguard.yaml")
if [[ -n "$country_db" ]]; then
  mkdir -p "$(dirname "$run_dir/$country_db")"
  cp "$geoip_test_db" "$run_dir/$country_db"
fi
mkdir -p "$run_dir/nginx"
if [[ -n "$nodes_file" ]]; then
  cp "$root/config/$nodes_file" "$run_dir/$nodes_file"
  python3 "$root/bench/peers/nginx/tailnet_geo.py" "$run_dir/$nodes_file" 0 tag:admin \
    >"$run_dir/nginx/tailnet-admin.geo"
else
  : >"$run_dir/nginx/tailnet-admin.geo"
fi
servers=()
declare -A port pid
# start_edgeguard NAME [SED_EXPR]: the policy with its ports replaced, one thread.
start_edgeguard() {
  local name=$1 extra=${2:-} admin
  port[$name]=$(free_port)
  admin=$(free_port)
  sed -e "s/^listen:.*/listen: 127.0.0.1:${port[$name]}/" \
      -e "s/^admin_listen:.*/admin_listen: 127.0.0.1:$admin/" \
      -e "s/^threads:.*/threads: 1/" ${extra:+-e "$extra"} \
      "$root/config/edgeguard.yaml" >"$run_dir/$name.yaml"
  taskset -c "$server_cpu" "$edgeguard_bin" serve --config "$run_dir/$name.yaml" \
    >"$run_dir/$name.log" 2>&1 &
  pid[$name]=$!
  started+=("${pid[$name]}")
  servers+=("$name")
  wait_http "http://127.0.0.1:$admin/healthz" "${pid[$name]}"
}
start_edgeguard edgeguard

# --- nginx peer: same policy, one worker -------------------------------------------------------
port[nginx]=$(free_port)
sed -e "s#@LISTEN@#127.0.0.1:${port[nginx]}#" -e "s#@RUN_DIR@#$run_dir/nginx#g" \
    -e "s#@WORKERS@#1#" -e "s#@PEER_DIR@#$root/bench/peers/nginx#g" \
    -e "s#@GEOIP_COUNTRY_DB@#${country_db:+$run_dir/$country_db}#g" \
    "$root/bench/peers/nginx/nginx.conf.in" >"$run_dir/nginx.conf"
taskset -c "$server_cpu" nginx -e "$run_dir/nginx/error.log" -p "$run_dir/nginx" \
  -c "$run_dir/nginx.conf" &
pid[nginx]=$!
started+=("${pid[nginx]}")
servers+=(nginx)
wait_http "http://127.0.0.1:${port[nginx]}/" "${pid[nginx]}"

# --- optional: edgeguard with its buckets in Redis ---------------------------------------------
if [[ "${BENCH_REDIS:-0}" == 1 ]]; then
  redis_port=$(free_port)
  taskset -c "$client_cpu" redis-server --bind 127.0.0.1 --port "$redis_port" --save "" \
    --appendonly no --dir "$run_dir" >"$run_dir/redis.log" 2>&1 &
  started+=("$!")
  deadline=$((SECONDS + 10))
  until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "load.sh: redis-server not answering" >&2; exit 1; }
    sleep 0.05
  done
  start_edgeguard edgeguard-redis \
    "s/^  type: local.*/  type: redis\\n  redis: {address: 127.0.0.1:$redis_port, timeout: 20ms, on_error: local}/"
fi

# Commands Redis has executed so far (INFO commandstats), not counting the INFO calls: "SENT ALL",
# SENT = commands edgeguard sent (EVALSHA and the rest), ALL = those plus the commands the limit
# script runs inside Redis (TIME, GET, SET, DEL).
redis_calls() {
  redis-cli -p "$redis_port" info commandstats | tr -d '\r' | awk -F'[:=,]' '
    /^cmdstat_/ && $1 != "cmdstat_info" {
      all += $3
      if ($1 !~ /^cmdstat_(time|get|set|del)$/) sent += $3
    }
    END { print sent + 0, all + 0 }'
}

# CPU time (utime + stime, clock ticks) of a process and its direct children (nginx's worker).
cpu_ticks() {
  local total=0 pid t
  for pid in "$1" $(pgrep -P "$1" || true); do
    t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
clk_tck=$(getconf CLK_TCK)

# wrk latency like "334.00us", "5.12ms", "1.02s" -> microseconds
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /s$/) m = 1000000; else m = 1
    printf "%.0f", n * m }'
}

declare -A result median
# run NAME SCRIPT MODE ROUND: appends to result[NAME,MODE,SCRIPT,{rps,p50,p99,cpu,deny}]
run() {
  local name=$1 script=$2 mode=$3 round=$4
  local port=${port[$name]} pid=${pid[$name]}
  local lua=$root/bench/load/forwardauth_mix.lua
  [[ $script == flood ]] && lua=$root/bench/load/flood.lua
  local extra=()
  [[ $mode == close ]] && extra=(-H "Connection: close")
  local out=$run_dir/wrk-$name-$script-$mode-$round.txt
  local before after redis_before="0 0" redis_after="0 0"
  [[ $name == edgeguard-redis ]] && redis_before=$(redis_calls)
  before=$(cpu_ticks "$pid")
  taskset -c "$client_cpu" wrk -t1 -c"$connections" -d"$duration" --latency "${extra[@]}" \
    -s "$lua" "http://127.0.0.1:$port/" -- "seed=$seed" >"$out"
  after=$(cpu_ticks "$pid")
  [[ $name == edgeguard-redis ]] && redis_after=$(redis_calls)
  if ! kill -0 "$pid" 2>/dev/null; then
    BENCH_KEEP=1
    echo "load.sh: $name exited during the $script $mode run; logs in $run_dir" >&2
    exit 1
  fi
  local requests rps p50 p99 non2xx errors
  requests=$(awk '/requests in/ {print $1}' "$out")
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out")
  errors=$(awk '/Socket errors/ {sub(/^.*errors: /, ""); print}' "$out")
  result[$name,$mode,$script,rps]+=" $rps"
  result[$name,$mode,$script,p50]+=" $p50"
  result[$name,$mode,$script,p99]+=" $p99"
  result[$name,$mode,$script,cpu]+=" "$(awk -v d=$((after - before)) -v hz="$clk_tck" -v n="$requests" \
    'BEGIN { printf "%.1f", d * 1000000 / hz / n }')
  result[$name,$mode,$script,deny]+=" "$(awk -v d="${non2xx:-0}" -v n="$requests" \
    'BEGIN { printf "%.1f", 100 * d / n }')
  if [[ $name == edgeguard-redis ]]; then
    result[$name,$mode,$script,rcmd]+=" "$(awk -v b="$redis_before" -v a="$redis_after" \
      -v n="$requests" 'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.3f", (y[1] - x[1]) / n }')
    result[$name,$mode,$script,rall]+=" "$(awk -v b="$redis_before" -v a="$redis_after" \
      -v n="$requests" 'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.3f", (y[2] - x[2]) / n }')
  fi
  [[ -n "$errors" ]] && echo "note: $name $script $mode socket errors: $errors" >&2
  return 0
}

# median FORMAT VALUE...: the middle value, or the mean of the two middle ones.
median() {
  local format=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v f="$format" '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf f "\n", m }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "edgeguard $("$edgeguard_bin" version 2>/dev/null | head -1 || true) vs $(nginx -v 2>&1 | sed 's/^nginx version: //')"
echo "wrk -t1 -c$connections -d$duration x $rounds round(s), median; on core $client_cpu; servers on core $server_cpu (1 thread/worker);" \
  "$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo
echo "| script | mode | server | req/s | p50 µs | p99 µs | CPU µs/req | non-2xx % |"
echo "|---|---|---|---:|---:|---:|---:|---:|"
turn=0
redis_summary=()
for script in $scripts; do
  for mode in $modes; do
    for ((round = 1; round <= rounds; round++)); do
      # Rotate which server goes first, so none always runs on a warmer (or busier) machine.
      n=${#servers[@]}
      for ((k = 0; k < n; k++)); do
        run "${servers[(k + turn) % n]}" "$script" "$mode" "$round"
      done
      turn=$((turn + 1))
    done
    for key in "${!result[@]}"; do
      format=%.0f
      [[ $key == *,cpu || $key == *,deny ]] && format=%.1f
      [[ $key == *,rcmd || $key == *,rall ]] && format=%.3f
      [[ $key == *,$mode,$script,* ]] && median[$key]=$(median "$format" ${result[$key]})
    done
    label=$mode
    [[ $mode == keepalive ]] && label=keep-alive
    [[ $mode == close ]] && label="new conn/req"
    for name in "${servers[@]}"; do
      echo "| $script | $label | $name | ${median[$name,$mode,$script,rps]} |" \
        "${median[$name,$mode,$script,p50]} | ${median[$name,$mode,$script,p99]} |" \
        "${median[$name,$mode,$script,cpu]} | ${median[$name,$mode,$script,deny]} |"
    done
    echo "| $script | $label | **ratio eg/nginx** |" \
      "$(ratio "${median[edgeguard,$mode,$script,rps]}" "${median[nginx,$mode,$script,rps]}") |" \
      "$(ratio "${median[edgeguard,$mode,$script,p50]}" "${median[nginx,$mode,$script,p50]}") |" \
      "$(ratio "${median[edgeguard,$mode,$script,p99]}" "${median[nginx,$mode,$script,p99]}") |" \
      "$(ratio "${median[edgeguard,$mode,$script,cpu]}" "${median[nginx,$mode,$script,cpu]}") | |"
    if [[ -n "${pid[edgeguard-redis]:-}" ]]; then
      echo "| $script | $label | **ratio redis/local** |" \
        "$(ratio "${median[edgeguard-redis,$mode,$script,rps]}" "${median[edgeguard,$mode,$script,rps]}") |" \
        "$(ratio "${median[edgeguard-redis,$mode,$script,p50]}" "${median[edgeguard,$mode,$script,p50]}") |" \
        "$(ratio "${median[edgeguard-redis,$mode,$script,p99]}" "${median[edgeguard,$mode,$script,p99]}") |" \
        "$(ratio "${median[edgeguard-redis,$mode,$script,cpu]}" "${median[edgeguard,$mode,$script,cpu]}") | |"
      redis_summary+=("$script $label: ${median[edgeguard-redis,$mode,$script,rcmd]} sent, ${median[edgeguard-redis,$mode,$script,rall]} with the script's own")
    fi
  done
done
if ((${#redis_summary[@]})); then
  echo
  echo "Redis commands per guard request (INFO commandstats delta / requests, median): sent by"
  echo "edgeguard (EVALSHA, ...), and with the TIME/GET/SET/DEL the limit script runs inside Redis:"
  printf '  %s\n' "${redis_summary[@]}"
fi
