#!/usr/bin/env bash
# What the shared store pays for edgeguard's decisions: edgeguard with `store: redis` (one thread,
# core 1) on the bench mix with keep-alive (wrk -t1 and redis-server on core 0, as load.sh's
# pinned setup), once per binary given and round, against one redis-server emptied between runs.
# Per guard call: the EVALSHA edgeguard sent, edgeguard's own CPU and redis-server's (their /proc
# ticks over the run),
# and Redis's own time per EVALSHA (INFO commandstats usec_per_call: the script with its TIME,
# GET and SET; wall time inside Redis, so it also counts the moments wrk held the shared core).
# For comparing two builds' limit scripts: see bench/README.md, "The limit script's cost in Redis".
#
#   bench/redis_cost.sh BINARY [BINARY...]
#
# Environment (all optional):
#   BENCH_ROUNDS=3          runs per binary, the binaries alternating; medians, and per round
#   BENCH_DURATION=5s       wrk -d per run
#   BENCH_CONNECTIONS=32    wrk -c per run
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

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

start_redis 0
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| binary | round | calls/s | EVALSHA per call | edgeguard CPU µs per call | redis-server CPU µs per call | µs per EVALSHA in Redis |"
echo "|---|---:|---:|---:|---:|---:|---:|"
declare -A cpu_of eg_cpu_of rps_of usec_of
for ((round = 1; round <= rounds; round++)); do
  for ((b = 1; b <= $#; b++)); do
    edgeguard_bin=${!b}
    redis-cli -p "$redis_port" flushall >/dev/null
    redis-cli -p "$redis_port" script flush >/dev/null
    start_edgeguard "eg$b-$round" 1 1 "$(redis_store_sed)"
    redis-cli -p "$redis_port" config resetstat >/dev/null
    before=$(cpu_ticks "$redis_pid")
    eg_before=$(cpu_ticks "${pid[eg$b-$round]}")
    taskset -c 0 wrk -t1 -c"$connections" -d"$duration" -s "$(wrk_script mix)" \
      "http://127.0.0.1:${port[eg$b-$round]}/" -- seed=42 >"$run_dir/wrk-$b-$round.txt"
    after=$(cpu_ticks "$redis_pid")
    eg_after=$(cpu_ticks "${pid[eg$b-$round]}")
    stats=$(redis-cli -p "$redis_port" info commandstats | tr -d '\r')
    kill -TERM "${pid[eg$b-$round]}"
    wait "${pid[eg$b-$round]}" 2>/dev/null || true
    calls=$(wrk_requests "$run_dir/wrk-$b-$round.txt")
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$run_dir/wrk-$b-$round.txt")
    evalsha=$(awk -F'[:=,]' '$1 == "cmdstat_evalsha" {print $3}' <<<"$stats")
    usec=$(awk -F'[:=,]' '$1 == "cmdstat_evalsha" {print $7}' <<<"$stats")
    cpu=$(us_per_call $((after - before)) "$calls" %.2f)
    eg_cpu=$(us_per_call $((eg_after - eg_before)) "$calls" %.2f)
    cpu_of[$b]+=" $cpu"
    eg_cpu_of[$b]+=" $eg_cpu"
    rps_of[$b]+=" $rps"
    usec_of[$b]+=" $usec"
    printf '| %s | %d | %s | %.3f | %s | %s | %s |\n' "$b" "$round" "$rps" \
      "$(awk -v e="${evalsha:-0}" -v n="$calls" 'BEGIN { print e / n }')" "$eg_cpu" "$cpu" "$usec"
  done
done
echo
for ((b = 1; b <= $#; b++)); do
  # shellcheck disable=SC2086
  echo "binary $b (${!b}): median $(median %.0f ${rps_of[$b]}) calls/s, edgeguard CPU" \
    "$(median %.2f ${eg_cpu_of[$b]}) µs per call, redis-server CPU $(median %.2f ${cpu_of[$b]})" \
    "µs per call, $(median %.2f ${usec_of[$b]}) µs per EVALSHA in Redis"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
