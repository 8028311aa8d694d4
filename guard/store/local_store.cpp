#include "guard/store/local_store.h"

#include <algorithm>
#include <bit>

#include "guard/clock/clock.h"
#include "guard/policy/policy.h"

namespace edgeguard {
namespace {

constexpr std::size_t kInitialSlots = 64;
// Probes a new key may look at for a victim when its shard is full of live buckets.
constexpr std::size_t kEvictionWindow = 16;

}  // namespace

LocalLimitStore::LocalLimitStore(std::size_t max_buckets, LocalBans* bans,
                                 std::function<std::int64_t()> clock)
    : bans_(bans), clock_(std::move(clock)) {
  if (!clock_) clock_ = monotonic_ns;
  const std::size_t max_live_per_shard = std::max<std::size_t>(max_buckets / kShards, 4);
  // Keep the table at most 3/4 full of live buckets.
  max_slots_per_shard_ = std::bit_ceil(max_live_per_shard * 4 / 3 + 1);
  for (auto& s : shards_) {
    s.slots.assign(std::min(kInitialSlots, max_slots_per_shard_), Slot{});
  }
}

void LocalLimitStore::rebuild(Shard& shard, std::int64_t now) {
  std::size_t live = 0;
  for (const Slot& s : shard.slots) {
    if (s.key != 0 && s.tat > now) ++live;
  }
  std::size_t capacity = shard.slots.size();
  while (live * 2 >= capacity && capacity < max_slots_per_shard_) capacity *= 2;
  std::vector<Slot> fresh(capacity);
  const std::size_t mask = capacity - 1;
  for (const Slot& s : shard.slots) {
    if (s.key == 0 || s.tat <= now) continue;
    std::size_t i = s.key & mask;
    while (fresh[i].key != 0) i = (i + 1) & mask;
    fresh[i] = s;
  }
  shard.slots = std::move(fresh);
  shard.used = live;
  shard.ops_since_rebuild = 0;
}

void LocalLimitStore::maybe_rebuild(Shard& shard, std::int64_t now) {
  // Rebuilding costs O(slots); doing it at most once per slots/4 operations keeps it O(1)
  // amortised even when a shard stays full of live buckets under a flood of new keys.
  ++shard.ops_since_rebuild;
  if (shard.used * 4 >= shard.slots.size() * 3 &&
      shard.ops_since_rebuild * 4 >= shard.slots.size()) {
    rebuild(shard, now);
  }
}

LocalLimitStore::Slot* LocalLimitStore::find_or_insert(Shard& shard, std::uint64_t key,
                                                       std::int64_t now,
                                                       std::span<Slot* const> claimed) {
  auto is_claimed = [&](const Slot* s) {
    return std::find(claimed.begin(), claimed.end(), s) != claimed.end();
  };
  const std::size_t mask = shard.slots.size() - 1;
  const std::size_t home = key & mask;
  Slot* reusable = nullptr;  // first refilled slot on the probe path
  Slot* victim = nullptr;    // the slot nearest to refilled within the eviction window
  std::size_t i = home;
  for (std::size_t probes = 0;; ++probes, i = (i + 1) & mask) {
    Slot& s = shard.slots[i];
    if (s.key == key) return &s;
    if (s.key == 0) {
      if (reusable != nullptr) break;
      if (shard.used * 4 >= shard.slots.size() * 3) {
        // Full of live buckets: expire the one nearest to refilled among the whole window, not
        // just the probes before this hole, so a bucket over its limit is the last to go. Its
        // key stays as a refilled slot (no hole in other keys' probe chains) until reused.
        Slot* expire = nullptr;
        for (std::size_t j = 0, k = home; j < kEvictionWindow; ++j, k = (k + 1) & mask) {
          Slot& c = shard.slots[k];
          if (c.key != 0 && c.tat > now && !is_claimed(&c) &&
              (expire == nullptr || c.tat < expire->tat)) {
            expire = &c;
          }
        }
        if (expire != nullptr) expire->tat = 0;
      }
      s.key = key;
      s.tat = 0;
      ++shard.used;
      return &s;
    }
    if (!is_claimed(&s)) {
      if (reusable == nullptr && s.tat <= now) reusable = &s;
      if (probes < kEvictionWindow && (victim == nullptr || s.tat < victim->tat)) victim = &s;
    }
    if (probes >= shard.slots.size()) break;
  }
  // No hole on the probe path (the shard is full): take over a refilled slot or the victim.
  Slot* slot = reusable != nullptr ? reusable : victim;
  slot->key = key;
  slot->tat = 0;
  return slot;
}

std::optional<LimitOutcome> LocalLimitStore::try_admit(std::span<const LimitCall> calls,
                                                       std::int64_t now_ns, bool dry_run) {
  LimitOutcome out;
  if (calls.empty()) return out;
  // Lock every shard involved, in index order (no deadlock), so check-then-charge is atomic.
  std::array<std::size_t, kMaxLimitsPerRoute> order{};
  const std::size_t n = std::min(calls.size(), order.size());
  for (std::size_t i = 0; i < n; ++i) order[i] = shard_of(calls[i].key_hash);
  std::sort(order.begin(), order.begin() + n);
  const std::size_t distinct = std::unique(order.begin(), order.begin() + n) - order.begin();
  for (std::size_t i = 0; i < distinct; ++i) shards_[order[i]].mu.lock();

  // Rebuilds first: a rebuild moves every slot of its shard, so none may happen once this
  // request holds pointers into it.
  for (std::size_t i = 0; i < n; ++i) maybe_rebuild(shards_[shard_of(calls[i].key_hash)], now_ns);
  std::array<Slot*, kMaxLimitsPerRoute> slots{};
  std::array<GcraResult, kMaxLimitsPerRoute> results{};
  out.remaining = INT64_MAX;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t key = slot_key(calls[i].key_hash);
    Shard& shard = shards_[shard_of(calls[i].key_hash)];
    slots[i] = find_or_insert(shard, key, now_ns, std::span<Slot* const>(slots.data(), i));
    results[i] = gcra_check(slots[i]->tat, now_ns, calls[i].rate);
    if (!results[i].allowed && out.allowed) {
      out.allowed = false;
      out.denied_index = static_cast<int>(i);
      out.retry_after_ns = results[i].retry_after_ns;
      out.remaining = 0;
      out.reset_ns = results[i].reset_ns;
    }
    if (out.allowed && results[i].remaining < out.remaining) {
      out.remaining = results[i].remaining;
      out.nearest_index = static_cast<int>(i);
      out.reset_ns = results[i].reset_ns;
    }
  }
  if (out.allowed && !dry_run) {
    for (std::size_t i = 0; i < n; ++i) {
      slots[i]->tat = results[i].new_tat;
      Shard& shard = shards_[shard_of(calls[i].key_hash)];
      shard.latest_tat = std::max(shard.latest_tat, results[i].new_tat);
    }
  }
  for (std::size_t i = distinct; i-- > 0;) shards_[order[i]].mu.unlock();
  // The denying call's ban, outside the bucket locks (the ban table has its own).
  if (!out.allowed && !dry_run && bans_ != nullptr) {
    if (const BanOrder* ban = calls[static_cast<std::size_t>(out.denied_index)].ban) {
      const LocalBans::Result made = bans_->make(*ban, now_ns);
      out.ban_until_ns = made.until_ns;
      out.ban_count = made.count;
      out.ban_made = made.made;
    }
  }
  return out;
}

