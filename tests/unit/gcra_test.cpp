#include "guard/limit/gcra.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "guard/config/policy_loader.h"
#include "guard/limit/traefik_rate.h"

namespace edgeguard {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

// average 10 per 1m, burst 5: one token every 6 s, a full bucket holds 5.
constexpr GcraRate kLogin{6 * kSecond, 30 * kSecond, 5};

// Runs requests at the given times against one bucket; returns how many were admitted.
struct Bucket {
  explicit Bucket(GcraRate r) : rate(r) {}
  GcraRate rate;
  std::int64_t tat = 0;
  GcraResult last;
  bool hit(std::int64_t now) {
    last = gcra_check(tat, now, rate);
    if (last.allowed) tat = last.new_tat;
    return last.allowed;
  }
};

TEST(Gcra, FullBucketAdmitsExactlyBurstAtOnce) {
  Bucket b{kLogin};
  const std::int64_t expected_remaining[] = {4, 3, 2, 1, 0};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(b.hit(0)) << "request " << i;
    EXPECT_EQ(b.last.remaining, expected_remaining[i]);
    EXPECT_EQ(b.last.reset_ns, (i + 1) * 6 * kSecond);  // time until full again
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(b.hit(0));
    EXPECT_EQ(b.last.retry_after_ns, 6 * kSecond);
    EXPECT_EQ(b.last.remaining, 0);
    EXPECT_EQ(b.last.reset_ns, 30 * kSecond);
  }
  EXPECT_EQ(b.tat, 30 * kSecond);  // denials do not move the TAT
}

TEST(Gcra, RetryAfterIsExactToTheNanosecond) {
  Bucket b{kLogin};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.hit(0));
  const std::int64_t now = 2 * kSecond + 123;
  ASSERT_FALSE(b.hit(now));
  EXPECT_EQ(b.last.retry_after_ns, 4 * kSecond - 123);
  // One nanosecond early is still denied, on time is admitted.
  ASSERT_FALSE(b.hit(now + b.last.retry_after_ns - 1));
  EXPECT_EQ(b.last.retry_after_ns, 1);
  ASSERT_TRUE(b.hit(6 * kSecond));
  EXPECT_EQ(b.last.remaining, 0);
  ASSERT_FALSE(b.hit(6 * kSecond));
  EXPECT_EQ(b.last.retry_after_ns, 6 * kSecond);
}

TEST(Gcra, SteadyRateAtTheEmissionIntervalIsAlwaysAdmitted) {
  Bucket b{kLogin};
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(b.hit(i * 6 * kSecond)) << i;
  EXPECT_EQ(b.last.remaining, 4);  // the bucket never drains below burst - 1
}

TEST(Gcra, TwiceTheRateAdmitsBurstPlusHalf) {
  // A request every 3 s for 60 s (20 requests) against 1 per 6 s, burst 5: the 5 tokens plus
  // the ones refilled meanwhile. Hand count: t=0..24 all pass (the TAT gains 3 s on the clock per
  // request), then every other request passes.
  Bucket b{kLogin};
  int admitted = 0;
  std::string pattern;
  for (int i = 0; i < 20; ++i) {
    const bool ok = b.hit(i * 3 * kSecond);
    admitted += ok;
    pattern += ok ? 'A' : '-';
  }
  EXPECT_EQ(pattern, "AAAAAAAAA-A-A-A-A-A-");
  EXPECT_EQ(admitted, 14);
}

TEST(Gcra, RefillsOneTokenPerEmissionInterval) {
  Bucket b{kLogin};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.hit(0));
  // After 18 s three tokens are back: exactly three pass.
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += b.hit(18 * kSecond);
  EXPECT_EQ(admitted, 3);
  // After a full period/average * burst of idleness the bucket is full again.
  EXPECT_TRUE(gcra_is_full(b.tat, 48 * kSecond));
  EXPECT_FALSE(gcra_is_full(b.tat, 48 * kSecond - 1));
  admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += b.hit(48 * kSecond);
  EXPECT_EQ(admitted, 5);
}

TEST(Gcra, BurstOneIsAStrictInterval) {
  Bucket b(GcraRate{kSecond / 2, kSecond / 2, 1});  // average 2/s, burst 1
  EXPECT_TRUE(b.hit(0));
  EXPECT_FALSE(b.hit(kSecond / 2 - 1));
  EXPECT_EQ(b.last.retry_after_ns, 1);
  EXPECT_TRUE(b.hit(kSecond / 2));
  EXPECT_TRUE(b.hit(kSecond));
  EXPECT_FALSE(b.hit(kSecond));
}

// The loader turns Traefik's average/period/burst into these integers: T = period / average,
// tau = T × burst + Traefik's maxDelay (1 s / (2 × whole rate per second), 500 ms below 1/s).
struct RateCase {
  const char* limit;  // the YAML flow mapping of one limit
  std::int64_t emission_ns;
  std::int64_t tolerance_ns;
  std::int64_t burst;
};

