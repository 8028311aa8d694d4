// Published<T> (guard/sync/published.h) under a reader and a publisher at once: the shape that
// made ThreadSanitizer report std::atomic<std::shared_ptr> of libstdc++ 12 (tests/tsan.sh runs
// this). Every version a reader takes must be whole, the last one published must be seen, and
// updates made at once from two threads must all be kept.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "guard/sync/published.h"

namespace edgeguard {
namespace {

struct Version {
  int number = 0;
  int twice = 0;  // written with number; a torn or freed version breaks number * 2 == twice
};

TEST(TsanConcurrency, PublishedVersionsAreWholeWhileTheNextIsPublished) {
  constexpr int kVersions = 20'000;
  Published<Version> current(std::make_shared<const Version>());
  std::atomic<bool> reading{false};
  std::atomic<bool> done{false};

  std::thread reader([&] {
    int last = 0;
    std::size_t reads = 0;
    do {
      const auto v = current.get();
      reading.store(true, std::memory_order_release);
      ASSERT_NE(v, nullptr);
      ASSERT_EQ(v->number * 2, v->twice);
      ASSERT_GE(v->number, last);  // one publisher: versions never go back
      last = v->number;
      ++reads;
    } while (!done.load(std::memory_order_acquire));
    EXPECT_GT(reads, 0u);
  });
  while (!reading.load(std::memory_order_acquire)) std::this_thread::yield();  // overlap them
  for (int i = 1; i <= kVersions; ++i) {
    current.publish(std::make_shared<const Version>(Version{i, 2 * i}));
  }
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_EQ(current.get()->number, kVersions);
  EXPECT_EQ(current.generation(), static_cast<std::uint64_t>(kVersions));  // one per publish
}

// update() patches the latest version under the lock: two threads patching at once lose
// nothing (a patch made from a copy read before the other's publish would drop that one).
TEST(TsanConcurrency, PublishedUpdatesFromTwoThreadsAreAllKept) {
  constexpr int kUpdatesPerThread = 10'000;
  Published<Version> current(std::make_shared<const Version>());
  std::atomic<int> ready{0};
  auto patcher = [&] {
    ready.fetch_add(1, std::memory_order_acq_rel);
    while (ready.load(std::memory_order_acquire) < 2) std::this_thread::yield();  // overlap them
    for (int i = 0; i < kUpdatesPerThread; ++i) {
      current.update([](const Version& latest) {
        return std::make_shared<const Version>(Version{latest.number + 1, latest.twice + 2});
      });
    }
  };
  std::thread a(patcher);
  std::thread b(patcher);
  a.join();
  b.join();
  const auto last = current.get();
  EXPECT_EQ(last->number, 2 * kUpdatesPerThread);
  EXPECT_EQ(last->twice, 4 * kUpdatesPerThread);
  EXPECT_EQ(current.generation(), static_cast<std::uint64_t>(2 * kUpdatesPerThread));
}

}  // namespace
}  // namespace edgeguard
