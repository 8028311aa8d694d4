// The local store under several request threads at once, while a metrics reader polls it: the
// shape ThreadSanitizer (tests/tsan.sh) needs to see. Shards grow and rebuild during the run.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "guard/store/local_store.h"
#include "guard/text/seeded_hash.h"

namespace edgeguard {
namespace {

TEST(TsanConcurrency, StoreUnderManyKeysWithAMetricsReader) {
  constexpr int kThreads = 4;
  constexpr int kKeysPerThread = 50'000;
  constexpr std::int64_t kBurst = 7;
  LocalLimitStore store(20'000);  // small: eviction and rebuilds happen throughout
  const GcraRate rate{1'000'000'000'000, 1'000'000'000'000 * kBurst, kBurst};
  const std::uint64_t seed = process_hash_seed();
  const std::string shared_key = "route\x1flimit\x1fshared";

  std::atomic<bool> done{false};
  std::atomic<int> shared_admitted{0};
  std::thread reader([&] {
    std::size_t polls = 0;
    while (!done.load(std::memory_order_acquire)) {
      EXPECT_LE(store.local_bucket_count(), store.capacity_slots());
      ++polls;
    }
    EXPECT_GT(polls, 0u);
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kKeysPerThread; ++i) {
        const std::string key = "route\x1flimit\x1f" + std::to_string(t) + "-" + std::to_string(i);
        // Two limits per request, as a route with per-ip and route-wide limits has.
        const std::array<LimitCall, 2> calls{
            LimitCall{rate, key, seeded_hash(key, seed)},
            LimitCall{rate, shared_key, seeded_hash(shared_key, seed)}};
        const auto out = store.try_admit(calls, 1'000'000'000, false);
        ASSERT_TRUE(out.has_value());
        if (out->allowed) shared_admitted.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& w : workers) w.join();
  done.store(true, std::memory_order_release);
  reader.join();
  // The shared bucket, live the whole time (its TAT is far ahead), admits exactly its burst.
  EXPECT_EQ(shared_admitted.load(), kBurst);
}

}  // namespace
}  // namespace edgeguard