TEST(Gcra, LoaderCompilesTraefikRates) {
  constexpr std::int64_t kMs = 1'000'000;
  const RateCase cases[] = {
      // 1/6 per second: below 1/s, maxDelay 500 ms.
      {"{name: l, average: 10, period: 1m, burst: 5}", 6 * kSecond, 30 * kSecond + 500 * kMs, 5},
      // 2/s: 1 s / 4.
      {"{name: l, average: 1, period: 500ms, burst: 1}", kSecond / 2, 750 * kMs, 1},
      // 100/s: 1 s / 200 = 5 ms.
      {"{name: l, average: 100, burst: 200}", 10'000'000, 2 * kSecond + 5 * kMs, 200},
      // 10/s: 50 ms.
      {"{name: l, average: 600, period: 1m, burst: 100}", 100'000'000, 10'050 * kMs, 100},
      {"{name: l, average: 3, period: 1h}", 1200 * kSecond, 1200 * kSecond + 500 * kMs, 1},
      {"{name: l, average: 5, period: 60}", 12 * kSecond, 12'500 * kMs, 1},  // bare = seconds
      {"{name: l, average: 0.5, period: 1s, burst: 2}", 2 * kSecond, 4'500 * kMs, 2},
      // 3/s: 1 s / 6 = 166 666 666 ns (integer division, as Go's Duration does it).
      {"{name: l, average: 3, period: 1s}", 333'333'333, 333'333'333 + 166'666'666, 1},
      // 1.5/s: Traefik truncates the rate to 1/s first, so 500 ms, not T / 2.
      {"{name: l, average: 3, period: 2s}", 666'666'667, 666'666'667 + 500 * kMs, 1},
      // Traefik's TestNewRateLimiter "maxDelay computation": 200/s, burst 10 -> 2.5 ms.
      {"{name: l, average: 200, burst: 10}", 5'000'000, 50 * kMs + 2'500'000, 10},
      // ... "maxDelay computation, low rate regime": 2 per 10 s, burst 10 -> 500 ms.
      {"{name: l, average: 2, period: 10s, burst: 10}", 5 * kSecond, 50'500 * kMs, 10},
      // Traefik's TestInMemoryRateLimit "period below 1 second": 50 per 500 ms = 100/s.
      {"{name: l, average: 50, period: 500ms}", 10 * kMs, 15 * kMs, 1},
  };
  for (const auto& c : cases) {
    const std::string yaml =
        std::string("routes:\n  - name: r\n    limits:\n      - ") + c.limit + "\n";
    const auto load = parse_policy(yaml, "t.yaml");
    ASSERT_TRUE(load.policy) << c.limit << ": " << load.error;
    const GcraRate& rate = load.policy->routes.at(0).limits.at(0).rate;
    EXPECT_EQ(rate.emission_ns, c.emission_ns) << c.limit;
    EXPECT_EQ(rate.tolerance_ns, c.tolerance_ns) << c.limit;
    EXPECT_EQ(rate.burst, c.burst) << c.limit;
  }
}

TEST(Gcra, MaxDelayStaysBelowTheEmissionInterval) {
  // Just under 2/s: Traefik's truncated rate gives 500 ms, which would reach T (500 000 000 ns
  // after rounding) and let burst + 1 through at once; it stops 1 ns short.
  EXPECT_EQ(traefik_max_delay_ns(1.9999999999, kSecond, 500'000'000), 499'999'999);
  // The fastest rate there is (T = 1 ns) has no allowance left at all.
  EXPECT_EQ(traefik_max_delay_ns(1e9, kSecond, 1), 0);
  EXPECT_EQ(traefik_max_delay_ns(1, kSecond, kSecond), kSecond / 2);
  EXPECT_EQ(traefik_max_delay_ns(1, 3600 * kSecond, 3600 * kSecond), 500'000'000);
}

TEST(Gcra, FailureLimitsHaveNoMaxDelay) {
  // Banned on the burst-th failure at once: the tolerance holds burst - 1 tokens, nothing more.
  const auto load = parse_policy(
      "routes:\n  - name: r\n    failure_limits: [{name: f, average: 5, period: 1m, burst: "
      "5}]\n",
      "t.yaml");
  ASSERT_TRUE(load.policy) << load.error;
  const GcraRate& rate = load.policy->routes.at(0).failure_limits.at(0).rate;
  EXPECT_EQ(rate.emission_ns, 12 * kSecond);
  EXPECT_EQ(rate.tolerance_ns, 48 * kSecond);
  EXPECT_EQ(rate.burst, 4);
}

GcraRate compiled(const std::string& limit) {
  const auto load = parse_policy("routes:\n  - name: r\n    limits: [" + limit + "]\n", "t.yaml");
  EXPECT_TRUE(load.policy) << load.error;
  return load.policy ? load.policy->routes[0].limits[0].rate : GcraRate{};
}

TEST(Gcra, FullBucketStillAdmitsExactlyBurstAtOnce) {
  const char* limits[] = {"{name: l, average: 100}", "{name: l, average: 100, burst: 100}",
                          "{name: l, average: 10, period: 1m, burst: 5}",
                          "{name: l, average: 3, period: 2s, burst: 7}",
                          "{name: l, average: 1.9999999999, period: 1s}"};
  for (const char* limit : limits) {
    Bucket b{compiled(limit)};
    std::int64_t admitted = 0;
    for (int i = 0; i < 300; ++i) admitted += b.hit(kSecond);
    EXPECT_EQ(admitted, b.rate.burst) << limit;
  }
}

TEST(Gcra, AnArrivalWithinMaxDelayOfItsTokenIsAdmittedOnTheSchedule) {
  // 100/s, burst 1: T = 10 ms, maxDelay 5 ms. Traefik would hold such a request until its token
  // is due; edgeguard answers at once, and the next token stays where it was.
  constexpr std::int64_t kMs = 1'000'000;
  Bucket b{compiled("{name: l, average: 100}")};
  ASSERT_TRUE(b.hit(0));  // TAT 10 ms
  ASSERT_FALSE(b.hit(5 * kMs - 1));
  EXPECT_EQ(b.last.retry_after_ns, 1);
  ASSERT_TRUE(b.hit(5 * kMs));  // 5 ms before its token: TAT 20 ms, not 15 ms
  EXPECT_EQ(b.tat, 20 * kMs);
  EXPECT_EQ(b.last.remaining, 0);
  ASSERT_FALSE(b.hit(10 * kMs));  // 10 ms before the next one: too early
  EXPECT_EQ(b.last.retry_after_ns, 5 * kMs);
  ASSERT_TRUE(b.hit(15 * kMs));
  EXPECT_EQ(b.tat, 30 * kMs);
  // Idle past the TAT: a full bucket again, the schedule restarts from this arrival.
  ASSERT_TRUE(b.hit(47 * kMs));
  EXPECT_EQ(b.tat, 57 * kMs);
}

TEST(Gcra, BurstOneAtFourTimesTheRateAdmitsTheRate) {
  // Traefik's "Average is respected" with exact arrivals: 100/s, burst 1, one request every
  // 2.5 ms for 2 s (t = 0 .. 2000 ms). Hand count: t = 0 passes (TAT 10), then each arrival
  // 5 ms before its token: 5, 15, 25, ... 1995 ms. That is 1 + 200 = 201 = rate × 2 s + burst,
  // Traefik's wantCount.
  constexpr std::int64_t kStep = 2'500'000;
  Bucket b{compiled("{name: l, average: 100}")};
  int admitted = 0;
  std::string head;
  for (std::int64_t i = 0; i <= 800; ++i) {
    const bool ok = b.hit(i * kStep);
    admitted += ok;
    if (i < 12) head += ok ? 'A' : '-';
  }
  EXPECT_EQ(head, "A-A---A---A-");
  EXPECT_EQ(admitted, 201);
}

TEST(Gcra, JitteredArrivalsStillGetTheRateButPlainGcraDrifts) {
  // The same load with each arrival up to 1.25 ms off its tick (any two arrivals at most 5 ms =
  // maxDelay apart): every token finds an arrival within maxDelay before it, so still 201.
  // Plain GCRA (tolerance T × burst) refuses an arrival that comes a hair early, and its next
  // admission restarts the schedule from the arrival after: that lost time is the ~85% of
  // issue 18.
  constexpr std::int64_t kStep = 2'500'000;
  const GcraRate traefik = compiled("{name: l, average: 100}");
  const GcraRate plain{traefik.emission_ns, traefik.emission_ns, 1};
  Bucket with_delay{traefik}, without{plain};
  std::uint64_t x = 0x2545f4914f6cdd1dULL;
  int admitted = 0, admitted_plain = 0;
  for (std::int64_t i = 0; i <= 800; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64: the same jitter on every run
    const std::int64_t jitter = static_cast<std::int64_t>(x % 2'500'001) - 1'250'000;
    const std::int64_t now = std::max<std::int64_t>(0, i * kStep + jitter);
    admitted += with_delay.hit(now);
    admitted_plain += without.hit(now);
  }
  EXPECT_EQ(admitted, 201);
  EXPECT_LT(admitted_plain, 190);  // below Traefik's lower bound (95% of 201)
}

TEST(Gcra, PeriodStringsMeanWhatTraefikMeans) {
  // average 2 per 500ms, burst 3: 3 at once, then one every 250 ms; 4/s gives maxDelay 125 ms.
  const auto load = parse_policy(
      "routes:\n  - name: r\n    limits: [{name: l, average: 2, period: 500ms, burst: 3}]\n",
      "t.yaml");
  ASSERT_TRUE(load.policy) << load.error;
  Bucket b{load.policy->routes[0].limits[0].rate};
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += b.hit(0);
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(b.last.retry_after_ns, 125'000'000);  // the 4th token is due at 250 ms, less 125
  // Over the next second (a request every 10 ms) exactly 4 more pass, each the first arrival
  // 125 ms or less before its token: at 130, 380, 630 and 880 ms.
  std::string when;
  for (std::int64_t t = 10'000'000; t <= kSecond; t += 10'000'000) {
    if (b.hit(t)) when += std::to_string(t / 1'000'000) + " ";
  }
  EXPECT_EQ(when, "130 380 630 880 ");
}

}  // namespace
}  // namespace edgeguard
