#include "guard/limit/gcra.h"

#include <gtest/gtest.h>

#include <string>

#include "guard/config/policy_loader.h"

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

// The loader turns Traefik's average/period/burst into these integers.
struct RateCase {
  const char* limit;  // the YAML flow mapping of one limit
  std::int64_t emission_ns;
  std::int64_t tolerance_ns;
  std::int64_t burst;
};

TEST(Gcra, LoaderCompilesTraefikRates) {
  const RateCase cases[] = {
      {"{name: l, average: 10, period: 1m, burst: 5}", 6 * kSecond, 30 * kSecond, 5},
      {"{name: l, average: 1, period: 500ms, burst: 1}", kSecond / 2, kSecond / 2, 1},
      {"{name: l, average: 100, burst: 200}", 10'000'000, 2 * kSecond, 200},  // period 1s
      {"{name: l, average: 600, period: 1m, burst: 100}", 100'000'000, 10 * kSecond, 100},
      {"{name: l, average: 3, period: 1h}", 1200 * kSecond, 1200 * kSecond, 1},
      {"{name: l, average: 5, period: 60}", 12 * kSecond, 12 * kSecond, 1},  // bare = seconds
      {"{name: l, average: 0.5, period: 1s, burst: 2}", 2 * kSecond, 4 * kSecond, 2},
      {"{name: l, average: 3, period: 1s}", 333'333'333, 333'333'333, 1},
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

TEST(Gcra, PeriodStringsMeanWhatTraefikMeans) {
  // average 2 per 500ms, burst 3: 3 at once, then one every 250 ms.
  const auto load = parse_policy(
      "routes:\n  - name: r\n    limits: [{name: l, average: 2, period: 500ms, burst: 3}]\n",
      "t.yaml");
  ASSERT_TRUE(load.policy) << load.error;
  Bucket b{load.policy->routes[0].limits[0].rate};
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += b.hit(0);
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(b.last.retry_after_ns, 250'000'000);
  // Over the next second (a request every 10 ms) exactly 4 more pass.
  admitted = 0;
  for (std::int64_t t = 10'000'000; t <= kSecond; t += 10'000'000) admitted += b.hit(t);
  EXPECT_EQ(admitted, 4);
}

}  // namespace
}  // namespace edgeguard
