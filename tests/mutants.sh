#!/usr/bin/env bash
# Planted bugs the tests must catch. Each mutant below is one plausible mistake: a line of the
# product changed in a scratch copy of the tree, built (Release, ccache, only the targets it
# needs) and run against the tests that claim to catch it. The run fails if any mutant survives
# (its tests still pass), if a mutant's line is not found exactly once (the code moved: update
# the table), or if those tests fail before any mutant is planted (they would prove nothing).
#
#   tests/mutants.sh                      # every mutant
#   tests/mutants.sh deny-cache sighup    # only these (by name)
#   MUTANTS_DIR=/tmp/m JOBS=2 tests/mutants.sh
#
# The scratch copy lives in build/mutants/src (the working tree minus .git and build dirs, copied
# afresh each run with the files' times kept, so an unchanged file is not rebuilt) and builds in
# build/mutants/build; the working tree is never touched.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${MUTANTS_DIR:-$root/build/mutants}
jobs=${JOBS:-$(nproc)}
src=$work/src
build=$work/build
start=$SECONDS

# ---- the mutants -------------------------------------------------------------------------
# mutant NAME FILE 'LINE TEXT' 'REPLACEMENT' 'TARGETS' 'CTEST REGEX'
# The line text is matched literally and must occur exactly once in FILE; the replacement must
# still compile under -Werror (a parameter or function it leaves unused fails the build). TARGETS are built
# (edgeguard is always built: most tests start the binary). A parameterised test's ctest name
# ends in "  # GetParam() = ...": end its regex with the two spaces, not with $.
names=() files=() froms=() tos=() targets=() regexes=()
mutant() {
  names+=("$1") files+=("$2") froms+=("$3") tos+=("$4") targets+=("$5") regexes+=("$6")
}

# Issue 19's table: five that survived the suite of the time, then five it already killed.
mutant deny-cache-until-reset guard/redis/redis_limit_store.cpp \
  '{req->now_ns + out.retry_after_ns, req->now_ns + out.reset_ns},' \
  '{req->now_ns + out.reset_ns, req->now_ns + out.reset_ns},' \
  redis_tests '^RedisDenyCache\.'
mutant sighup-does-nothing guard/cli/serve_command.cpp \
  'service->reload_config(&why);' \
  '(void)why;' \
  reload_tests '^Reload\.SighupAppliesAChangeTheFilePollCannotSee$'
# Explain's own `/*dry_run=*/true` is an equivalent mutant in one process: its buckets are
# fresh and die with it (tests/e2e/explain_e2e_test.cpp says why, and checks that explain never
# touches Redis). The dry run it relies on is the pipeline's:
mutant explain-charges-tokens guard/pipeline/pipeline.cpp \
  'complete(store.try_admit(calls(), now_ns, dry_run).value_or(LimitOutcome{}), trace);' \
  'complete(store.try_admit(calls(), now_ns, dry_run && false).value_or(LimitOutcome{}), trace);' \
  unit_tests '^PipelineDryRun\.'
mutant restart-setting-never-refused guard/service/service.cpp \
  'setting = restart_setting_change(snapshot()->policy->settings, load.policy->settings);' \
  'setting.clear();' \
  settings_reload_tests '^Settings/RefusedSetting\..*/(listen|threads|store_type)  '
mutant near-limit-strict guard/core/decide.cpp \
  'outcome.remaining * 5 <= nearest->rate.burst;' \
  'outcome.remaining * 5 < nearest->rate.burst;' \
  e2e_tests '^MetricsE2e\.ValuesCountWhatHappened$'
mutant gcra-tolerance-strict guard/limit/gcra.h \
  'if (ahead <= rate.tolerance_ns) {' \
  'if (ahead < rate.tolerance_ns) {' \
  unit_tests '^Gcra\.'
mutant xff-depth-off-by-one guard/request/client_ip.cpp \
  'if (i == strategy.depth) {' \
  'if (i == strategy.depth + 1) {' \
  unit_tests '^ClientIp\.'
