#!/usr/bin/env bash
# What CrowdSec adds, through the binary: edgeguard on the bench mix (bench/load/forwardauth_mix.lua,
# the example policy, one thread) without CrowdSec, then as the bouncer of a real LAPI (Debian's
# crowdsec -no-cs, sqlite in a scratch directory) holding 100 000 active decisions, IPv4/IPv6
# addresses and ranges mixed (bench/README.md, "CrowdSec"). Two phases:
#   native     edgeguard as built: its memory (RSS with vs without the decisions) and the startup
#              pull (wall time from the launch to the list applied, LAPI's own answer time, and
#              the CPU edgeguard spends on it)
#   callgrind  instructions per call over a fixed sequence of calls, a figure the machine's load
#              does not move
#
#   bench/crowdsec_cost.sh [BUILD_DIR]        (default BUILD_DIR: <repo>/build/release)
#
# Environment (all optional):
#   BENCH_CALLS=20000       calls measured (the mix's first BENCH_CALLS calls, seed 42)
#   BENCH_WARMUP=5000       calls before the counters are zeroed (another seed)
#   BENCH_DECISIONS=100000  decisions in LAPI
#   BENCH_REFRESH=10s       crowdsec.refresh (the pulls during the measured window count too)
#   BENCH_ROUNDS=3          runs of each configuration, interleaved; the medians are compared
#   BENCH_PHASES="native callgrind"
#   BENCH_KEEP=1            keep the scratch directory
# Under callgrind, three configurations: `none` (no crowdsec section), `enforce` (the rule on
# every route: the few calls whose client is under a decision are denied, and skip the rest of
# the pipeline), `shadow` (`crowdsec: shadow` on every route: the same lookups, and every call
# then takes the same path as in `none`, so the two compare like for like). Only 127.0.0.1 is
# used; LAPI's port is reserved as the tests reserve theirs; everything started here is stopped
# on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$root/build/release}
calls=${BENCH_CALLS:-20000}
warmup=${BENCH_WARMUP:-5000}
decisions=${BENCH_DECISIONS:-100000}
refresh=${BENCH_REFRESH:-10s}
rounds=${BENCH_ROUNDS:-3}
edgeguard_bin=$build_dir/guard/edgeguard

for tool in valgrind callgrind_control wrk crowdsec cscli curl python3; do
  command -v "$tool" >/dev/null || { echo "crowdsec_cost.sh: $tool is required" >&2; exit 2; }
done
[[ -x "$edgeguard_bin" ]] || { echo "crowdsec_cost.sh: no binary at $edgeguard_bin" >&2; exit 2; }

