// Issue 18: Redis mode admitted a few requests fewer than local mode under Traefik's paced
// loads. Not because of the script's arithmetic: run on the same clock readings, the script
// gives gcra_check's verdict, retry-after, remaining and reset to the nanosecond, whatever the
// rates and times. Here the script reads its clock from two extra arguments (seconds and
// microseconds, as `TIME` answers) instead of `TIME`, and is replayed against gcra_check on the
// same readings over random arrivals: bursts, near-boundary arrivals and idle gaps, with
// emission intervals and tolerances that are not whole microseconds (maxDelay included).
#include <hiredis/hiredis.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "guard/limit/gcra.h"
#include "guard/limit/traefik_rate.h"
#include "guard/redis/gcra_script.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

constexpr std::string_view kClockCall = "local t = redis.call('TIME')";

// The script with its clock taken from the last two arguments.
std::string script_on_given_clock() {
  std::string s(gcra_script_source());
  const auto at = s.find(kClockCall);
  if (at == std::string::npos) return "";
  s.replace(at, kClockCall.size(), "local t = {ARGV[#ARGV - 1], ARGV[#ARGV]}");
  return s;
}

std::vector<long long> eval(const RedisServer& redis, const std::string& script,
                            const std::string& key, const GcraRate& rate, std::int64_t now_ns) {
  // What TIME would have answered at now_ns: whole seconds and microseconds.
  const std::int64_t us = now_ns / 1000;
  Reply r = redis.command({"EVAL", script, "1", key, "0", std::to_string(rate.emission_ns),
                           std::to_string(rate.tolerance_ns), std::to_string(us / 1'000'000),
                           std::to_string(us % 1'000'000)});
  std::vector<long long> v;
  if (!r || r->type != REDIS_REPLY_ARRAY) return v;
  for (std::size_t i = 0; i < r->elements; ++i) v.push_back(r->element[i]->integer);
  return v;
}

TEST(ScriptArithmetic, TheScriptDecidesAsGcraCheckOnTheSameClock) {
  const std::string script = script_on_given_clock();
  ASSERT_FALSE(script.empty()) << "the script no longer reads its clock with " << kClockCall;
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());

  // Emission intervals of a second or more: a stored key expires on Redis's real clock, which
  // must not overtake the simulated one (each run lasts far less than one T of real time).
  const GcraRate rates[] = {
      traefik_gcra_rate(1, 1'234'567'891, 1'234'567'891, 1),
      traefik_gcra_rate(3, 7'000'000'001, 2'333'333'334, 5),
      traefik_gcra_rate(10, 60'000'000'000, 6'000'000'000, 5),
      traefik_gcra_rate(1, 10'000'000'000, 10'000'000'000, 1),
      GcraRate{1'000'000'333, 4'000'001'332, 4},  // a failure limit's T × (burst - 1)
  };
  std::mt19937_64 rng(18);
  int checked = 0, admitted = 0;
  for (std::size_t ri = 0; ri < std::size(rates); ++ri) {
    const GcraRate& rate = rates[ri];
    const std::string key = "edgeguard:{arith" + std::to_string(ri) + "}";
    // Simulated wall-clock nanoseconds, as Redis's TIME reads them today.
    std::int64_t now = 1'790'000'000'123'456'789 + static_cast<std::int64_t>(ri) * 1'000'000'007;
    std::int64_t tat = 0;
    for (int i = 0; i < 400; ++i) {
      switch (rng() % 5) {
        case 0:  // the same instant (a burst)
          break;
        case 1:  // right at the next admission boundary, give or take a few nanoseconds
          now = std::max(now, tat - rate.tolerance_ns + rate.emission_ns +
                                  static_cast<std::int64_t>(rng() % 3000) - 1500);
          break;
        case 2:  // idle long enough for the bucket to fill up
          now += rate.tolerance_ns + static_cast<std::int64_t>(rng() % rate.emission_ns);
          break;
        default:  // a fraction of an emission interval
          now += static_cast<std::int64_t>(rng() % rate.emission_ns);
          break;
      }
      const std::int64_t clock = now / 1000 * 1000;  // TIME's microseconds
      const GcraResult want = gcra_check(tat, clock, rate);
      const std::vector<long long> got = eval(redis, script, key, rate, now);
      ASSERT_EQ(got.size(), 5u) << "rate " << ri << " request " << i;
      ASSERT_EQ(got[0], want.allowed ? 1 : 0) << "rate " << ri << " request " << i;
      if (want.allowed) {
        EXPECT_EQ(got[3], want.remaining) << "rate " << ri << " request " << i;
        EXPECT_EQ(got[4], want.reset_ns) << "rate " << ri << " request " << i;
        tat = want.new_tat;
        ++admitted;
      } else {
        EXPECT_EQ(got[2], want.retry_after_ns) << "rate " << ri << " request " << i;
        EXPECT_EQ(got[4], want.reset_ns) << "rate " << ri << " request " << i;
      }
      ++checked;
    }
  }
  // Both verdicts were exercised, many times.
  EXPECT_GT(admitted, checked / 5);
  EXPECT_LT(admitted, checked * 4 / 5);
}

}  // namespace
}  // namespace edgeguard::testing
