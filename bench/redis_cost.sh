#!/usr/bin/env bash
# What the shared store pays for edgeguard's decisions: edgeguard with `store: redis` (one thread,
# core 1) on the bench mix with keep-alive (wrk -t1 and redis-server on core 0, as load.sh's
# pinned setup; or its user setup), once per binary given and round, against one redis-server
# emptied between runs.
# Per guard call: the EVALSHA edgeguard sent, edgeguard's own CPU, redis-server's and wrk's (their
# /proc ticks, and the shell's `time` for wrk, over the run), and Redis's own time per EVALSHA
# (INFO commandstats usec_per_call: the script with its TIME, GET and SET; wall time inside Redis,
# so it also counts the moments wrk held the shared core). Each core's busy share over the run
# (/proc/stat) says which one held the throughput: wrk and redis-server share core 0.
# For comparing two builds' limit scripts: see bench/README.md, "The limit script's cost in Redis";
# for what holds Redis mode's throughput: "Where Redis mode's throughput goes".
#
#   bench/redis_cost.sh BINARY [BINARY...]
#
# Environment (all optional):
#   BENCH_ROUNDS=3          runs per binary, the binaries alternating; medians, and per round
#   BENCH_DURATION=5s       wrk -d per run
#   BENCH_CONNECTIONS=32    wrk -c per run
#   BENCH_LOCAL=1           also run each binary with `store: local` before its Redis run, and
#                           print Redis/local for calls/s and edgeguard's CPU per call
#   BENCH_SETUP=pinned      or `user`: edgeguard `threads: 0` and wrk -t2, neither pinned
#                           (redis-server stays on core 0, as in load.sh)
#   BENCH_KEEP=1            keep the scratch directory
# Only 127.0.0.1 is used. Everything started here is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
(($# > 0)) || { echo "usage: bench/redis_cost.sh BINARY [BINARY...]" >&2; exit 2; }
for bin in "$@"; do
  [[ -x "$bin" ]] || { echo "redis_cost.sh: no binary at $bin" >&2; exit 2; }
done
for tool in wrk redis-server redis-cli curl python3 taskset; do
  command -v "$tool" >/dev/null || { echo "redis_cost.sh: $tool is required" >&2; exit 2; }
done
rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_DURATION:-5s}
connections=${BENCH_CONNECTIONS:-32}
stores=redis
[[ "${BENCH_LOCAL:-0}" == 1 ]] && stores="local redis"
case ${BENCH_SETUP:-pinned} in
  pinned) eg_threads=1 eg_pin=1 wrk_threads=1 wrk_pin=0 ;;
  user) eg_threads=0 eg_pin='' wrk_threads=$(nproc) wrk_pin='' ;;
  *) echo "redis_cost.sh: BENCH_SETUP is pinned or user" >&2; exit 2 ;;
esac

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

# core_busy N: the ticks core N has spent busy (user, nice, system, irq, softirq) since boot.
core_busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# busy_percent TICKS NS: TICKS of one core's time as a share of NS nanoseconds of wall time.
busy_percent() {
  awk -v t="$1" -v hz="$clk_tck" -v w="$2" 'BEGIN { printf "%.0f", t / hz * 1e11 / w }'
}

start_redis 0
echo "setup ${BENCH_SETUP:-pinned}; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| binary | store | round | calls/s | EVALSHA per call | edgeguard CPU µs per call |" \
  "redis-server CPU µs per call | wrk CPU µs per call | µs per EVALSHA in Redis |" \
  "core 0 busy % | core 1 busy % |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A cpu_of eg_cpu_of rps_of usec_of wrk_of
