#!/usr/bin/env bash
# What a request costs, in figures the machine's load does not move: system calls per request
# (strace -c on the server during a wrk run) and user-space instructions per request (callgrind,
# counted inside edgeguard's event loops only). For deciding between two builds on a busy machine;
# bench/load.sh gives the CPU time and throughput on a quiet one. See bench/README.md.
#
#   bench/profile.sh [BUILD_DIR]     (default BUILD_DIR: <repo>/build-release; not built here)
#
# Environment (all optional):
#   PROFILE_WHAT="syscalls instructions"  add counts: the system calls again, counted by perf's
#                                       tracepoints at full speed (root, linux-perf)
#   PROFILE_SERVERS="edgeguard nginx"   add edgeguard-redis (a redis-server is started)
#   PROFILE_MODES="keepalive close"
#   PROFILE_SCRIPT=mix                  mix or flood
#   PROFILE_DURATION=4s                 wrk -d per run (-c8 -t1)
#   PROFILE_TOP=0                       under callgrind, also print the N costliest functions
#   PROFILE_BANS=0                      N active bans made through the admin API before each
#                                       run (clients the mix never sends: bench/preload_bans.py)
#   PROFILE_BAN_ROUTES="*"              the routes those bans are on, cycled
#   PROFILE_TOGGLE=FUNCTION             the event-loop function callgrind counts in (an older build)
#   BENCH_KEEP=1                        keep the scratch directory (strace and callgrind files)
# Only 127.0.0.1 is used. Everything started here is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$root/build-release}
what=${PROFILE_WHAT:-syscalls instructions}
wanted=${PROFILE_SERVERS:-edgeguard nginx}
modes=${PROFILE_MODES:-keepalive close}
script=${PROFILE_SCRIPT:-mix}
duration=${PROFILE_DURATION:-4s}
top=${PROFILE_TOP:-0}
bans=${PROFILE_BANS:-0}
read -r -a ban_routes <<<"${PROFILE_BAN_ROUTES:-*}"
edgeguard_bin=$build_dir/guard/edgeguard
[[ -x "$edgeguard_bin" ]] || { echo "profile.sh: no binary at $edgeguard_bin" >&2; exit 2; }
for tool in wrk nginx strace valgrind callgrind_annotate curl python3; do
  command -v "$tool" >/dev/null || { echo "profile.sh: $tool is required" >&2; exit 2; }
done

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

# load NAME MODE: wrk against NAME; prints the requests it completed.
load() {
  local extra=()
  [[ $2 == close ]] && extra=(-H "Connection: close")
  wrk -t1 -c8 -d"$duration" "${extra[@]}" -s "$(wrk_script "$script")" \
    "http://127.0.0.1:${port[$1]}/" -- seed=42 >"$run_dir/wrk-$1-$2.txt"
  wrk_requests "$run_dir/wrk-$1-$2.txt"
}

# Every thread of PID and of its children (nginx's workers), for strace -p.
all_pids() {
  local p
  for p in "$1" $(pgrep -P "$1" || true); do
    ls "/proc/$p/task"
  done
}

stop_server() {
  kill -TERM "${pid[$1]}" 2>/dev/null || true
  wait "${pid[$1]}" 2>/dev/null || true
}

start() {
  local name=$1
  shift
  case $name in
    edgeguard) start_edgeguard edgeguard 1 "" "" "$@" ;;
    edgeguard-redis)
      [[ -n "$redis_port" ]] || start_redis ""
      start_edgeguard edgeguard-redis 1 "" "$(redis_store_sed)" "$@"
      ;;
    nginx) start_nginx nginx 1 "" "$@" ;;
  esac
  if ((bans > 0)) && [[ $name == edgeguard* ]]; then
    python3 "$root/bench/preload_bans.py" "${admin_port[$name]}" "$bans" "${ban_routes[@]}"
  fi
}

echo "$script, wrk -t1 -c8 -d$duration; one thread/worker per server; $bans active bans; load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ " $what " == *" syscalls "* ]]; then
  for name in $wanted; do
    start "$name"
    for mode in $modes; do
      load "$name" "$mode" >/dev/null  # warm: buckets, caches, the kernel's socket slabs
      pids=()
      for t in $(all_pids "${pid[$name]}"); do pids+=(-p "$t"); done
      strace -f -c -o "$run_dir/strace-$name-$mode.txt" "${pids[@]}" 2>/dev/null &
      tracer=$!
      sleep 0.5
      redis_before="0 0"
      [[ $name == edgeguard-redis ]] && redis_before=$(redis_calls)
      n=$(load "$name" "$mode")
      sent=
      if [[ $name == edgeguard-redis ]]; then
        sent=$(awk -v b="$redis_before" -v a="$(redis_calls)" -v n="$n" \
          'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.3f", (y[1] - x[1]) / n }')
      fi
      kill -INT "$tracer"
      wait "$tracer" 2>/dev/null || true
      echo
      echo "syscalls per request: $name $mode ($n requests under strace${sent:+; $sent Redis commands sent per request})"
      awk -v n="$n" '
        /^[ ]*[0-9.]+[ ]+[0-9.]+[ ]+[0-9]+[ ]+[0-9]+/ {
          calls = $4; errors = ($6 == "") ? 0 : $5; name = ($6 == "") ? $5 : $6
          if (name == "total") next
          printf "  %-16s %7.3f", name, calls / n
          if (errors > 0) printf "  (%.3f failed)", errors / n
          printf "\n"; total += calls
        }
        END { printf "  %-16s %7.3f\n", "total", total / n }' "$run_dir/strace-$name-$mode.txt"
    done
    stop_server "$name"
  done
