#!/usr/bin/env bash
# Load benchmark: edgeguard against the nginx peer (bench/peers/nginx/), driven by the same wrk
# script, with keep-alive and with a new connection per request (what Traefik does beyond its 2
# idle connections per auth host), in two setups: `pinned` (one thread / one worker each, on the
# same core, wrk on the other) and `user` (edgeguard `threads: 0`, nginx one worker per core,
# nothing pinned, wrk with one thread per core on the same cores: how it runs for a user). See
# bench/README.md.
#
#   bench/load.sh [BUILD_DIR]        (default BUILD_DIR: <repo>/build-release)
#
# Environment (all optional):
#   BENCH_DURATION=10s      wrk -d per run
#   BENCH_CONNECTIONS=32    wrk -c per run
#   BENCH_SETUPS="pinned user"
#   BENCH_SERVER_CPU=1      pinned: core for edgeguard and nginx (one thread / one worker each)
#   BENCH_CLIENT_CPU=0      pinned: core for wrk (one thread) and redis-server
#   BENCH_SCRIPTS=mix       wrk scripts to run: mix (bench/load/forwardauth_mix.lua), flood
#   BENCH_MODES="keepalive close"
#   BENCH_SEED=42           seed of the mix
#   BENCH_ROUNDS=1          runs per cell; the table shows the median of each figure, and the
#                           ratio rows the lowest and highest per-round ratio in brackets
#   BENCH_REDIS=1           also run edgeguard with `store: redis` (a redis-server started here,
#                           pinned to the client core) and print its ratio to local mode
#   BENCH_SAME_LOAD=0.5     p99 at the same load (SPEC 8): after each cell's saturation runs, edgeguard
#                           and nginx again, every connection paced (wrk delay) so both are offered
#                           this fraction of nginx's measured req/s; 0 skips these runs
#   BENCH_SAME_LOAD_DURATION=5s  wrk -d of each paced run
#   BENCH_BASELINE=PATH     also run another edgeguard binary (an older build) with the same
#                           policy, as edgeguard-base, and print edgeguard's ratio to it
#   BENCH_FLOOR=1           pinned setup: also run bench/transport_floor (a server that answers
#                           every head with a fixed 200 and decides nothing) with epoll and with
#                           io_uring, the floor under edgeguard's loop (needs liburing-dev)
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
setups=${BENCH_SETUPS:-pinned user}
same_load=${BENCH_SAME_LOAD:-0.5}
same_load_duration=${BENCH_SAME_LOAD_DURATION:-5s}
cores=$(nproc)

tools=(wrk nginx taskset curl python3 cmake ninja)
[[ "${BENCH_REDIS:-0}" == 1 ]] && tools+=(redis-server redis-cli)
[[ "${BENCH_FLOOR:-0}" == 1 ]] && tools+=(g++)
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

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

# start_floor NAME epoll|uring CPU: bench/transport_floor built here, on an ephemeral port.
start_floor() {
  local name=$1 loop=$2 cpu=$3 deadline=$((SECONDS + 10))
  if [[ ! -x "$run_dir/transport_floor" ]]; then
    g++ -std=c++20 -O2 -Wall -Wextra -Werror "$root/bench/transport_floor/transport_floor.cpp" \
      -luring -o "$run_dir/transport_floor" ||
      { echo "load.sh: BENCH_FLOOR=1 needs liburing-dev (apt-get install liburing-dev)" >&2; exit 2; }
  fi
  $(pin "$cpu") "$run_dir/transport_floor" "$loop" >"$run_dir/$name.log" 2>&1 &
  pid[$name]=$!
  started+=("${pid[$name]}")
  servers+=("$name")
  until [[ -n "${port[$name]:-}" ]]; do
    port[$name]=$(awk '/^port / {print $2}' "$run_dir/$name.log")
    kill -0 "${pid[$name]}" 2>/dev/null || { echo "load.sh: $name exited, see $run_dir" >&2; exit 1; }
    ((SECONDS < deadline)) || { echo "load.sh: $name did not listen" >&2; exit 1; }
    [[ -n "${port[$name]}" ]] || sleep 0.05
  done
}

