#include "guard/store/local_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace edgeguard {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr GcraRate kLogin{6 * kSecond, 30 * kSecond, 5};    // 10/min, burst 5
constexpr GcraRate kRoute{100'000'000, 10 * kSecond, 100};  // 600/min, burst 100
constexpr GcraRate kOnce{60 * kSecond, 60 * kSecond, 1};    // 1/min, burst 1

// Hashes with chosen top bits: the top 6 bits pick the shard.
constexpr std::uint64_t in_shard(std::uint64_t shard, std::uint64_t low) {
  return (shard << 58) | low;
}

LimitCall call(std::uint64_t hash, GcraRate rate) {
  LimitCall c;
  c.rate = rate;
  c.key = "k";
  c.key_hash = hash;
  return c;
}

bool admit(LocalLimitStore& store, std::initializer_list<LimitCall> calls, std::int64_t now,
           LimitOutcome* out = nullptr, bool dry_run = false) {
  const std::vector<LimitCall> v(calls);
  const auto r = store.try_admit(v, now, dry_run);
  EXPECT_TRUE(r.has_value());  // the local store always answers at once
  if (out != nullptr && r) *out = *r;
  return r && r->allowed;
}

TEST(LocalStore, BurstThenExactRetry) {
  LocalLimitStore store(1000);
  const auto key = in_shard(3, 77);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(admit(store, {call(key, kLogin)}, 0)) << i;
  LimitOutcome out;
  ASSERT_FALSE(admit(store, {call(key, kLogin)}, kSecond, &out));
  EXPECT_EQ(out.denied_index, 0);
  EXPECT_EQ(out.retry_after_ns, 5 * kSecond);
  EXPECT_EQ(out.remaining, 0);
  EXPECT_EQ(store.peek(key), 30 * kSecond);
  EXPECT_TRUE(admit(store, {call(key, kLogin)}, 6 * kSecond));
  EXPECT_FALSE(admit(store, {call(key, kLogin)}, 6 * kSecond));
}

TEST(LocalStore, DenialByOneLimitChargesNoOther) {
  for (const auto& [a, b] : {std::pair{in_shard(1, 5), in_shard(2, 9)},
                             std::pair{in_shard(4, 5), in_shard(4, 6)}}) {  // and in one shard
    LocalLimitStore store(1000);
    ASSERT_TRUE(admit(store, {call(a, kRoute), call(b, kOnce)}, 0));
    EXPECT_EQ(store.peek(a), 100'000'000);
    EXPECT_EQ(store.peek(b), 60 * kSecond);
    for (int i = 0; i < 50; ++i) {
      LimitOutcome out;
      ASSERT_FALSE(admit(store, {call(a, kRoute), call(b, kOnce)}, kSecond, &out));
      EXPECT_EQ(out.denied_index, 1);
      EXPECT_EQ(out.retry_after_ns, 59 * kSecond);
    }
    EXPECT_EQ(store.peek(a), 100'000'000);  // limit 1 was never charged for the denials
    // Denied by the first: the second is not charged either.
    LocalLimitStore store2(1000);
    ASSERT_TRUE(admit(store2, {call(b, kOnce)}, 0));
    LimitOutcome out;
    ASSERT_FALSE(admit(store2, {call(b, kOnce), call(a, kRoute)}, 0, &out));
    EXPECT_EQ(out.denied_index, 0);
    EXPECT_EQ(store2.peek(a), 0);
  }
}

TEST(LocalStore, AllowedReportsTheTightestRemaining) {
  LocalLimitStore store(1000);
  LimitOutcome out;
  ASSERT_TRUE(admit(store, {call(in_shard(0, 1), kRoute), call(in_shard(9, 1), kLogin)}, 0, &out));
  EXPECT_EQ(out.remaining, 4);
  EXPECT_EQ(out.reset_ns, 6 * kSecond);
}