mutant dot-dot-does-not-climb guard/request/path_normalize.cpp \
  'if (seg == "..") {' \
  'if (false) {' \
  'unit_tests bypass_tests' '^(PathNormalize|Bypass)\.'
mutant local-store-charges-on-deny guard/store/local_store.cpp \
  'if (out.allowed && !dry_run) {' \
  'if (!dry_run) {' \
  unit_tests '^LocalStore\.DenialByOneLimitChargesNoOther$'
mutant deny-cache-never-expires guard/redis/deny_cache.cpp \
  'if (it->second.until_ns <= now_ns) {' \
  'if (it->second.until_ns <= now_ns && false) {' \
  redis_tests '^(DenyCache|RedisDenyCache)\.'

# One per feature since.
mutant replay-charges-nothing guard/replay/replay.cpp \
  'const Decision& d = pipeline_.decide(*snapshot_, parsed.request, now, *store_, false);' \
  'const Decision& d = pipeline_.decide(*snapshot_, parsed.request, now, *store_, true);' \
  e2e_tests '^SameVerdict\.'
mutant ban-exemption-ignored guard/core/decide.cpp \
  '!policy.bans.exempt.contains(ip);' \
  'true;' \
  e2e_tests '^BansE2e\.AnExempt'
mutant ban-escalation-off guard/bans/ban.cpp \
  'if (n <= 1) return std::min(for_ns, e.max_ns);' \
  'return std::min(for_ns, e.max_ns);' \
  e2e_tests '^BansEscalationE2e\.'
mutant crowdsec-expiry-ignored guard/crowdsec/decision_set.cpp \
  'if (it->active(now_ns)) return it;' \
  'if (it->active(now_ns) || true) return it;' \
  crowdsec_tests '^CrowdsecDecisionSet\.ExpiryIsHonouredBetweenPulls$'
mutant login-success-keeps-failures guard/failures/failure_recorder.cpp \
  'store_.reset(charge->calls.view());' \
  ';' \
  e2e_tests '^FailuresE2e\.ALoginThatWorksForgetsTheAccountsFailures$'
mutant username-case-sensitive guard/request/login_name.cpp \
  'out[i] = ascii_lower(out[i]);' \
  'out[i] = static_cast<char>(c);' \
  e2e_tests '^(FailuresE2e\.AnAccountAttacked|LockoutExample\.AnAccountTried)'
# explain --admin: the instance's bans are loaded (on the table's clock) and shown, and a
# refused token prints no verdict; the ban storm alert counts no manual ban.
mutant explain-loads-no-ban guard/cli/explain_command.cpp \
  'if (table.insert(std::move(ban), now)) ++out->held;' \
  '(void)table, ++out->held;' \
  e2e_tests '^ExplainBansE2e\.'
mutant explain-ban-on-unix-clock guard/cli/explain_command.cpp \
  'ban.until_ns += to_monotonic;' \
  '(void)to_monotonic;' \
  e2e_tests '^ExplainBansE2e\.ABanMadeByRequests'
mutant explain-reads-a-refusal-as-bans guard/cli/explain_command.cpp \
  'if (reply->status != 200) {' \
  'if (reply->status >= 500) {' \
  e2e_tests '^ExplainBansE2e\.AWrongToken'
mutant ban-key-ignores-tail guard/text/seeded_hash.cpp \
  'std::memcpy(&last, p + n - 4, 4);' \
  'std::memcpy(&last, p, 4);' \
  unit_tests '^(BanTable\.KeysDiffer|SeededHash\.AnyOneByte)'
mutant hash-ignores-length guard/text/seeded_hash.cpp \
  'std::uint64_t h = mix(seed ^ (text.size() * 0x9e3779b97f4a7c15ULL));' \
  'std::uint64_t h = mix(seed);' \
  unit_tests '^SeededHash\.TheLengthCounts$'
