#!/usr/bin/env bash
# Normal ForwardAuth load while hostile clients hold connections (issue 17): the mix of
# bench/load.sh, first alone ("quiet"), then while bench/load/hostile_clients.py holds 5 000
# idle keep-alive connections and 500 slow-loris ones (each cut one reopened at once). Compares
# throughput, p50/p99 and CPU per request, and shows RSS, open connections and what happened to
# the hostile clients. See bench/README.md, "Slow and hostile clients at scale".
#
#   bench/hostile.sh [BUILD_DIR]        (default BUILD_DIR: <repo>/build-release)
#
# Environment (all optional):
#   HOSTILE_IDLE=5000       idle keep-alive connections (one answered call each, then silent)
#   HOSTILE_SLOW=500        slow-loris connections (a header line, then a byte a second)
#   BENCH_DURATION=10s      wrk -d per run
#   BENCH_CONNECTIONS=32    wrk -c per run
#   BENCH_MODES="keepalive close"
#   BENCH_ROUNDS=1          quiet/hostile pairs per mode; the table shows the median
#   BENCH_SERVER_CPU=1      core for edgeguard (threads: 1)
#   BENCH_CLIENT_CPU=0      core for wrk and the hostile clients
#   BENCH_SKIP_BUILD=1      use BUILD_DIR/guard/edgeguard as it is
#   BENCH_KEEP=1            keep the scratch directory
#   HOSTILE_IDLE_WAIT=1     after the last hostile run, keep its clients until the idle timeout
#                           (60 s) has passed for every idle one, to see them cut (0: skip)
# Only 127.0.0.1 is used. Everything started here is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$root/build-release}
idle_n=${HOSTILE_IDLE:-5000}
slow_n=${HOSTILE_SLOW:-500}
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
modes=${BENCH_MODES:-keepalive close}
rounds=${BENCH_ROUNDS:-1}
server_cpu=${BENCH_SERVER_CPU:-1}
client_cpu=${BENCH_CLIENT_CPU:-0}

for tool in wrk taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "hostile.sh: $tool is required" >&2; exit 2; }
done
# Both ends of every hostile connection live on this machine: the script, the server (a child)
# and the hostile clients (a child) all inherit this limit.
need=$((idle_n + slow_n + connections + 512))
if (($(ulimit -n) < need)); then
  ulimit -n "$need" 2>/dev/null || {
    echo "hostile.sh: needs ulimit -n >= $need (hard limit $(ulimit -Hn))" >&2
    exit 2
  }
fi

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DEDGEGUARD_TESTS=OFF -DEDGEGUARD_BENCH=OFF >/dev/null
  ninja -C "$build_dir" edgeguard
fi
edgeguard_bin=$build_dir/guard/edgeguard
[[ -x "$edgeguard_bin" ]] || { echo "hostile.sh: no binary at $edgeguard_bin" >&2; exit 2; }

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

# The example policy as in load.sh: one thread, its data files next to the config.
country_db=$(sed -n 's/^geoip:.*country_db: *\([^,} ]*\).*/\1/p' "$root/config/edgeguard.yaml")
nodes_file=$(sed -n 's/^ *nodes:.*file: *\([^,} ]*\).*/\1/p' "$root/config/edgeguard.yaml")
if [[ -n "$country_db" ]]; then
  mkdir -p "$(dirname "$run_dir/$country_db")"
  cp "$root/tests/data/maxmind/GeoIP2-Country-Test.mmdb" "$run_dir/$country_db"
fi
[[ -n "$nodes_file" ]] && cp "$root/config/$nodes_file" "$run_dir/$nodes_file"
eg_port=$(free_port)
admin=$(free_port)
sed -e "s/^listen:.*/listen: 127.0.0.1:$eg_port/" -e "s/^admin_listen:.*/admin_listen: 127.0.0.1:$admin/" \
    -e "s/^threads:.*/threads: 1/" "$root/config/edgeguard.yaml" >"$run_dir/edgeguard.yaml"
taskset -c "$server_cpu" "$edgeguard_bin" serve --config "$run_dir/edgeguard.yaml" \
  >"$run_dir/edgeguard.log" 2>&1 &
eg_pid=$!
started+=("$eg_pid")
deadline=$((SECONDS + 10))
until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$admin/healthz"; do
  kill -0 "$eg_pid" 2>/dev/null || { echo "hostile.sh: edgeguard exited, see $run_dir" >&2; exit 1; }
  ((SECONDS < deadline)) || { echo "hostile.sh: edgeguard not answering" >&2; exit 1; }
  sleep 0.05
done

metric() {
  curl -s "http://127.0.0.1:$admin/metrics" | awk -v m="$1" '$1 == m {printf "%.0f", $2}'
}
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$eg_pid/status"; }

