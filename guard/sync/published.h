#pragma once
// Published<T>: the one current version of something immutable (a policy snapshot, the GeoIP
// databases, the tailnet's nodes, CrowdSec's decisions). A reloader builds a new T and
// publishes it; any thread takes a reference and keeps the old version alive for as long as it
// reads it, while the reloader moves on.
//
// Why not std::atomic<std::shared_ptr<T>>: libstdc++ 12 (Debian 12's) releases that type's
// internal lock in load() with a relaxed decrement, so nothing orders a reader's read of the
// pointer before the next store's write of it. That is a data race by the memory model, and
// ThreadSanitizer reports it (CrowdsecPullerTest under tests/tsan.sh did, once in a while).
// A mutex held for a pointer copy is correct everywhere and cheap here: the request path never
// calls get() per request. Workers compare a generation counter and re-read only after a
// publish (guard/server/worker.h).
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

  // The previous version is released outside the lock: its destructor may be long (a GeoIP
  // database unmapped, a large decision set freed) and must not hold up readers.
  void publish(std::shared_ptr<const T> value) {
    {
      std::lock_guard lock(mu_);
      value_.swap(value);
    }
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
};

}  // namespace edgeguard