mutant ban-lookup-unbounded guard/bans/ban_table.cpp \
  'for (std::size_t i = key & mask_; probes < probe_limit(); i = (i + 1) & mask_) {' \
  'for (std::size_t i = key & mask_; probes <= mask_; i = (i + 1) & mask_) {' \
  unit_tests '^BanTable\.ChurnLeaves'
mutant ban-storm-counts-manual deploy/prometheus/alerts.yml \
  '60 * sum by (route) (rate(edgeguard_bans_total{source!="manual"}[5m])) > 10' \
  '60 * sum by (route) (rate(edgeguard_bans_total[5m])) > 10' \
  '' '^deploy\.promtool_test_rules$'
mutant ban-storm-per-replica deploy/prometheus/alerts.yml \
  '60 * sum by (route) (rate(edgeguard_bans_total{source!="manual"}[5m])) > 10' \
  '60 * sum by (route, instance) (rate(edgeguard_bans_total{source!="manual"}[5m])) > 10' \
  '' '^deploy\.promtool_test_rules$'

# The Redis transport reads each readiness edge to the end (hiredis reads 16 KB per call): read
# once per edge, and a long reply, or the end of a connection after its last reply, stalls.
mutant redis-read-once-per-edge guard/redis/hiredis_asio.cpp \
  "    } while (ac_ != nullptr && want_read_ && may_hold_more());" \
  "    } while (false && may_hold_more());" \
  redis_tests '^RedisConnectionTest\.(AReplyLargerThanOneRead|TheEndOfTheConnectionAfterAMessage)'

# Bans in Redis (issue 12; issues 13 and 17 across replicas).
# The limit script builds the bans' library only for a denial with a ban order (issue 16): a
# call that got no ban_order from it would deny without banning.
mutant redis-limit-script-bans-nothing guard/redis/gcra_script.cpp \
  "      local ban_order = ban_library()" \
  "      local ban_order = function() return {0, 0, 0} end" \
  redis_tests '^RedisStoreBansTest\.TheDenialBansInOneRoundTrip'
mutant redis-ban-not-published guard/redis/ban_script.cpp \
  "redis.call('PUBLISH', channel, 'ban ' .. num(dur_ns) .. ' ' .. value)" \
  "local unpublished = value" \
  e2e_tests '^RedisBansE2e\.ABanMadeOnOneReplica'
mutant redis-unban-not-published guard/redis/ban_script.cpp \
  "redis.call('PUBLISH', channel, 'unban ' .. subject)" \
  "local unpublished = subject" \
  e2e_tests '^RedisBansE2e\.AnUnban'
mutant redis-escalation-forgotten guard/redis/ban_script.cpp \
  "n = (tonumber(redis.call('HGET', counts, subject)) or 0) + 1" \
  "n = 1" \
  e2e_tests '^RedisBansEscalationE2e\.'
mutant redis-ban-in-force-remade guard/redis/ban_script.cpp \
  'if left > 0 then return {2, left * 1000000, count} end' \
  'if left < 0 then return {2, left * 1000000, count} end' \
  redis_tests '^RedisStoreBansTest\.ABanInForce'
mutant redis-no-resync-on-subscribe guard/redis/redis_ban_sync.cpp \
  'resync();  // what was published while nobody here listened' \
  ';' \
  e2e_tests '^RedisBansLateReplicaE2e\.'
mutant redis-fallback-ban-cut-short guard/redis/ban_mirror.cpp \
  'if (held && held->confirmed_ns == 0 && held->until_ns > now_ns) {' \
  'if (held && held->confirmed_ns == 0 && held->until_ns > now_ns && false) {' \
  redis_tests '^RedisBanMirror\.TheFallbacksOwnBan'
mutant redis-failure-ban-not-held guard/cli/store_wiring.cpp \
  'impl_->maintenance, impl_->redis, &impl_->service.local_store(), impl_->mirror.get());' \
  'impl_->maintenance, impl_->redis, &impl_->service.local_store(), nullptr);' \
  e2e_tests '^RedisBansFailuresE2e\.'