declare -A result
hostile_stats=()
# run MODE LOAD ROUND
run() {
  local mode=$1 load=$2 round=$3 holder="" out=$run_dir/wrk-$1-$2-$3.txt extra=()
  [[ $mode == close ]] && extra=(-H "Connection: close")
  if [[ $load == hostile ]]; then
    taskset -c "$client_cpu" python3 "$root/bench/load/hostile_clients.py" "$eg_port" "$idle_n" \
      "$slow_n" >"$run_dir/hostile-$mode-$round.txt" &
    holder=$!
    started+=("$holder")
    local deadline=$((SECONDS + 120))
    until grep -qs '^ready' "$run_dir/hostile-$mode-$round.txt"; do
      kill -0 "$holder" 2>/dev/null || { echo "hostile.sh: hostile clients failed" >&2; exit 1; }
      ((SECONDS < deadline)) || { echo "hostile.sh: hostile clients not ready" >&2; exit 1; }
      sleep 0.1
    done
    ready_at=$SECONDS
  fi
  local before after
  before=$(cpu_ticks "$eg_pid")
  taskset -c "$client_cpu" wrk -t1 -c"$connections" -d"$duration" --latency "${extra[@]}" \
    -s "$(wrk_script mix)" "http://127.0.0.1:$eg_port/" -- seed=42 >"$out"
  after=$(cpu_ticks "$eg_pid")
  local rss open
  rss=$(rss_mb)
  open=$(metric edgeguard_open_connections)
  if [[ -n $holder && $mode == "${modes##* }" && $round == "$rounds" && \
        "${HOSTILE_IDLE_WAIT:-1}" == 1 ]]; then
    # The last hostile run: the idle clients are left until the server's idle timeout cuts them.
    local idle_s
    idle_s=$(awk '/^ *idle_timeout:/ {print $2}' "$run_dir/edgeguard.yaml")
    idle_s=${idle_s:-60s}
    idle_s=${idle_s%s}
    local wait_until=$((ready_at + idle_s + 5))
    while ((SECONDS < wait_until)); do sleep 1; done
    idle_open_after=$(metric edgeguard_open_connections)
  fi
  if [[ -n $holder ]]; then
    kill -TERM "$holder"
    wait "$holder" || true
    hostile_stats+=("$mode round $round: $(tail -1 "$run_dir/hostile-$mode-$round.txt")")
  fi
  kill -0 "$eg_pid" 2>/dev/null || { BENCH_KEEP=1; echo "hostile.sh: edgeguard died" >&2; exit 1; }
  local requests errors
  requests=$(wrk_requests "$out")
  errors=$(awk '/Socket errors/ {sub(/^.*errors: /, ""); gsub(/ /, ""); print}' "$out")
  result[$mode,$load,rps]+=" $(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")"
  result[$mode,$load,p50]+=" $(to_us "$(awk '$1 == "50%" {print $2}' "$out")")"
  result[$mode,$load,p99]+=" $(to_us "$(awk '$1 == "99%" {print $2}' "$out")")"
  result[$mode,$load,cpu]+=" $(us_per_call $((after - before)) "$requests" %.1f)"
  result[$mode,$load,deny]+=" $(awk -v d="$(awk '/Non-2xx/ {print $NF}' "$out")" -v n="$requests" \
    'BEGIN { printf "%.1f", 100 * d / n }')"
  result[$mode,$load,rss]+=" $rss"
  result[$mode,$load,open]+=" $open"
  result[$mode,$load,errors]+=" ${errors:-none}"
}

echo "edgeguard $("$edgeguard_bin" version 2>/dev/null | head -1 || true), threads: 1 on core" \
  "$server_cpu; wrk -t1 -c$connections -d$duration and the hostile clients on core $client_cpu;" \
  "hostile: $idle_n idle keep-alive + $slow_n slow-loris; $rounds round(s), median;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| mode | load | req/s | p50 µs | p99 µs | CPU µs/req | non-2xx % | wrk socket errors | RSS MB | open conns |"
echo "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"
for mode in $modes; do
  for ((round = 1; round <= rounds; round++)); do
    run "$mode" quiet "$round"
    run "$mode" hostile "$round"
  done
  label=$mode
  [[ $mode == keepalive ]] && label=keep-alive
  [[ $mode == close ]] && label="new conn/req"
  for load in quiet hostile; do
    echo "| $label | $load | $(median %g ${result[$mode,$load,rps]}) |" \
      "$(median %g ${result[$mode,$load,p50]}) | $(median %g ${result[$mode,$load,p99]}) |" \
      "$(median %g ${result[$mode,$load,cpu]}) | $(median %g ${result[$mode,$load,deny]}) |" \
      "${result[$mode,$load,errors]# } | $(median %g ${result[$mode,$load,rss]}) |" \
      "$(median %g ${result[$mode,$load,open]}) |"
  done
  echo "| $label | **hostile/quiet** |" \
    "$(awk -v a="$(median %g ${result[$mode,hostile,rps]})" -v b="$(median %g ${result[$mode,quiet,rps]})" 'BEGIN { printf "%.2f", a / b }') |" \
    "$(awk -v a="$(median %g ${result[$mode,hostile,p50]})" -v b="$(median %g ${result[$mode,quiet,p50]})" 'BEGIN { printf "%.2f", a / b }') |" \
    "$(awk -v a="$(median %g ${result[$mode,hostile,p99]})" -v b="$(median %g ${result[$mode,quiet,p99]})" 'BEGIN { printf "%.2f", a / b }') |" \
    "$(awk -v a="$(median %g ${result[$mode,hostile,cpu]})" -v b="$(median %g ${result[$mode,quiet,cpu]})" 'BEGIN { printf "%.2f", a / b }') | | | | |"
done
echo
echo "Hostile clients (slow_cut_*: seconds from a slow client's first byte to its cut; idle_cut_*:"
echo "seconds from an idle client's answer to its cut):"
printf '  %s\n' "${hostile_stats[@]}"
[[ -n ${idle_open_after:-} ]] &&
  echo "open connections once the idle timeout had passed in the last hostile run: $idle_open_after"
echo "edgeguard_connections_rejected_total: $(metric edgeguard_connections_rejected_total)," \
  "bad requests: $(curl -s "http://127.0.0.1:$admin/metrics" | awk '/^edgeguard_bad_requests_total/ {printf "%s=%s ", $1, $2}')"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