declare -A result median
# Set per setup: wrk's threads and pinning.
wrk_threads=1
wrk_cpu=
# run NAME SCRIPT MODE ROUND [PACE_MS]: appends to result[NAME,MODE,SCRIPT,{rps,p50,p99,cpu,sys,deny}];
# with PACE_MS (each connection waits that long between an answer and its next call) the cell
# is MODE+same instead of MODE.
run() {
  local name=$1 script=$2 mode=$3 round=$4 pace=${5:-}
  local cell=$mode${pace:++same}
  local server_port=${port[$name]} server_pid=${pid[$name]}
  local lua=$root/bench/load/forwardauth_mix.lua
  [[ $script == flood ]] && lua=$root/bench/load/flood.lua
  local extra=()
  [[ $mode == close ]] && extra=(-H "Connection: close")
  local out=$run_dir/wrk-$name-$script-$mode-$round${pace:+-paced}.txt
  local before after sys_before sys_after redis_before="0 0" redis_after="0 0" rcpu_before=0 rcpu_after=0
  if [[ $name == edgeguard-redis ]]; then
    redis_before=$(redis_calls)
    rcpu_before=$(cpu_ticks "$redis_pid")
  fi
  before=$(cpu_ticks "$server_pid")
  sys_before=$(sys_ticks "$server_pid")
  if [[ -n $pace ]]; then
    EG_WRK_DELAY_MS=$pace $(pin "$wrk_cpu") wrk -t"$wrk_threads" -c"$connections" \
      -d"$same_load_duration" --latency "${extra[@]}" -s "$lua" "http://127.0.0.1:$server_port/" \
      -- "seed=$seed" >"$out"
  else
    $(pin "$wrk_cpu") wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency "${extra[@]}" \
      -s "$lua" "http://127.0.0.1:$server_port/" -- "seed=$seed" >"$out"
  fi
  after=$(cpu_ticks "$server_pid")
  sys_after=$(sys_ticks "$server_pid")
  if [[ $name == edgeguard-redis ]]; then
    redis_after=$(redis_calls)
    rcpu_after=$(cpu_ticks "$redis_pid")
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    BENCH_KEEP=1
    echo "load.sh: $name exited during the $script $mode run; logs in $run_dir" >&2
    exit 1
  fi
  local requests rps p50 p99 non2xx errors
  requests=$(wrk_requests "$out")
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out")
  errors=$(awk '/Socket errors/ {sub(/^.*errors: /, ""); print}' "$out")
  [[ -n "$errors" ]] && echo "note: $name $script $mode${pace:+ paced} socket errors: $errors" >&2
  result[$name,$cell,$script,rps]+=" $rps"
  result[$name,$cell,$script,p50]+=" $p50"
  result[$name,$cell,$script,p99]+=" $p99"
  result[$name,$cell,$script,cpu]+=" "$(us_per_call $((after - before)) "$requests" %.1f)
  result[$name,$cell,$script,sys]+=" "$(awk -v s=$((sys_after - sys_before)) -v d=$((after - before)) \
    'BEGIN { if (d > 0) printf "%.0f", 100 * s / d; else print 0 }')
  result[$name,$cell,$script,deny]+=" "$(awk -v d="${non2xx:-0}" -v n="$requests" \
    'BEGIN { printf "%.1f", 100 * d / n }')
  if [[ $name == edgeguard-redis ]]; then
    result[$name,$cell,$script,rcmd]+=" "$(awk -v b="$redis_before" -v a="$redis_after" \
      -v n="$requests" 'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.3f", (y[1] - x[1]) / n }')
    result[$name,$cell,$script,rall]+=" "$(awk -v b="$redis_before" -v a="$redis_after" \
      -v n="$requests" 'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.3f", (y[2] - x[2]) / n }')
    # redis-server's own CPU per call: what the shared store costs beside edgeguard.
    result[$name,$cell,$script,rcpu]+=" "$(us_per_call $((rcpu_after - rcpu_before)) "$requests" %.2f)
  fi
  return 0
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# spread KEY_A KEY_B FIELD: the ratio of the medians, then the lowest and highest of the
# per-round ratios (round i of A over round i of B), as "0.76 (0.72–0.79)"; one round: the ratio.
spread() {
  local a=${median[$1,$3]} b=${median[$2,$3]}
  awk -v a="$a" -v b="$b" -v ra="${result[$1,$3]}" -v rb="${result[$2,$3]}" 'BEGIN {
    if (b <= 0) { print "-"; exit }
    n = split(ra, x, " "); m = split(rb, y, " ")
    if (n > m) n = m
    lo = ""; hi = ""
    for (i = 1; i <= n; i++) {
      if (y[i] <= 0) continue
      r = x[i] / y[i]
      if (lo == "" || r < lo) lo = r
      if (hi == "" || r > hi) hi = r
    }
    if (n < 2 || lo == "") printf "%.2f", a / b
    else printf "%.2f (%.2f–%.2f)", a / b, lo, hi }'
}