# The missing paths issue 19 listed, each with its planted bug.
mutant redirects-uncapped guard/redis/redis_limit_store.cpp \
  'if (routing_ && group.redirects < kMaxRedirects) {' \
  'if (routing_) {' \
  e2e_tests '^RedisLifecycleE2e\.ARedirectLoop'
mutant drain-keeps-store-waiters-alive guard/server/session.cpp \
  'if (self->worker_.draining() && self->keep_alive_) {' \
  'if (false) {' \
  e2e_tests '^RedisLifecycleE2e\.SigtermWith'
mutant admin-stays-open-on-drain guard/cli/serve_command.cpp \
  'admin.close();' \
  ';' \
  server_tests '^Admin\.OnSigterm'
mutant admin-takes-any-method guard/admin/admin_router.cpp \
  'return endpoint == request || (endpoint == http::verb::get && request == http::verb::head);' \
  'return endpoint == request || endpoint != request;' \
  server_tests '^Admin\.'
mutant missing-geoip-ignored guard/service/service.cpp \
  'if (!geo_->load(error)) return false;' \
  '(void)geo_->load(error);' \
  server_tests '^Startup\.MissingGeoip'
mutant listen-name-accepted guard/config/settings_reader.cpp \
  'if (!any && !IpAddress::parse(host)) {' \
  'if (!any && host.empty()) {' \
  server_tests '^Startup\.AListenAddress'
mutant bad-request-just-closes guard/server/session.cpp \
  'write_protocol_error(buffers_->out, status, detail);' \
  '(void)detail;' \
  server_tests '^ServerTest\.AbsurdInput'

# Issue 12 (bans), added by the lead.
mutant removed-route-bans-linger guard/service/service.cpp \
  'lapse_bans_of_removed_routes(*previous, *load.policy);' \
  '(void)previous;' \
  e2e_tests '^BansE2e\.ABanOnARouteAReloadRemovesLapses'
# Bans under a flood of distinct offenders (tests/hardening): the table's bound, the offence
# log's bound, and a lookup that reads the whole index once every slot has been used. (An
# unbounded table also fails BanMemoryBound, but only at its 300 s timeout: every lookup scans.)
mutant ban-table-unbounded guard/bans/ban_table.cpp \
  'if (!records_.contains(key) && records_.size() >= max_active_ &&' \
  'if (!records_.contains(key) && false &&' \
  ban_flood_tests '^BanFlood\.'
mutant offence-log-unbounded guard/bans/offence_log.cpp \
  'if (entries_.size() >= max_subjects_) make_room(now_ns, memory_ns);' \
  'if (false) make_room(now_ns, memory_ns);' \
  memory_bound_tests '^BanMemoryBound\.'
# Memory per connection (issue 17): what an idle, slow or silent connection holds, and whether
# it leaves once they close; timeouts of slow clients on new and kept connections.
mutant idle-keeps-request-buffers guard/server/session.cpp \
  'give_back_buffers();  // an idle connection holds none of them' \
  ';' \
  server_tests '^ScaleTest\.AnIdleConnection'
mutant sessions-in-malloc guard/server/worker.cpp \
  'std::allocate_shared<Session>(SessionSlab::Allocator<Session>(session_slab_), *this, fd,' \
  'std::allocate_shared<Session>(std::allocator<Session>(), *this, fd,' \
  server_tests '^ScaleTest\.AnIdleConnection'
# Issue 16's follow-up: a recycled EVALSHA argv, ban section included, allocates nothing.
mutant redis-argv-shrinks guard/redis/gcra_call.cpp \
  'if (argv.size() < argc) argv.resize(argc);' \
  'argv.resize(argc);' \
  redis_alloc_tests '^GcraArgvAlloc\.'
