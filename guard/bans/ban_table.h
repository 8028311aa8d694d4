#pragma once
// The active bans, as every replica keeps them: the whole set in memory, so checking a ban on
// the request path never waits on anything. In local mode this table is the truth; in Redis
// mode it mirrors the ban keys (fed by the script's pub/sub messages and a periodic resync).
//
// Lookups are lock-free: an open-addressing index of (key, until) pairs in atomics, the key a
// seeded 64-bit hash of (subject, route). Writers (a ban, an unban, a resync: rare) take a
// mutex and keep the records (subject and route strings, count, reason) for the admin API.
// Bounded by `max_active`: when full, the bans nearest to their end give way to new ones (a
// quarter at a time); a new ban that would end before them is not held.
// Index slots are never moved, so a reader never sees a torn table: a slot whose ban ended is
// reused in place. A slot keeps its key once used (clearing it would cut other keys' probe
// chains under a lock-free reader), so after enough distinct bans have come and gone every slot
// holds one, and a lookup that stopped only at an empty slot would walk the whole index. A key
// therefore lives within kMaxProbes slots of its home, and a lookup looks no further.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "guard/bans/ban.h"

namespace edgeguard {

class BanTable {
 public:
  explicit BanTable(std::size_t max_active);

  // The request path: when `subject` is banned on `route` or on every route, the later end of
  // the two; 0 when neither is active at `now_ns`.
  std::int64_t banned_until(std::string_view subject, std::string_view route,
                            std::int64_t now_ns) const;
  bool empty() const { return active_hint_.load(std::memory_order_relaxed) == 0; }

  // The ban behind banned_until() (whichever of route and every route ends later).
  std::optional<Ban> find(std::string_view subject, std::string_view route,
                          std::int64_t now_ns) const;

  // Adds or replaces the ban of (subject, route). Returns false only when the table is full and
  // this ban would end before the bans that give way.
  bool insert(Ban ban, std::int64_t now_ns);
  // Lifts every ban of `subject` (all routes). Returns how many were active.
  std::size_t remove(std::string_view subject, std::int64_t now_ns);
  // Lifts the ban of (subject, route) only.
  bool remove(std::string_view subject, std::string_view route, std::int64_t now_ns);
  // The record of (subject, route) exactly (not every route's), active or not yet dropped.
  std::optional<Ban> get(std::string_view subject, std::string_view route) const;
  // Lifts the bans Redis confirmed before `before_ns` (Ban::confirmed_ns) and not since; bans
  // this process made alone are kept. Returns how many active bans were lifted.
  std::size_t drop_unconfirmed(std::int64_t before_ns, std::int64_t now_ns);
  // Lifts every ban on `route` (a reload removed it). Returns how many were active.
  std::size_t remove_route(std::string_view route, std::int64_t now_ns);

  std::vector<Ban> list(std::int64_t now_ns) const;  // active bans, soonest end first
  std::size_t active(std::int64_t now_ns) const;
  std::size_t max_active() const { return max_active_; }

  static std::uint64_t key_of(std::string_view subject, std::string_view route);

  // How far from its home slot a key may live, and so the most slots one lookup reads. The
  // index has four slots per ban held (at most a quarter are held): linear probing clusters,
  // and at two per ban (half held) a window of 32 held slots came up in about one flood of
  // 20 x max_active new offenders in ten, and that offender's ban was not held (test
  // BanTable.AFloodOfNewOffendersIsEveryOneHeld).
  static constexpr std::size_t kMaxProbes = 32;
  // The slots a lookup of (subject, route) reads (for tests and benchmarks).
  std::size_t probes_for(std::string_view subject, std::string_view route) const;

 private:
  struct Slot {
    std::atomic<std::uint64_t> key{0};   // 0: never used
    std::atomic<std::int64_t> until{0};  // 0 (or past): no active ban
  };
  // The slots are atomics: readers and writers share them. `probes`: how many were read.
  Slot* find_slot(std::uint64_t key, std::size_t* probes = nullptr) const;
  std::size_t probe_limit() const { return std::min(kMaxProbes, mask_ + 1); }
  Slot* slot_for_insert(std::uint64_t key, std::int64_t now_ns);
  // Lifts every record `which` selects (writers, under mu_). Returns how many were active.
  template <typename Which>
  std::size_t lift_if(Which which, std::int64_t now_ns);
  void drop_expired(std::int64_t now_ns);                      // writers only
  bool make_room(std::int64_t until_ns, std::int64_t now_ns);  // writers only

  std::size_t max_active_;
  std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::size_t> active_hint_{0};  // records held (active or not yet dropped)
  std::int64_t give_way_before_ns_ = 0;      // bans ending by then were the last to give way

  mutable std::mutex mu_;  // writers and listing
  std::unordered_map<std::uint64_t, Ban> records_;
};

}  // namespace edgeguard