# ratio_row SCRIPT CELL LABEL NAME A B [p99-spread]: one ratio row, server A over server B
# (the p99 ratio with its per-round spread when asked, as for edgeguard over nginx).
ratio_row() {
  local script=$1 cell=$2 label=$3 name=$4 a=$5 b=$6 p99
  if [[ ${7:-} == p99-spread ]]; then
    p99=$(spread "$a,$cell,$script" "$b,$cell,$script" p99)
  else
    p99=$(ratio "${median[$a,$cell,$script,p99]}" "${median[$b,$cell,$script,p99]}")
  fi
  echo "| $script | $label | **ratio $name** |" \
    "$(spread "$a,$cell,$script" "$b,$cell,$script" rps) |" \
    "$(ratio "${median[$a,$cell,$script,p50]}" "${median[$b,$cell,$script,p50]}") |" \
    "$p99 |" \
    "$(spread "$a,$cell,$script" "$b,$cell,$script" cpu) | | |"
}

# print_cell SCRIPT CELL LABEL: the rows of one cell (CELL is a mode, or MODE+same), then the
# ratios.
print_cell() {
  local script=$1 cell=$2 label=$3 name
  for name in "${servers[@]}"; do
    echo "| $script | $label | $name | ${median[$name,$cell,$script,rps]} |" \
      "${median[$name,$cell,$script,p50]} | ${median[$name,$cell,$script,p99]} |" \
      "${median[$name,$cell,$script,cpu]} | ${median[$name,$cell,$script,sys]} |" \
      "${median[$name,$cell,$script,deny]} |"
  done
  ratio_row "$script" "$cell" "$label" eg/nginx edgeguard nginx p99-spread
  [[ -n "${pid[edgeguard-redis]:-}" ]] &&
    ratio_row "$script" "$cell" "$label" redis/local edgeguard-redis edgeguard
  [[ -n "${pid[edgeguard-base]:-}" ]] &&
    ratio_row "$script" "$cell" "$label" eg/base edgeguard edgeguard-base
  [[ -n "${pid[floor-uring]:-}" ]] &&
    ratio_row "$script" "$cell" "$label" "floor uring/epoll" floor-uring floor-epoll
  return 0
}

# pace_for NGINX_RPS: ms between an answer and the next call that offers each connection's share
# of same_load x NGINX_RPS (wrk's delay is whole milliseconds, so at least 1).
pace_for() {
  awk -v c="$connections" -v f="$same_load" -v r="$1" \
    'BEGIN { p = (r > 0 && f > 0) ? c * 1000 / (f * r) : 1; p = int(p + 0.999); print (p < 1) ? 1 : p }'
}

echo "edgeguard $("$edgeguard_bin" version 2>/dev/null | head -1 || true) vs $(nginx -v 2>&1 | sed 's/^nginx version: //');" \
  "$cores cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
