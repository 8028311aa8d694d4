#pragma once
// Where rate-limit buckets live. The core asks one question per request: "do all these limits
// admit this request?" A store either answers at once (local memory, a cached Redis deny, the
// breaker's fallback) or, for Redis, later on the calling thread's event loop.
//
// Contract for every store: all limits are checked before any is charged, so a request denied by
// one limit consumes no token from the others; `dry_run` checks without charging (explain).
// A call may carry a ban order: when that call is the one that denies, the store bans its
// subject in the same step (one atomic script in Redis), unless the subject is banned already,
// and says so in the outcome. A dry run bans nobody.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "guard/bans/ban.h"
#include "guard/limit/gcra.h"

namespace edgeguard {

struct LimitCall {
  GcraRate rate;
  std::string_view key;      // canonical bytes: scoped by route and limit name (core/limit_key.h)
  std::uint64_t key_hash{};  // seeded hash of `key`, used by the local store
  const BanOrder* ban = nullptr;
  int limit = -1;  // which of the route's limits this is (a limit that does not apply has none)
};

struct LimitOutcome {
  bool allowed = true;
  int denied_index = -1;            // which call denied (first one, in route order)
  std::int64_t retry_after_ns = 0;  // of the denying call
  std::int64_t remaining = 0;       // of the denying call, or the smallest among all when allowed
  int nearest_index = -1;           // when allowed: the call with the fewest tokens left
  std::int64_t reset_ns = 0;
  bool from_fallback = false;  // answered by on_error policy because the shared store failed
  // When the denying call carried a ban order: the ban's end (the caller's clock) and its
  // number within the escalation memory; `ban_made` is false when it was already in force.
  std::int64_t ban_until_ns = 0;
  std::int64_t ban_count = 0;
  bool ban_made = false;
};

class LimitStore {
 public:
  using Completion = std::function<void(const LimitOutcome&)>;
  virtual ~LimitStore() = default;

  // Answers now if it can. `now_ns` is the caller's monotonic clock.
  virtual std::optional<LimitOutcome> try_admit(std::span<const LimitCall> calls,
                                                std::int64_t now_ns, bool dry_run) = 0;

  // Called only when try_admit returned nullopt. Invokes `done` exactly once on the calling
  // thread's event loop. `calls` (and the keys they view) must stay valid until then.
  virtual void admit_async(std::span<const LimitCall> calls, std::int64_t now_ns, bool dry_run,
                           Completion done) = 0;

  // Forgets the buckets of `calls`, full again (a login that worked resets that account's
  // failure limits). Fire and forget: a reset that fails leaves the buckets to refill.
  virtual void reset(std::span<const LimitCall> calls) = 0;

  // Buckets currently held in this process (for edgeguard_local_buckets).
  virtual std::size_t local_bucket_count() const = 0;
};

// A store whose try_admit always answers (memory, test doubles): admit_async is never needed,
// and answers at once all the same.
class ImmediateLimitStore : public LimitStore {
 public:
  void admit_async(std::span<const LimitCall> calls, std::int64_t now_ns, bool dry_run,
                   Completion done) final {
    done(*try_admit(calls, now_ns, dry_run));
  }
};

}  // namespace edgeguard