mutant partial-first-read-keeps-buffers guard/server/session.cpp \
  'if (request_start && !first_bytes_need_buffers(buffers_->read_buf(), read_len_, 0)) {' \
  'if (false) {' \
  server_tests '^ScaleTest\.ASlowClient'
mutant partial-header-takes-buffers guard/server/session.cpp \
  'if (!first_bytes_need_buffers(first_.data(), first_len_, from)) {' \
  'if (!first_bytes_need_buffers(first_.data(), first_len_, from) && false) {' \
  server_tests '^ScaleTest\.ASlowClient'
mutant silent-connection-keeps-buffers guard/server/session.cpp \
  'if (buffers_ && read_len_ == 0 && !buffers_->parser) give_back_buffers();' \
  ';' \
  server_tests '^ScaleTest\.ASilentConnection'
mutant refused-bytes-wait-for-timeout guard/server/session.cpp \
  'return ec != boost::beast::http::error::need_more;' \
  'return false;' \
  server_tests '^ServerTest\.RefusedFirstBytes'
mutant slow-request-gets-idle-timeout guard/server/session.cpp \
  'if (timer_armed_ && timer_.expiry().time_since_epoch() > std::chrono::nanoseconds(deadline_)) {' \
  'if (false) {' \
  server_tests '^ServerTest\.AKeepAliveConnectionThatStartsASlowRequest'
mutant json-word-search-misses-quote guard/text/json_string.h \
  "swar::below_or_del(w, 0x20) | swar::equal_to(w, '\"') | swar::equal_to(w, '\\\\');" \
  "swar::below_or_del(w, 0x20) | swar::equal_to(w, '\\\\');" \
  unit_tests '^JsonString\.EveryByte'
mutant json-bound-short-of-worst-case guard/text/json_string.h \
  'return 2 + 6 * n;' \
  'return 2 + 5 * n;' \
  unit_tests '^JsonString\.TheWorstCase'
mutant text-without-controls-last-word-unchecked guard/text/sized_text.h \
  'return swar::below_or_del(swar::load8(p + n - 8), 0x20) != 0;' \
  'return false;' \
  unit_tests '^SizedText\.TextWithoutControlsLosesThemAnywhere$'
mutant header-value-keeps-controls guard/text/sized_text.h \
  'if (u >= 0x20 && u != 0x7f) *out++ = c;' \
  'if (u != 0x7f) *out++ = c;' \
  unit_tests '^Response\.AnEnrolledNodesIdentityCannotSplitTheResponse$'
mutant number-count-short guard/text/sized_text.h \
  'void number(std::int64_t) { size_ += kNumberBytes; }' \
  'void number(std::int64_t) { size_ += 19; }' \
  unit_tests '^SizedText\.EachPieceWritesNoMoreThanItCounted$'
mutant name-compare-skips-last-word guard/text/swar.h \
  'return lower_ascii(load8(a.data() + n - 8)) == load8(lower.data() + n - 8);' \
  'return true;' \
  unit_tests '^SwarIequalsLower\.'
mutant ban-index-half-full guard/bans/ban_table.cpp \
  'mask_(std::bit_ceil(std::max<std::size_t>(16, max_active_ * 4)) - 1),' \
  'mask_(std::bit_ceil(std::max<std::size_t>(16, max_active_ * 2)) - 1),' \
  unit_tests '^BanTable\.AFloodOfNewOffenders'
mutant rfc3339-february-in-the-wrong-year guard/text/rfc3339.cpp \
  'const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2);' \
  'const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month < 2);' \
  unit_tests '^Rfc3339\.'
mutant name-compare-folds-high-bytes guard/text/swar.h \
  'const std::uint64_t capital = at_least_a & ~above_z & ~w & kHighs;  // and below 0x80' \
  'const std::uint64_t capital = at_least_a & ~above_z & kHighs;' \
  unit_tests '^Swar'

