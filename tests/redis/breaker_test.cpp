// The breaker on a made-up timeline: no sleeping, every instant chosen by the test.
#include <gtest/gtest.h>

#include "guard/redis/breaker.h"

namespace edgeguard {
namespace {

constexpr std::int64_t kMs = 1'000'000;

TEST(Breaker, OpensAfterThresholdConsecutiveFailures) {
  Breaker b(3, 250 * kMs);
  EXPECT_FALSE(b.record_failure(10 * kMs));
  EXPECT_FALSE(b.record_failure(20 * kMs));
  EXPECT_FALSE(b.open());
  EXPECT_TRUE(b.record_failure(30 * kMs));
  EXPECT_TRUE(b.open());
  EXPECT_EQ(b.next_probe_ns(), 280 * kMs);
  // Further failures while open change nothing (and do not report opening again).
  EXPECT_FALSE(b.record_failure(40 * kMs));
  EXPECT_EQ(b.next_probe_ns(), 280 * kMs);
}

TEST(Breaker, AnAnswerInBetweenMakesFailuresNotConsecutive) {
  Breaker b(3, 250 * kMs);
  for (int round = 0; round < 10; ++round) {
    EXPECT_FALSE(b.record_failure(round * kMs));
    EXPECT_FALSE(b.record_failure(round * kMs));
    b.record_success();
  }
  EXPECT_FALSE(b.open());
  EXPECT_EQ(b.consecutive_failures(), 0);
}

TEST(Breaker, OneProbePerIntervalWhileOpen) {
  Breaker b(1, 250 * kMs);
  EXPECT_FALSE(b.take_probe(0));  // closed: nothing to probe
  ASSERT_TRUE(b.record_failure(1000 * kMs));
  EXPECT_FALSE(b.take_probe(1000 * kMs));
  EXPECT_FALSE(b.take_probe(1249 * kMs));
  EXPECT_TRUE(b.take_probe(1250 * kMs));
  // That probe is in flight: the next one only once it has had a whole interval to answer.
  EXPECT_FALSE(b.take_probe(1251 * kMs));
  EXPECT_FALSE(b.take_probe(1499 * kMs));
  EXPECT_TRUE(b.take_probe(1500 * kMs));
  // A late timer still gets exactly one probe, paced from when it ran.
  EXPECT_TRUE(b.take_probe(3000 * kMs));
  EXPECT_EQ(b.next_probe_ns(), 3250 * kMs);
}

TEST(Breaker, OnlyAProbeAnswerClosesIt) {
  Breaker b(2, 250 * kMs);
  b.record_failure(0);
  ASSERT_TRUE(b.record_failure(0));
  b.record_success();  // a request answered by a connection opened before: not a probe
  EXPECT_TRUE(b.open());
  EXPECT_TRUE(b.record_probe_answer());
  EXPECT_FALSE(b.open());
  EXPECT_FALSE(b.record_probe_answer());  // already closed: nothing to report
  // Closed afresh: it takes the whole threshold again to open.
  EXPECT_FALSE(b.record_failure(0));
  EXPECT_TRUE(b.record_failure(0));
}

}  // namespace
}  // namespace edgeguard
