// The deny cache: bounded whatever the flood, and a cached deny ends when Redis said the key
// admits again (its retry time), not when the bucket is full again (its reset). With a burst
// above 1 the two differ, and a cache that waited for the reset would refuse a client for
// (burst - 1) emission intervals that Redis would have admitted.
#include <boost/asio/io_context.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/redis/redis_test_support.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

constexpr std::int64_t kFar = 1'000'000'000'000'000;  // an entry that never expires in a test

// Hashes that land in shard `shard` (the cache picks its shard from the top bits).
std::uint64_t hash_in_shard(std::uint64_t shard, std::uint64_t n) {
  return (shard << 60) | n;
}

TEST(DenyCache, NeverHoldsMoreThanItsSizeWhateverTheFlood) {
  DenyCache cache(64);
  for (std::uint64_t i = 0; i < 20'000; ++i) {
    // Spread over every shard, as a flood of distinct keys is.
    const std::uint64_t hash = (i * 0x9E3779B97F4A7C15ull);
    cache.insert("flood/" + std::to_string(i), hash, {kFar, kFar}, 0);
    ASSERT_LE(cache.size(), 64u) << "after " << i + 1 << " keys";
  }
  EXPECT_GT(cache.size(), 0u);
}

TEST(DenyCache, AFullShardDropsExpiredEntriesBeforeLiveOnes) {
  DenyCache cache(16 * 4);  // 16 shards of 4
  // Shard 3 full of entries that end at 100, and one that lives on.
  for (std::uint64_t i = 0; i < 3; ++i) {
    cache.insert("old/" + std::to_string(i), hash_in_shard(3, i), {100, 100}, 0);
  }
  cache.insert("live", hash_in_shard(3, 9), {kFar, kFar}, 0);
  ASSERT_EQ(cache.size(), 4u);
  // At 200 a new key needs room: the three expired ones go, the live one stays.
  cache.insert("new", hash_in_shard(3, 10), {kFar, kFar}, 200);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.find("live", hash_in_shard(3, 9), 200).has_value());
  EXPECT_TRUE(cache.find("new", hash_in_shard(3, 10), 200).has_value());
  // Full of live entries: the shard starts over rather than grow.
  cache.insert("a", hash_in_shard(3, 11), {kFar, kFar}, 200);
  cache.insert("b", hash_in_shard(3, 12), {kFar, kFar}, 200);
  cache.insert("c", hash_in_shard(3, 13), {kFar, kFar}, 200);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.find("c", hash_in_shard(3, 13), 200).has_value());
  // Other shards were never touched by any of it.
  cache.insert("elsewhere", hash_in_shard(5, 1), {kFar, kFar}, 200);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(DenyCache, AnEntryEndsAtItsUntilTime) {
  DenyCache cache;
  cache.insert("k", 1, {1000, 5000}, 0);
  EXPECT_TRUE(cache.find("k", 1, 999).has_value());
  EXPECT_FALSE(cache.find("k", 1, 1000).has_value());
  EXPECT_EQ(cache.size(), 0u) << "an expired entry is dropped when found";
}

class RedisDenyCache : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RedisServer>(dir_.path());
    ASSERT_TRUE(server_->running());
  }

  // One decision at the caller's clock `now_ns`, through Redis (never the cache).
  std::optional<LimitOutcome> ask_redis(StoreHarness& h, const std::vector<LimitCall>& calls,
                                        std::int64_t now_ns) {
    EXPECT_FALSE(h.store->try_admit(calls, now_ns, false).has_value()) << "answered locally";
    auto got = std::make_shared<std::optional<LimitOutcome>>();
    h.store->admit_async(calls, now_ns, false, [got](const LimitOutcome& o) { *got = o; });
    h.run_until([&] { return got->has_value(); });
    return *got;
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisDenyCache, ACachedDenyEndsAtTheRetryTimeNotAtTheReset) {
  RedisStoreConfig config;
  config.address = server_->address();
  config.timeout_ns = 2'000'000'000;
  StoreHarness h(config);
  const GcraRate r = rate(10, kHour, 3);  // T = 6 min, burst 3: nothing refills in the test
  const std::vector<LimitCall> calls = {{r, "retry-vs-reset", 17}};
  for (int i = 0; i < 3; ++i) {
    const auto a = ask_redis(h, calls, mono_ns());
    ASSERT_TRUE(a.has_value());
    ASSERT_TRUE(a->allowed) << i;
  }
  const std::int64_t now = mono_ns();
  const auto denied = ask_redis(h, calls, now);
  ASSERT_TRUE(denied.has_value());
  ASSERT_FALSE(denied->allowed);
  ASSERT_FALSE(denied->from_fallback);
  const std::int64_t retry = denied->retry_after_ns;
  ASSERT_GT(retry, 0);
  // Burst 3: the bucket is full again two emission intervals after it admits again.
  ASSERT_EQ(denied->reset_ns - retry, 2 * r.emission_ns);

  // Until the retry time the cache answers, with what Redis said.
  const auto cached = h.store->try_admit(calls, now + retry - 1'000'000, false);
  ASSERT_TRUE(cached.has_value());
  EXPECT_FALSE(cached->allowed);
  EXPECT_EQ(cached->retry_after_ns, 1'000'000);
  EXPECT_EQ(cached->reset_ns, denied->reset_ns - retry + 1'000'000);
  // From the retry time on, Redis decides again: the cache must not answer until the reset.
  EXPECT_FALSE(h.store->try_admit(calls, now + retry + 1'000'000, false).has_value())
      << "a deny cached past its retry time";
}

}  // namespace
}  // namespace edgeguard::testing
