// Published<T> (guard/sync/published.h) under a reader and a publisher at once: the shape that
// made ThreadSanitizer report std::atomic<std::shared_ptr> of libstdc++ 12 (tests/tsan.sh runs
// this). Every version a reader takes must be whole, and the last one published must be seen.
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

}  // namespace
}  // namespace edgeguard