void LocalLimitStore::reset(std::span<const LimitCall> calls) {
  for (const LimitCall& call : calls) {
    Shard& shard = shards_[shard_of(call.key_hash)];
    std::lock_guard lock(shard.mu);
    const std::uint64_t key = slot_key(call.key_hash);
    const std::size_t mask = shard.slots.size() - 1;
    for (std::size_t i = key & mask, probes = 0; probes < shard.slots.size();
         ++probes, i = (i + 1) & mask) {
      if (shard.slots[i].key == key) {
        shard.slots[i].tat = 0;  // full: the slot stays in its probe chain until reused
        break;
      }
      if (shard.slots[i].key == 0) break;
    }
  }
}

std::size_t LocalLimitStore::local_bucket_count() const {
  return live_buckets(clock_());
}

std::size_t LocalLimitStore::live_buckets(std::int64_t now_ns) const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    if (shard.latest_tat <= now_ns) continue;  // everything in it has refilled
    for (const Slot& s : shard.slots) {
      if (s.key != 0 && s.tat > now_ns) ++total;
    }
  }
  return total;
}

std::int64_t LocalLimitStore::peek(std::uint64_t key_hash) const {
  const Shard& shard = shards_[shard_of(key_hash)];
  std::lock_guard lock(shard.mu);
  const std::uint64_t key = slot_key(key_hash);
  const std::size_t mask = shard.slots.size() - 1;
  for (std::size_t i = key & mask, probes = 0; probes < shard.slots.size();
       ++probes, i = (i + 1) & mask) {
    if (shard.slots[i].key == key) return shard.slots[i].tat;
    if (shard.slots[i].key == 0) return 0;
  }
  return 0;
}

std::size_t LocalLimitStore::capacity_slots() const {
  std::size_t total = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    total += s.slots.size();
  }
  return total;
}

}  // namespace edgeguard