fi

# The same counts without strace's slowdown (which changes how much each loop turn batches):
# perf's system-call tracepoints over an unprofiled run, and the failed recvfrom calls.
if [[ " $what " == *" counts "* ]]; then
  command -v perf >/dev/null || { echo "profile.sh: counts needs perf (linux-perf)" >&2; exit 2; }
  perf stat -e syscalls:sys_enter_recvfrom true >/dev/null 2>&1 ||
    { echo "profile.sh: counts needs perf's syscalls tracepoints (run as root)" >&2; exit 2; }
  events=()
  for call in accept4 recvfrom sendto writev read write epoll_wait epoll_ctl close \
    timerfd_settime io_uring_enter; do
    events+=(-e "syscalls:sys_enter_$call")
  done
  events+=(-e syscalls:sys_exit_recvfrom --filter 'ret < 0' -e context-switches)
  for name in $wanted; do
    start "$name"
    for mode in $modes; do
      load "$name" "$mode" >/dev/null  # warm, as above
      targets=${pid[$name]}
      for p in $(pgrep -P "${pid[$name]}" || true); do targets+=,$p; done
      perf stat -x, "${events[@]}" -p "$targets" -o "$run_dir/perf-$name-$mode.txt" &
      tracer=$!
      sleep 0.5
      n=$(load "$name" "$mode")
      kill -INT "$tracer"
      wait "$tracer" 2>/dev/null || true
      echo
      echo "syscalls per request, no tracer in the way: $name $mode ($n requests, perf stat)"
      awk -F, -v n="$n" '
        $1 ~ /^[0-9]+$/ {
          name = $3; sub(/^syscalls:sys_enter_/, "", name)
          if (name ~ /sys_exit_recvfrom/) { failed = $1; next }
          if (name == "context-switches") { switches = $1; next }
          if ($1 == 0) next
          order[++k] = name; count[name] = $1; total += $1
        }
        END {
          for (i = 1; i <= k; i++) {
            printf "  %-16s %7.3f", order[i], count[order[i]] / n
            if (order[i] == "recvfrom" && failed > 0) printf "  (%.3f failed)", failed / n
            printf "\n"
          }
          printf "  %-16s %7.3f\n", "total", total / n
          printf "  %-16s %7.3f\n", "context switches", switches / n
        }' "$run_dir/perf-$name-$mode.txt"
    done
    stop_server "$name"
  done
fi

if [[ " $what " == *" instructions "* ]]; then
  for name in $wanted; do
    # nginx's worker, forked under valgrind, writes no profile when the master stops it.
    [[ $name == nginx ]] && continue
    for mode in $modes; do
      out=$run_dir/callgrind-$name-$mode.out
      # Only the event loops are counted (start-up and the admin thread are not).
      toggle=${PROFILE_TOGGLE:-'edgeguard::Worker::run()'}  # another build's event-loop function
      start "$name" valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$out.%p" \
        --toggle-collect="$toggle"
      n=$(load "$name" "$mode")
      stop_server "$name"
      total=0
      for f in "$out".*; do
        t=$(awk '/^summary:/ {print $2}' "$f")
        total=$((total + ${t:-0}))
      done
      echo
      echo "instructions per request: $name $mode: $((total / n)) ($total for $n requests)"
      if ((top > 0)); then
        for f in "$out".*; do
          t=$(awk '/^summary:/ {print $2}' "$f")
          ((${t:-0} > 0)) || continue
          callgrind_annotate --inclusive=no "$f" 2>/dev/null | awk -v n="$n" -v top="$top" '
            /^-+$/ { dashes++; next }
            dashes >= 5 && $1 ~ /^[0-9,]+$/ && shown < top {
              v = $1; gsub(",", "", v); f = $0
              sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", f); sub(/^[^:]*:/, "", f); sub(/\(.*$/, "", f)
              printf "    %8.0f %s\n", v / n, f; shown++
            }'
        done
      fi
    done
  done
fi