# ---- running them ------------------------------------------------------------------------
selected=("$@")
chosen=()
for i in "${!names[@]}"; do
  if [ ${#selected[@]} -eq 0 ] || printf '%s\n' "${selected[@]}" | grep -qx "${names[$i]}"; then
    chosen+=("$i")
  fi
done
[ ${#chosen[@]} -gt 0 ] || { echo "no mutant named: ${selected[*]}" >&2; exit 2; }

# A fresh copy with the files' times kept; the files mutants touch get a new time, so an object
# left built from a mutant by an interrupted run is rebuilt.
echo "=== mutants: copying the tree to $src"
rm -rf "$src" && mkdir -p "$src"
tar -C "$root" --exclude=./.git --exclude=./build --exclude='./build-*' -cf - . | tar -C "$src" -xf -
for i in "${chosen[@]}"; do touch "$src/${files[$i]}"; done

cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGEGUARD_BENCH=OFF \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
export CCACHE_BASEDIR=$src  # the same paths every run: the copy's objects come from the cache

# Applies mutant i to the copy (python: a literal, exactly-once replacement).
apply() {
  python3 - "$src/${files[$1]}" "${froms[$1]}" "${tos[$1]}" <<'EOF'
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
n = text.count(old)
if n != 1:
    sys.exit(f"{path}: the mutant's line occurs {n} times (want 1): {old}")
open(path, "w").write(text.replace(old, new))
EOF
}
restore() { cp "$root/${files[$1]}" "$src/${files[$1]}"; }  # a new mtime: rebuilt next time

all_targets=(edgeguard)
for i in "${chosen[@]}"; do
  # Check every line is there before building anything.
  apply "$i" && restore "$i"
  for t in ${targets[$i]}; do all_targets+=("$t"); done
done
mapfile -t all_targets < <(printf '%s\n' "${all_targets[@]}" | sort -u)

echo "=== mutants: baseline build (${all_targets[*]})"
nice ninja -C "$build" -j"$jobs" "${all_targets[@]}" >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log"; exit 1; }
baseline_start=$SECONDS
for i in "${chosen[@]}"; do
  if ! ctest --test-dir "$build" -R "${regexes[$i]}" -j"$jobs" --no-tests=error --timeout 300 \
      >"$work/baseline-${names[$i]}.log" 2>&1; then
    echo "baseline: the tests of '${names[$i]}' fail without any mutant:" >&2
    tail -30 "$work/baseline-${names[$i]}.log" >&2
    exit 1
  fi
done
echo "baseline: every mutant's tests pass unmutated ($((SECONDS - baseline_start)) s)"

results=()
survived=0
for i in "${chosen[@]}"; do
  name=${names[$i]}
  t0=$SECONDS
  apply "$i"
  log=$work/mutant-$name.log
  status=killed
  # shellcheck disable=SC2086  # targets is a word list
  if ! nice ninja -C "$build" -j"$jobs" edgeguard ${targets[$i]} >"$log" 2>&1; then
    status="build failed"  # a mutant that does not compile proves nothing: fix the table
  elif ctest --test-dir "$build" -R "${regexes[$i]}" -j"$jobs" --timeout 300 \
      --output-on-failure >>"$log" 2>&1; then
    status=SURVIVED
  fi
  restore "$i"
  [ "$status" = killed ] || survived=$((survived + 1))
  results+=("$(printf '%-32s %-13s %4d s  %s' "$name" "$status" $((SECONDS - t0)) "${regexes[$i]}")")
  echo "${results[-1]}"
done
# Leave the copy's build as the unmutated tree, so the next run starts from a true baseline.
nice ninja -C "$build" -j"$jobs" "${all_targets[@]}" >"$work/build.log" 2>&1 || true

echo
printf '%-32s %-13s %6s  %s\n' mutant result time tests
printf '%s\n' "${results[@]}"
echo "mutants: ${#chosen[@]} planted, $((${#chosen[@]} - survived)) killed, $survived not;" \
  "total $((SECONDS - start)) s (logs in $work)"
[ "$survived" -eq 0 ]