TEST(LocalStore, DryRunChargesNothing) {
  LocalLimitStore store(1000);
  const auto key = in_shard(7, 1);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(admit(store, {call(key, kLogin)}, 0, nullptr, true));
  EXPECT_EQ(store.peek(key), 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(admit(store, {call(key, kLogin)}, 0));
  LimitOutcome out;
  EXPECT_FALSE(admit(store, {call(key, kLogin)}, 0, &out, true));  // dry run still sees the deny
  EXPECT_EQ(out.retry_after_ns, 6 * kSecond);
  EXPECT_EQ(store.peek(key), 30 * kSecond);
}

TEST(LocalStore, HashZeroIsAUsableKey) {
  LocalLimitStore store(1000);
  EXPECT_TRUE(admit(store, {call(0, kOnce)}, 0));
  EXPECT_FALSE(admit(store, {call(0, kOnce)}, 0));
}

// Several limits of one request landing in one shard while the shard grows, rebuilds and
// evicts: each limit must still be charged exactly once, on its own bucket.
TEST(LocalStore, LimitsSharingAShardAreEachChargedWhileTheShardChurns) {
  LocalLimitStore store(1000);
  const auto fixed = in_shard(5, 1);
  const GcraRate slow{1000 * kSecond, 1'000'000 * kSecond, 1000};  // never denies here
  for (std::uint64_t i = 0; i < 500; ++i) {
    LimitOutcome out;
    ASSERT_TRUE(admit(store,
                      {call(fixed, slow), call(in_shard(5, 2 + i), kLogin),
                       call(in_shard(5, 100'000 + i), kLogin)},
                      0, &out))
        << i;
    ASSERT_EQ(store.peek(fixed), static_cast<std::int64_t>(i + 1) * 1000 * kSecond) << i;
    ASSERT_EQ(store.peek(in_shard(5, 2 + i)), 6 * kSecond) << i;
    ASSERT_EQ(store.peek(in_shard(5, 100'000 + i)), 6 * kSecond) << i;
  }
}

TEST(LocalStore, MemoryStaysBoundedAndLimitedKeysStayLimited) {
  constexpr std::size_t kMax = 1000;
  LocalLimitStore store(kMax);
  // Some clients are over their limit before the flood starts.
  std::vector<std::uint64_t> abusers;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 32; ++i) abusers.push_back(rng());
  for (auto a : abusers) {
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(admit(store, {call(a, kLogin)}, 0));
    ASSERT_FALSE(admit(store, {call(a, kLogin)}, 0));
  }
  // 100 000 distinct keys, one request each, over 100 ms: far more than max_buckets.
  std::size_t peak_buckets = 0;
  std::size_t peak_slots = 0;
  for (std::int64_t i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(admit(store, {call(rng(), kLogin)}, i * 1000));
    if (i % 1000 == 0) {
      peak_buckets = std::max(peak_buckets, store.live_buckets(i * 1000));
      peak_slots = std::max(peak_slots, store.capacity_slots());
    }
  }
  EXPECT_LE(peak_slots, 4 * kMax);
  EXPECT_LE(peak_buckets, peak_slots);
  EXPECT_LE(store.live_buckets(100'000 * 1000), 4 * kMax);
  // The eviction drops the bucket nearest to refilled: the flood's one-request buckets go
  // first, and every client over its limit is still limited.
  for (auto a : abusers) {
    LimitOutcome out;
    EXPECT_FALSE(admit(store, {call(a, kLogin)}, 100 * 1'000'000, &out));
    EXPECT_EQ(out.retry_after_ns, 6 * kSecond - 100'000'000);
  }
}

TEST(LocalStore, RefilledBucketsAreDropped) {
  LocalLimitStore store(1000);
  for (std::uint64_t i = 0; i < 3000; ++i)
    ASSERT_TRUE(admit(store, {call(i * 0x9e3779b97f4a7c15ULL, kOnce)}, 0));
  // Long after every bucket refilled, new keys replace them and the count falls back.
  for (std::uint64_t i = 0; i < 3000; ++i) {
    ASSERT_TRUE(admit(store, {call((i + 5000) * 0x9e3779b97f4a7c15ULL, kLogin)},
                      3600 * kSecond + static_cast<std::int64_t>(i)));
  }
  // An old key is a full bucket again.
  EXPECT_TRUE(admit(store, {call(7 * 0x9e3779b97f4a7c15ULL, kOnce)}, 3600 * kSecond + 5000));
  // Only the new keys' buckets (and that one) live; the refilled ones count for nothing.
  EXPECT_LE(store.live_buckets(3600 * kSecond + 5000), 3001u);
}

// Issue 17: across Redis outages the fallback store's gauge only grew (0 -> 4 077), because it
// counted every slot that had ever held a key. It counts live buckets: once a bucket has
// refilled it holds nothing and is not counted, even when no call comes to reuse its slot
// (after an outage the fallback is not called at all).
TEST(LocalStore, BucketCountFollowsLiveBucketsWithoutFurtherCalls) {
  std::int64_t now = 0;
  LocalLimitStore store(10'000, nullptr, [&now] { return now; });
  for (std::uint64_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(admit(store, {call(i * 0x9e3779b97f4a7c15ULL, kLogin)}, 0));  // TAT 6 s
  }
  for (std::uint64_t i = 0; i < 300; ++i) {
    ASSERT_TRUE(admit(store, {call((i + 5000) * 0x9e3779b97f4a7c15ULL, kOnce)}, 0));  // 60 s
  }
  EXPECT_EQ(store.local_bucket_count(), 1300u);
  now = 6 * kSecond - 1;
  EXPECT_EQ(store.local_bucket_count(), 1300u);
  now = 6 * kSecond;  // the kLogin buckets are full again
  EXPECT_EQ(store.local_bucket_count(), 300u);
  now = 60 * kSecond;
  EXPECT_EQ(store.local_bucket_count(), 0u);
  EXPECT_EQ(store.live_buckets(59 * kSecond), 300u);  // the same count at a chosen time
  // A refilled slot is reused by the next key and counted again while it lives.
  ASSERT_TRUE(admit(store, {call(7, kOnce)}, now));
  EXPECT_EQ(store.local_bucket_count(), 1u);
}

TEST(LocalStore, TwoThreadsOnOneKeyAdmitExactlyBurst) {
  const GcraRate rate{3600 * kSecond, 3600 * kSecond * 50, 50};
  for (int round = 0; round < 20; ++round) {
    LocalLimitStore store(1000);
    const auto key = in_shard(static_cast<std::uint64_t>(round), 42);
    std::atomic<int> admitted{0};
    std::atomic<bool> go{false};
    auto hammer = [&] {
      while (!go.load()) {
      }
      const LimitCall c = call(key, rate);
      for (int i = 0; i < 2000; ++i) {
        const auto r = store.try_admit({&c, 1}, 0, false);
        if (r && r->allowed) admitted.fetch_add(1);
      }
    };
    std::thread t1(hammer), t2(hammer);
    go.store(true);
    t1.join();
    t2.join();
    ASSERT_EQ(admitted.load(), 50) << "round " << round;
    ASSERT_EQ(store.peek(key), 50 * 3600 * kSecond);
  }
}

}  // namespace
}  // namespace edgeguard