TIMEFORMAT='%U %S'
for ((round = 1; round <= rounds; round++)); do
  for ((b = 1; b <= $#; b++)); do
    for store in $stores; do
      edgeguard_bin=${!b}
      name=eg$b-$store-$round
      redis-cli -p "$redis_port" flushall >/dev/null
      redis-cli -p "$redis_port" script flush >/dev/null
      if [[ $store == redis ]]; then
        start_edgeguard "$name" "$eg_threads" "$eg_pin" "$(redis_store_sed)"
      else
        start_edgeguard "$name" "$eg_threads" "$eg_pin"
      fi
      redis-cli -p "$redis_port" config resetstat >/dev/null
      before=$(cpu_ticks "$redis_pid")
      eg_before=$(cpu_ticks "${pid[$name]}")
      core0_before=$(core_busy 0)
      core1_before=$(core_busy 1)
      start_ns=$(date +%s%N)
      # `time` prints wrk's user and system seconds last on its stderr (TIMEFORMAT above).
      { time $(pin "$wrk_pin") wrk -t"$wrk_threads" -c"$connections" -d"$duration" \
        -s "$(wrk_script mix)" \
        "http://127.0.0.1:${port[$name]}/" -- seed=42 >"$run_dir/wrk-$name.txt"; } \
        2>"$run_dir/time-$name.txt"
      wall_ns=$(($(date +%s%N) - start_ns))
      after=$(cpu_ticks "$redis_pid")
      eg_after=$(cpu_ticks "${pid[$name]}")
      core0=$(($(core_busy 0) - core0_before))
      core1=$(($(core_busy 1) - core1_before))
      stats=$(redis-cli -p "$redis_port" info commandstats | tr -d '\r')
      kill -TERM "${pid[$name]}"
      wait "${pid[$name]}" 2>/dev/null || true
      calls=$(wrk_requests "$run_dir/wrk-$name.txt")
      rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$run_dir/wrk-$name.txt")
      evalsha=$(awk -F'[:=,]' '$1 == "cmdstat_evalsha" {print $3}' <<<"$stats")
      usec=$(awk -F'[:=,]' '$1 == "cmdstat_evalsha" {print $7}' <<<"$stats")
      cpu=$(us_per_call $((after - before)) "$calls" %.2f)
      eg_cpu=$(us_per_call $((eg_after - eg_before)) "$calls" %.2f)
      wrk_cpu=$(awk -v n="$calls" 'END { printf "%.2f", ($1 + $2) * 1000000 / n }' \
        "$run_dir/time-$name.txt")
      key=$b-$store
      cpu_of[$key]+=" $cpu"
      eg_cpu_of[$key]+=" $eg_cpu"
      rps_of[$key]+=" $rps"
      [[ -z "$usec" ]] || usec_of[$key]+=" $usec"
      wrk_of[$key]+=" $wrk_cpu"
      printf '| %s | %s | %d | %s | %.3f | %s | %s | %s | %s | %s | %s |\n' "$b" "$store" \
        "$round" "$rps" "$(awk -v e="${evalsha:-0}" -v n="$calls" 'BEGIN { print e / n }')" \
        "$eg_cpu" "$cpu" "$wrk_cpu" "${usec:--}" \
        "$(busy_percent "$core0" "$wall_ns")" "$(busy_percent "$core1" "$wall_ns")"
    done
  done
done
echo
# shellcheck disable=SC2086
for ((b = 1; b <= $#; b++)); do
  for store in $stores; do
    key=$b-$store
    echo "binary $b (${!b}), store $store: median $(median %.0f ${rps_of[$key]}) calls/s," \
      "edgeguard CPU $(median %.2f ${eg_cpu_of[$key]}) µs per call, redis-server CPU" \
      "$(median %.2f ${cpu_of[$key]}) µs per call, wrk CPU $(median %.2f ${wrk_of[$key]}) µs" \
      "per call${usec_of[$key]:+, $(median %.2f ${usec_of[$key]}) µs per EVALSHA in Redis}"
  done
  if [[ $stores == "local redis" ]]; then
    # Per round, Redis over local: the rounds ran side by side, so each pair shares the machine.
    read -ra l_rps <<<"${rps_of[$b-local]}"
    read -ra r_rps <<<"${rps_of[$b-redis]}"
    read -ra l_cpu <<<"${eg_cpu_of[$b-local]}"
    read -ra r_cpu <<<"${eg_cpu_of[$b-redis]}"
    rps_ratios=() cpu_ratios=()
    for ((i = 0; i < rounds; i++)); do
      rps_ratios+=("$(awk -v a="${r_rps[i]}" -v b="${l_rps[i]}" 'BEGIN { printf "%.2f", a / b }')")
      cpu_ratios+=("$(awk -v a="${r_cpu[i]}" -v b="${l_cpu[i]}" 'BEGIN { printf "%.2f", a / b }')")
    done
    echo "binary $b, redis/local: calls/s $(median %.2f "${rps_ratios[@]}") (rounds" \
      "${rps_ratios[*]}), edgeguard CPU per call $(median %.2f "${cpu_ratios[@]}") (rounds" \
      "${cpu_ratios[*]})"
  fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
