#pragma once
// Buckets in this process's memory: one 16-byte slot (key hash, TAT) per active key, in 64
// shards so threads rarely meet on a lock. Bounded by max_buckets without a sweeper: a bucket
// whose TAT has passed is full again, holds no information and is not counted; its slot is
// reused by a new key on its probe path or dropped when the shard is rebuilt; when a shard is
// full of live buckets, a new key evicts the nearby bucket closest to refilled.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "guard/bans/local_bans.h"
#include "guard/store/store.h"

namespace edgeguard {

class LocalLimitStore final : public ImmediateLimitStore {
 public:
  // `bans` makes the bans that calls order (null: nobody is banned); it must outlive the store.
  // `clock`: the monotonic nanoseconds callers pass as `now_ns` (guard/clock when empty), read
  // only to count live buckets.
  explicit LocalLimitStore(std::size_t max_buckets, LocalBans* bans = nullptr,
                           std::function<std::int64_t()> clock = {});

  std::optional<LimitOutcome> try_admit(std::span<const LimitCall> calls, std::int64_t now_ns,
                                        bool dry_run) override;
  void reset(std::span<const LimitCall> calls) override;
  // Live buckets now (edgeguard_local_buckets). A refilled one is not counted even when no call
  // has come since to reuse its slot: after a Redis outage the fallback is not called at all.
  std::size_t local_bucket_count() const override;
  // Buckets whose TAT is still ahead of `now_ns`.
  std::size_t live_buckets(std::int64_t now_ns) const;

  // The stored TAT for a key (0 if none): for tests and explain.
  std::int64_t peek(std::uint64_t key_hash) const;
  std::size_t capacity_slots() const;

  static constexpr std::size_t kShards = 64;

 private:
  struct Slot {
    std::uint64_t key = 0;  // 0 = never used
    std::int64_t tat = 0;
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::vector<Slot> slots;
    std::size_t used = 0;  // slots with a key (live or refilled)
    std::size_t ops_since_rebuild = 0;
    std::int64_t latest_tat = 0;  // no bucket lives past it: counting an idle shard is O(1)
  };

  static std::uint64_t slot_key(std::uint64_t hash) { return hash == 0 ? 1 : hash; }
  static std::size_t shard_of(std::uint64_t hash) { return hash >> 58; }
  // `claimed`: slots already taken by other limits of the same request, never reused or evicted.
  Slot* find_or_insert(Shard& shard, std::uint64_t key, std::int64_t now,
                       std::span<Slot* const> claimed);
  void maybe_rebuild(Shard& shard, std::int64_t now);
  void rebuild(Shard& shard, std::int64_t now);

  LocalBans* bans_;
  std::size_t max_slots_per_shard_;
  std::function<std::int64_t()> clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace edgeguard