run_dir=$(mktemp -d /tmp/edgeguard-crowdsec-bench.XXXXXX)
started=()
cleanup() {
  local pid
  for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    echo "scratch directory kept: $run_dir" >&2
  else
    rm -rf "$run_dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- LAPI ---------------------------------------------------------------------------------------
# LAPI cannot listen on port 0 and say which port it got. Take one the way the tests do
# (tests/support/ports.h, ports.py): below the kernel's ephemeral range, inside a block of 32
# whose lock file this script holds until it exits, so no test or bench running beside it is
# given the same port.
# Sets lapi_port; not in $(...): the lock must stay with this shell.
reserve_lapi_port() {
  local lock_dir=/tmp/edgeguard-test-ports first=20000 size=32 low blocks block i p fd
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  blocks=$(((low - first) / size))
  mkdir -p "$lock_dir"
  chmod 1777 "$lock_dir" 2>/dev/null || true
  for ((i = 0; i < blocks; i++)); do
    block=$((($$ + i) % blocks))
    exec {fd}<>"$lock_dir/$block.lock" || continue
    if flock -n "$fd"; then
      for ((p = first + block * size; p < first + (block + 1) * size; p++)); do
        if python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$p" 2>/dev/null; then
          lapi_port=$p
          return 0
        fi
      done
    fi
    exec {fd}<&-
  done
  echo "crowdsec_cost.sh: no free port block under $lock_dir" >&2
  return 1
}
reserve_lapi_port
lapi=$run_dir/lapi
mkdir -p "$lapi/data" "$lapi/hub" "$lapi/notifications"
cat >"$lapi/config.yaml" <<EOF
common: {daemonize: false, log_media: stdout, log_level: warning}
config_paths:
  config_dir: $lapi/
  data_dir: $lapi/data/
  simulation_path: $lapi/simulation.yaml
  hub_dir: $lapi/hub/
  index_path: $lapi/hub/.index.json
  notification_dir: $lapi/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service: {acquisition_path: $lapi/acquis.yaml}
db_config: {log_level: warning, type: sqlite, db_path: $lapi/data/crowdsec.db, use_wal: true}
api:
  client: {credentials_path: $lapi/local_api_credentials.yaml}
  server: {log_level: warning, listen_uri: "127.0.0.1:$lapi_port", profiles_path: $lapi/profiles.yaml}
prometheus: {enabled: false}
EOF
echo "simulation: off" >"$lapi/simulation.yaml"
: >"$lapi/acquis.yaml"
printf 'name: default\nfilters: ["Alert.Remediation == true"]\ndecisions: [{type: ban, duration: 4h}]\non_success: break\n' \
  >"$lapi/profiles.yaml"
cscli() { command cscli -c "$lapi/config.yaml" --error "$@"; }
cscli machines add cscli --auto -f "$lapi/local_api_credentials.yaml" >/dev/null
crowdsec -c "$lapi/config.yaml" -no-cs >"$lapi/lapi.log" 2>&1 &
started+=("$!")
deadline=$((SECONDS + 30))
until curl -sf -o /dev/null "http://127.0.0.1:$lapi_port/health"; do
  ((SECONDS < deadline)) || { echo "LAPI did not come up:" >&2; tail "$lapi/lapi.log" >&2; exit 1; }
  sleep 0.1
done
cscli bouncers add edgeguard-bench -o raw >"$run_dir/crowdsec-key"

# The decisions, as micro_bench's BM_CrowdsecLookup draws them: 70 % IPv4 addresses, 10 % IPv6
# addresses, 15 % IPv4 ranges /16-/28, 5 % IPv6 ranges /32-/64, spread over the whole space.
python3 - "$decisions" "$run_dir" <<'EOF'
import ipaddress, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(14)
files = {s: open("%s/%s.csv" % (out, s), "w") for s in ("ip", "range")}
for f in files.values():
    print("duration,value,reason,type", file=f)
def v4():
    while True:
        a = rng.randrange(1, 224)
        if a not in (10, 100, 127, 172, 192):
            return (a << 24) | rng.getrandbits(24)
for i in range(n):
    r = rng.random()
    kind = "captcha" if rng.random() < 0.05 else "ban"
    reason = "crowdsecurity/scenario-%d" % rng.randrange(20)
    if r < 0.70:
        value, scope = str(ipaddress.IPv4Address(v4())), "ip"
    elif r < 0.80:
        value, scope = str(ipaddress.IPv6Address((0x2a0 << 116) | rng.getrandbits(116))), "ip"
    elif r < 0.95:
        p = rng.randrange(16, 29)
        value, scope = str(ipaddress.IPv4Network((v4() >> (32 - p) << (32 - p), p))), "range"
    else:
        p = rng.randrange(32, 65)
        net = ((0x2a0 << 116) | rng.getrandbits(116)) >> (128 - p) << (128 - p)
        value, scope = str(ipaddress.IPv6Network((net, p))), "range"
    print("%dh,%s,%s,%s" % (rng.randrange(24, 168), value, reason, kind), file=files[scope])
EOF
import_start=$SECONDS
# cscli 1.4.6 gives every row the --scope of the command line (default Ip), whatever the file
# says: one file per scope.
cscli decisions import -i "$run_dir/ip.csv" --scope Ip >/dev/null
cscli decisions import -i "$run_dir/range.csv" --scope Range >/dev/null
echo "LAPI: $decisions decisions imported in $((SECONDS - import_start)) s"
# A key of its own for curl: the stream's "since the last pull" is kept per key.
cscli bouncers add edgeguard-curl -o raw >"$run_dir/curl-key"
curl -s -o "$run_dir/startup.json" -w "LAPI: a startup pull answered in %{time_total} s, %{size_download} bytes\n" \
  -H "X-Api-Key: $(cat "$run_dir/curl-key")" \
  "http://127.0.0.1:$lapi_port/v1/decisions/stream?startup=true&scopes=ip,range"

# --- edgeguard ------------------------------------------------------------------------------------
country_db=$(sed -n 's/^geoip:.*country_db: *\([^,} ]*\).*/\1/p' "$root/config/edgeguard.yaml")
nodes_file=$(sed -n 's/^ *nodes:.*file: *\([^,} ]*\).*/\1/p' "$root/config/edgeguard.yaml")
mkdir -p "$(dirname "$run_dir/$country_db")"
cp "$root/tests/data/maxmind/GeoIP2-Country-Test.mmdb" "$run_dir/$country_db"
cp "$root/config/$nodes_file" "$run_dir/$nodes_file"

# policy MODE: the example policy on port 0, one thread; MODE none | enforce | shadow.
policy() {
  local mode=$1
  local args=(-e "s/^listen:.*/listen: 127.0.0.1:0/" -e "s/^admin_listen:.*/admin_listen: 127.0.0.1:0/"
              -e "s/^threads:.*/threads: 1/")
  [[ $mode == shadow ]] && args+=(-e 's/^\(  - name: .*\)$/\1\n    crowdsec: shadow/')
  sed "${args[@]}" "$root/config/edgeguard.yaml" >"$run_dir/$mode.yaml"
  if [[ $mode != none ]]; then
    cat >>"$run_dir/$mode.yaml" <<EOF
crowdsec:
  lapi: http://127.0.0.1:$lapi_port
  api_key_file: crowdsec-key
  refresh: $refresh
  scopes: [ip, range]
EOF
  fi
}

# The mix, one connection, ended after exactly N answers (os.exit: wrk's main thread would
# otherwise sleep out its -d even after the thread stops).
cat >"$run_dir/counted.lua" <<EOF
dofile("$root/bench/load/forwardauth_mix.lua")
local limit, seen = tonumber(os.getenv("EG_CALLS")), 0
function response(status, headers, body)
  seen = seen + 1
  if seen >= limit then os.exit(0) end
end
EOF
drive() {  # drive PORT SEED CALLS
  EG_CALLS=$3 wrk -t1 -c1 -d3600s -s "$run_dir/counted.lua" "http://127.0.0.1:$1/" \
    -- "seed=$2" "calls=$3" >>"$run_dir/wrk.log" 2>&1
}
metric_sum() {  # metric_sum ADMIN_PORT REGEX: the sum of the matching samples
  curl -s "http://127.0.0.1:$1/metrics" | awk -v re="$2" '$0 ~ re {s += $NF} END {print s + 0}'
}

# serve MODE LOG [WRAPPER...]: edgeguard serve on MODE's policy under WRAPPER, in the background;
# sets pid, port and admin once it has logged `started` (after its first pull, or after the 5 s it
# waits for one), and launched_ms (the wall clock just before the launch).
serve() {
  local mode=$1 log=$2 line deadline
  shift 2
  policy "$mode"
  launched_ms=$(date +%s%3N)
  "$@" "$edgeguard_bin" serve --config "$run_dir/$mode.yaml" >"$log" 2>"$log.err" &
  pid=$!
  started+=("$pid")
  deadline=$((SECONDS + 300))
  until grep -q '"event":"started"' "$log" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { echo "edgeguard ($mode) exited:" >&2; cat "$log.err" >&2; exit 1; }
    ((SECONDS < deadline)) || { echo "edgeguard ($mode) did not start" >&2; exit 1; }
    sleep 0.05
  done
  line=$(grep '"event":"started"' "$log" | head -1)
  port=$(sed 's/.*"port":\([0-9]*\).*/\1/' <<<"$line")
  admin=$(sed 's/.*"admin_port":\([0-9]*\).*/\1/' <<<"$line")
}
# wait_held MODE SECONDS: until the first pull has been applied (the startup answer of 100 000
# decisions can outlast serve's 5 s wait for it; serve then starts with an empty list).
wait_held() {
  local deadline=$((SECONDS + $2))
  until (( $(metric_sum "$admin" '^edgeguard_crowdsec_pulls_total[{]result="ok"') >= 1 )); do
    ((SECONDS < deadline)) || { echo "edgeguard ($1) never held the decisions" >&2; exit 1; }
    sleep 0.05
  done
}
stop_serve() {
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
}
log_ms() {  # log_ms LOG EVENT: the wall clock (ms) of EVENT's first line in LOG
  date -d "$(grep -m1 "\"event\":\"$2\"" "$1" | sed 's/^{"ts":"\([^"]*\)".*/\1/')" +%s%3N
}
cpu_ms() {  # CPU time (ms) of every thread of pid so far (schedstat: ns on a CPU)
  cat /proc/"$pid"/task/*/schedstat | awk '{s += $1} END {printf "%d", s / 1e6}'
}
clk_tck=$(getconf CLK_TCK)
stat_field() {  # stat_field N: field N of /proc/pid/stat (14 utime, 15 stime: ms; 10 minflt)
  awk -v n="$1" -v hz="$clk_tck" '{print (n == 14 || n == 15) ? $n * 1000 / hz : $n}' /proc/"$pid"/stat
}
status_kb() {  # status_kb FIELD: a field of /proc/pid/status, in kB
  awk -v f="$1:" '$1 == f {print $2}' /proc/"$pid"/status
}

phases=${BENCH_PHASES:-native callgrind}

# --- native: memory, and the startup pull's time ----------------------------------------------
# edgeguard as built, without CrowdSec and then with it. Memory is read after the first pull and
# the warm-up calls (the buckets and connection buffers are in both); the startup pull is timed
# on the wall clock from the launch to edgeguard's `crowdsec_pulled` line, and in CPU time: the
# process's CPU when the decisions are held, against the CPU at `started` without CrowdSec.
if [[ " $phases " == *" native "* ]]; then
  echo "native runs; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  declare -A nat
  for round in $(seq "$rounds"); do
    answer=$(curl -s -o /dev/null -w '%{time_total}' -H "X-Api-Key: $(cat "$run_dir/curl-key")" \
      "http://127.0.0.1:$lapi_port/v1/decisions/stream?startup=true&scopes=ip,range")
    nat[answer]="${nat[answer]:-} $(awk -v t="$answer" 'BEGIN {printf "%d", t * 1000}')"
    for mode in none enforce; do
      log=$run_dir/native-$mode.$round.log
      serve "$mode" "$log"
      if [[ $mode == none ]]; then
        cpu=$(cpu_ms) user=$(stat_field 14) sys=$(stat_field 15) faults=$(stat_field 10)
        wall=$(( $(log_ms "$log" started) - launched_ms ))
      else
        wait_held "$mode" 120
        cpu=$(cpu_ms) user=$(stat_field 14) sys=$(stat_field 15) faults=$(stat_field 10)
        wall=$(( $(log_ms "$log" crowdsec_pulled) - launched_ms ))
        if grep -q '"event":"crowdsec_first_pull_failed"' "$log"; then
          wall="$wall (after serve's 5 s wait)"
        fi
      fi
      held=$(metric_sum "$admin" '^edgeguard_crowdsec_decisions ')
      drive "$port" 7 "$warmup"
      rss=$(status_kb VmRSS) anon=$(status_kb RssAnon) hwm=$(status_kb VmHWM)
      # What of RssAnon is live heap and what glibc keeps after the pull freed it: the same
      # reading after malloc_trim(0) in the process (gdb; skipped without it).
      trimmed=-
      if command -v gdb >/dev/null &&
        gdb -p "$pid" -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1; then
        trimmed=$(status_kb RssAnon)
        nat[$mode.trimmed]="${nat[$mode.trimmed]:-} $trimmed"
      fi
      stop_serve
      nat[$mode.cpu]="${nat[$mode.cpu]:-} $cpu"
      nat[$mode.anon]="${nat[$mode.anon]:-} $anon"
      nat[$mode.rss]="${nat[$mode.rss]:-} $rss"
      nat[$mode.hwm]="${nat[$mode.hwm]:-} $hwm"
      printf 'round %s %-8s decisions held %6s  launch to %-15s %6s ms wall  CPU %5s ms (user %s, system %s; %s page faults)  VmRSS %6s kB  RssAnon %6s kB (%s after malloc_trim)  VmHWM %6s kB  (LAPI answered in %s s)\n' \
        "$round" "$mode" "$held" "$([[ $mode == none ]] && echo started || echo crowdsec_pulled)" \
        "$wall" "$cpu" "$user" "$sys" "$faults" "$rss" "$anon" "$trimmed" "$hwm" "$answer"
    done
  done
  python3 - "${nat[answer]}" "${nat[none.cpu]}" "${nat[enforce.cpu]}" "${nat[none.anon]}" \
    "${nat[enforce.anon]}" "${nat[none.rss]}" "${nat[enforce.rss]}" "${nat[none.hwm]}" \
    "${nat[enforce.hwm]}" "$decisions" "${nat[none.trimmed]:-}" "${nat[enforce.trimmed]:-}" <<'EOF'
import statistics, sys
m = [statistics.median(map(int, a.split())) for a in sys.argv[1:10]]
answer, cpu0, cpu1, anon0, anon1, rss0, rss1, hwm0, hwm1 = m
n = int(sys.argv[10])
print("medians: LAPI's startup answer %.0f ms; edgeguard's CPU for the startup pull %.0f ms "
      "(%.0f with CrowdSec at the list held, %.0f without at started)" % (answer, cpu1 - cpu0, cpu1, cpu0))
print("medians: RssAnon %.1f MB more with the decisions (%.1f vs %.1f MB, %.0f bytes per decision); "
      "VmRSS %.1f vs %.1f MB; peak (VmHWM) %.1f vs %.1f MB" % (
      (anon1 - anon0) / 1024, anon1 / 1024, anon0 / 1024, (anon1 - anon0) * 1024 / n,
      rss1 / 1024, rss0 / 1024, hwm1 / 1024, hwm0 / 1024))
if sys.argv[11].strip() and sys.argv[12].strip():
    t0, t1 = (statistics.median(map(int, a.split())) for a in sys.argv[11:13])
    print("medians after malloc_trim(0): RssAnon %.1f MB more (%.1f vs %.1f MB, %.0f bytes per decision)" % (
          (t1 - t0) / 1024, t1 / 1024, t0 / 1024, (t1 - t0) * 1024 / n))
EOF
  echo "load average after the native runs: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

# --- callgrind: instructions per call -----------------------------------------------------------
if [[ " $phases " == *" callgrind "* ]]; then
declare -A ir
for round in $(seq "$rounds"); do
for mode in none enforce shadow; do
  out=$run_dir/$mode.$round.callgrind
  log=$run_dir/$mode.$round.log  # one per run: an earlier run's `started` line must not count
  serve "$mode" "$log" valgrind --tool=callgrind --callgrind-out-file="$out"
  [[ $mode != none ]] && wait_held "$mode" 600
  held=$(metric_sum "$admin" '^edgeguard_crowdsec_decisions ')
  drive "$port" 7 "$warmup"
  callgrind_control -z "$pid" >/dev/null 2>&1
  pulls_before=$(metric_sum "$admin" '^edgeguard_crowdsec_pulls_total')
  drive "$port" 42 "$calls"
  callgrind_control -d "$pid" >/dev/null 2>&1
  pulls=$(( $(metric_sum "$admin" '^edgeguard_crowdsec_pulls_total') - pulls_before ))
  denied=$(metric_sum "$admin" 'edgeguard_decisions_total[{].*reason="crowdsec"')
  stop_serve
  # The dump after -z holds the measured window only (the last part file).
  part=$(ls -t "$out".* | head -1)
  total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p;s/^summary: *\([0-9]*\).*/\1/p' "$part" | head -1)
  ir[$mode]="${ir[$mode]:-} $total"
  printf 'round %s %-8s decisions held %6s  instructions/call %7d  pulls in window %s  crowdsec verdicts %s\n' \
    "$round" "$mode" "$held" $((total / calls)) "$pulls" "$denied"
done
done
python3 - "$calls" "${ir[none]}" "${ir[enforce]}" "${ir[shadow]}" <<'EOF'
import statistics, sys
calls = int(sys.argv[1])
none, enforce, shadow = (statistics.median(map(int, a.split())) / calls for a in sys.argv[2:])
print("medians, instructions per call: none %.0f, enforce %.0f (%+.2f %%), shadow %.0f (%+.2f %%)" % (
    none, enforce, 100.0 * (enforce - none) / none, shadow, 100.0 * (shadow - none) / none))
EOF
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (callgrind counts instructions: load does not change them)"
fi
