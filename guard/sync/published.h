#pragma once
// Published<T>: the one current version of something immutable (a policy snapshot, the GeoIP
// databases, the tailnet's nodes, CrowdSec's decisions, a Redis Cluster's slot map), and a
// generation that moves with each publish. A reloader builds a new T and publishes it; any thread
// takes a reference and keeps the old version alive for as long as it reads it. A reader on the
// request path compares generation() (one atomic load) and calls get() only when it moved
// (guard/server/worker.h).
//
// Why not std::atomic<std::shared_ptr<T>>: libstdc++ 12 (Debian 12's) releases that type's
// internal lock in load() with a relaxed decrement, so nothing orders a reader's read of the
// pointer before the next store's write of it. That is a data race by the memory model, and
// ThreadSanitizer reports it (CrowdsecPullerTest under tests/tsan.sh did, once in a while).
// A mutex held for a pointer copy is correct everywhere, and get() is not called per request.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

namespace edgeguard {

template <typename T>
class Published {
 public:
  Published() = default;
  explicit Published(std::shared_ptr<const T> value) : value_(std::move(value)) {}
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;

  std::shared_ptr<const T> get() const {
    std::lock_guard lock(mu_);
    return value_;
  }

  // Moves after the value does: a reader that sees the new generation gets the new value.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // The previous version leaves with `value` after the lock is released: its destructor may be
  // long (a GeoIP database unmapped, a large decision set freed) and must not hold up readers.
  void publish(std::shared_ptr<const T> value) {
    std::lock_guard lock(mu_);
    value_.swap(value);
    generation_.fetch_add(1, std::memory_order_release);
  }

  // Publishes `next_from(current)`, made under the lock from the latest version rather than from
  // a copy the caller read earlier: two threads patching at once (a Redis Cluster slot move seen
  // by two io threads) both keep their change. The current version must not be null.
  template <typename NextFrom>
  void update(NextFrom&& next_from) {
    std::shared_ptr<const T> previous;  // declared first: released after the lock
    std::lock_guard lock(mu_);
    previous = std::exchange(value_, std::shared_ptr<const T>(next_from(*value_)));
    generation_.fetch_add(1, std::memory_order_release);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace edgeguard