for setup in $setups; do
  # Servers for this setup only: stop the previous setup's.
  for name in "${servers[@]}"; do
    kill -TERM "${pid[$name]}" 2>/dev/null || true
    wait "${pid[$name]}" 2>/dev/null || true
    unset "pid[$name]" "port[$name]"
  done
  servers=()
  result=()
  median=()
  if [[ $setup == pinned ]]; then
    threads=1 workers=1 server_pin=$server_cpu wrk_threads=1 wrk_cpu=$client_cpu
    shape="wrk -t1 on core $client_cpu; servers on core $server_cpu, 1 thread/worker each"
  else
    threads=0 workers=$cores server_pin='' wrk_threads=$cores wrk_cpu=
    shape="wrk -t$cores, edgeguard threads: 0, nginx $cores workers, nothing pinned"
  fi
  start_edgeguard edgeguard "$threads" "$server_pin"
  start_nginx nginx "$workers" "$server_pin"
  if [[ -n "${BENCH_BASELINE:-}" ]]; then
    edgeguard_bin=$BENCH_BASELINE start_edgeguard edgeguard-base "$threads" "$server_pin"
  fi
  if [[ "${BENCH_REDIS:-0}" == 1 ]]; then
    [[ -n "$redis_port" ]] || start_redis "$client_cpu"
    start_edgeguard edgeguard-redis "$threads" "$server_pin" "$(redis_store_sed)"
  fi
  if [[ "${BENCH_FLOOR:-0}" == 1 && $setup == pinned ]]; then
    start_floor floor-epoll epoll "$server_pin"
    start_floor floor-uring uring "$server_pin"
  fi
  echo
  echo "### setup: $setup ($shape)"
  echo
  echo "wrk -c$connections -d$duration x $rounds round(s), median; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "| script | mode | server | req/s | p50 µs | p99 µs | CPU µs/req | kernel % | non-2xx % |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
  turn=0
  redis_summary=()
  same_load_rows=()
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
      pace=
      if awk -v f="$same_load" 'BEGIN { exit !(f > 0) }'; then
        pace=$(pace_for "$(median %.0f ${result[nginx,$mode,$script,rps]})")
        for ((round = 1; round <= rounds; round++)); do
          n=${#servers[@]}
          for ((k = 0; k < n; k++)); do
            run "${servers[(k + turn) % n]}" "$script" "$mode" "$round" "$pace"
          done
          turn=$((turn + 1))
        done
      fi
      for key in "${!result[@]}"; do
        format=%.0f
        [[ $key == *,cpu || $key == *,deny ]] && format=%.1f
        [[ $key == *,rcmd || $key == *,rall ]] && format=%.3f
        [[ $key == *,rcpu ]] && format=%.2f
        [[ $key == *,$mode,$script,* || $key == *,$mode+same,$script,* ]] &&
          median[$key]=$(median "$format" ${result[$key]})
      done
      label=$mode
      [[ $mode == keepalive ]] && label=keep-alive
      [[ $mode == close ]] && label="new conn/req"
      print_cell "$script" "$mode" "$label"
      [[ -n $pace ]] && same_load_rows+=("$(print_cell "$script" "$mode+same" "$label, pace $pace ms")")
      if [[ -n "${pid[edgeguard-redis]:-}" ]]; then
        redis_summary+=("$script $label: ${median[edgeguard-redis,$mode,$script,rcmd]} sent, ${median[edgeguard-redis,$mode,$script,rall]} with the script's own, redis-server ${median[edgeguard-redis,$mode,$script,rcpu]} µs CPU")
      fi
    done
  done
  if ((${#same_load_rows[@]})); then
    echo
    echo "At the same load (SPEC 8's p99): every connection waits the pace between an answer and its"
    echo "next call (from $same_load x nginx's req/s above), so each server serves the same calls at about"
    echo "the same rate, below saturation (wrk -d$same_load_duration x $rounds round(s), median):"
    echo "| script | mode | server | req/s | p50 µs | p99 µs | CPU µs/req | kernel % | non-2xx % |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${same_load_rows[@]}"
  fi
  if ((${#redis_summary[@]})); then
    echo
    echo "Redis commands per guard request (INFO commandstats delta / requests, median): sent by"
    echo "edgeguard (EVALSHA, ...), and with the TIME/GET/SET/DEL the limit script runs inside Redis;"
    echo "then redis-server's own CPU per guard request (its /proc ticks over the run):"
    printf '  %s\n' "${redis_summary[@]}"
  fi
  echo
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
