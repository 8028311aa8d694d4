#pragma once
// Drives a RedisLimitStore the way an io thread does: try_admit, else admit_async and run the
// thread's io_context until the completion arrives (bounded).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "guard/limit/gcra.h"
#include "guard/redis/redis_limit_store.h"

namespace edgeguard::testing {

inline std::int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline GcraRate rate(std::int64_t average, std::int64_t period_ns, std::int64_t burst) {
  const std::int64_t t = period_ns / average;
  return GcraRate{t, t * burst, burst};
}

constexpr std::int64_t kHour = 3'600'000'000'000;

// Runs `io` (replies, timers, probes) until `done` or the timeout: the loop is what moves a
// Redis connection, as an io thread's does.
template <typename F>
bool run_io_until(boost::asio::io_context& io, F done,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(5));
  }
  return done();
}

// The fallback for on_error: local. Counts what it is asked and admits everything.
class CountingStore final : public ImmediateLimitStore {
 public:
  std::optional<LimitOutcome> try_admit(std::span<const LimitCall>, std::int64_t, bool) override {
    calls.fetch_add(1);
    return LimitOutcome{};
  }
  void reset(std::span<const LimitCall>) override {}
  std::size_t local_bucket_count() const override { return 0; }
  std::atomic<int> calls{0};
};

struct Answer {
  LimitOutcome outcome;
  bool sync = false;  // answered by try_admit
  std::int64_t elapsed_ns = 0;
  std::int64_t start_ns = 0;  // the `now_ns` the store was given
};

class StoreHarness {
 public:
  explicit StoreHarness(RedisStoreConfig config, LimitStore* fallback = nullptr,
                        RedisBanMirror* bans = nullptr) {
    std::string error;
    shared = RedisSharedState::create(std::move(config), &error);
    EXPECT_NE(shared, nullptr) << error;
    if (shared) store = std::make_unique<RedisLimitStore>(io, shared, fallback, bans);
  }
  StoreHarness(std::shared_ptr<RedisSharedState> state, LimitStore* fallback,
               RedisBanMirror* bans = nullptr)
      : shared(state) {
    store = std::make_unique<RedisLimitStore>(io, shared, fallback, bans);
  }
  ~StoreHarness() {
    store.reset();
    io.restart();
    io.poll();
  }

  std::optional<Answer> admit(const std::vector<LimitCall>& calls, bool dry_run = false,
                              std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    const std::int64_t start = mono_ns();
    Answer answer;
    answer.start_ns = start;
    if (auto now = store->try_admit(calls, start, dry_run)) {
      answer.outcome = *now;
      answer.sync = true;
      answer.elapsed_ns = mono_ns() - start;
      return answer;
    }
    auto got = std::make_shared<std::optional<LimitOutcome>>();
    store->admit_async(calls, start, dry_run, [got](const LimitOutcome& o) { *got = o; });
    const auto answered = [&got] { return got->has_value(); };
    if (!run_io_until(io, answered, wait)) return std::nullopt;
    answer.outcome = **got;
    answer.elapsed_ns = mono_ns() - start;
    return answer;
  }

  // Runs the loop (timers, probes) until `done` or the timeout.
  template <typename F>
  bool run_until(F done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return run_io_until(io, std::move(done), timeout);
  }

  boost::asio::io_context io;
  std::shared_ptr<RedisSharedState> shared;
  std::unique_ptr<RedisLimitStore> store;
};

}  // namespace edgeguard::testing
