# Shared by bench/load.sh, profile.sh, redis_cost.sh and hostile.sh (sourced, not run): a
# scratch directory, the example policy and its nginx peer on free loopback ports, an optional
# redis-server, the figures read from wrk and /proc, and the cleanup that stops everything
# started here. Callers set `root` first, and `edgeguard_bin` before start_edgeguard.

run_dir=$(mktemp -d /tmp/edgeguard-bench.XXXXXX)
started=()
servers=()
declare -A port pid admin_port
redis_port=
redis_pid=

bench_cleanup() {
  local p
  for p in "${started[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${started[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    echo "scratch directory kept: $run_dir" >&2
  else
    rm -rf "$run_dir"
  fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Poll until URL answers (any HTTP status), at most `timeout` s (default 10).
wait_http() {
  local url=$1 p=$2 deadline=$((SECONDS + ${3:-10}))
  until curl -s -o /dev/null --max-time 1 "$url"; do
    kill -0 "$p" 2>/dev/null || { echo "bench: server exited, see $run_dir" >&2; return 1; }
    ((SECONDS < deadline)) || { echo "bench: $url not answering" >&2; return 1; }
    sleep 0.05
  done
}

# `taskset -c CPU` when CPU is set, nothing otherwise (the user setup pins nothing).
pin() {
  if [[ -n "$1" ]]; then echo taskset -c "$1"; fi
}

# The example policy keeps its relative paths: the tailnet nodes file comes from config/, the
# country database is the MaxMind test database (the mix uses its GB, IE and IR networks).
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

# start_edgeguard NAME THREADS CPU [SED_EXPR] [WRAPPER...]: the policy with its ports replaced,
# THREADS event loops (0: one per core), pinned to CPU if set, run under WRAPPER (valgrind) if
# given.
start_edgeguard() {
  local name=$1 threads=$2 cpu=$3 extra=${4:-} admin
  shift 4 || shift $#
  port[$name]=$(free_port)
  admin=$(free_port)
  admin_port[$name]=$admin
  sed -e "s/^listen:.*/listen: 127.0.0.1:${port[$name]}/" \
      -e "s/^admin_listen:.*/admin_listen: 127.0.0.1:$admin/" \
      -e "s/^threads:.*/threads: $threads/" ${extra:+-e "$extra"} \
      "$root/config/edgeguard.yaml" >"$run_dir/$name.yaml"
  $(pin "$cpu") "$@" "$edgeguard_bin" serve --config "$run_dir/$name.yaml" \
    >"$run_dir/$name.log" 2>&1 &
  pid[$name]=$!
  started+=("${pid[$name]}")
  servers+=("$name")
  wait_http "http://127.0.0.1:$admin/healthz" "${pid[$name]}" 60
}

# start_nginx NAME WORKERS CPU [WRAPPER...]: the peer with the same policy.
start_nginx() {
  local name=$1 workers=$2 cpu=$3
  shift 3
  port[$name]=$(free_port)
  mkdir -p "$run_dir/$name"
  cp "$run_dir/nginx/tailnet-admin.geo" "$run_dir/$name/" 2>/dev/null || true
  sed -e "s#@LISTEN@#127.0.0.1:${port[$name]}#" -e "s#@RUN_DIR@#$run_dir/$name#g" \
      -e "s#@WORKERS@#$workers#" -e "s#@PEER_DIR@#$root/bench/peers/nginx#g" \
      -e "s#@GEOIP_COUNTRY_DB@#${country_db:+$run_dir/$country_db}#g" \
      "$root/bench/peers/nginx/nginx.conf.in" >"$run_dir/$name.conf"
  $(pin "$cpu") "$@" nginx -e "$run_dir/$name/error.log" -p "$run_dir/$name" \
    -c "$run_dir/$name.conf" &
  pid[$name]=$!
  started+=("${pid[$name]}")
  servers+=("$name")
  wait_http "http://127.0.0.1:${port[$name]}/" "${pid[$name]}" 60
}

# start_redis CPU: a redis-server without persistence; sets redis_port and redis_pid.
start_redis() {
  redis_port=$(free_port)
  $(pin "$1") redis-server --bind 127.0.0.1 --port "$redis_port" --save "" \
    --appendonly no --dir "$run_dir" >"$run_dir/redis.log" 2>&1 &
  redis_pid=$!
  started+=("$redis_pid")
  local deadline=$((SECONDS + 10))
  until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "bench: redis-server not answering" >&2; exit 1; }
    sleep 0.05
  done
}

# The sed expression that turns the example policy's store into Redis on redis_port.
redis_store_sed() {
  echo "s/^  type: local.*/  type: redis\\n  redis: {address: 127.0.0.1:$redis_port, timeout: 20ms, on_error: local}/"
}

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

# proc_ticks PID AWK_EXPR: the sum over a process and its direct children (nginx's workers) of
# AWK_EXPR on /proc/<pid>/stat's fields after the command name ($12 utime, $13 stime).
proc_ticks() {
  local total=0 p t
  for p in "$1" $(pgrep -P "$1" || true); do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk "{print $2}") || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
# CPU time (utime + stime, clock ticks), and its kernel part.
cpu_ticks() { proc_ticks "$1" '$12 + $13'; }
sys_ticks() { proc_ticks "$1" '$13'; }
clk_tck=$(getconf CLK_TCK)

# us_per_call TICKS CALLS FORMAT: CPU ticks (clk_tck a second) spread over CALLS, in µs.
us_per_call() {
  awk -v d="$1" -v hz="$clk_tck" -v n="$2" -v f="$3" 'BEGIN { printf f, d * 1000000 / hz / n }'
}

# wrk latency like "334.00us", "5.12ms", "1.02s" -> microseconds
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /s$/) m = 1000000; else m = 1
    printf "%.0f", n * m }'
}

# wrk_requests FILE: the requests a saved wrk output says it completed.
wrk_requests() { awk '/requests in/ {print $1}' "$1"; }

# median FORMAT VALUE...: the middle value, or the mean of the two middle ones.
median() {
  local format=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v f="$format" '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf f "\n", m }'
}

# wrk's script for a load: mix or flood.
wrk_script() {
  if [[ $1 == flood ]]; then echo "$root/bench/load/flood.lua"; else echo "$root/bench/load/forwardauth_mix.lua"; fi
}
