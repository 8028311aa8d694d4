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
// reused in place. Slots are never emptied either, so after a flood of offenders every slot
// holds some key: a lookup stops at the farthest any key was placed from its home slot (a few
// dozen slots at this load) instead of at an empty slot that no longer exists.
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

  // How many index slots a lookup of (subject, route) reads: what a ban check costs once a flood
  // of offenders has passed through the table (tests and the flood bound).
  std::size_t probes(std::string_view subject, std::string_view route) const;

 private:
  struct Slot {
    std::atomic<std::uint64_t> key{0};   // 0: never used
    std::atomic<std::int64_t> until{0};  // 0 (or past): no active ban
  };
  // The slots are atomics: readers and writers share. `probes` counts the slots read.
  Slot* find_slot(std::uint64_t key, std::size_t* probes = nullptr) const;
  Slot* slot_for_insert(std::uint64_t key, std::int64_t now_ns);
  bool make_room(std::int64_t until_ns, std::int64_t now_ns);  // writers only

  std::size_t max_active_;
  std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::size_t> active_hint_{0};  // records held (active or not yet dropped)
  std::atomic<std::size_t> farthest_{0};     // the largest distance of a key from its home slot
  std::int64_t give_way_before_ns_ = 0;      // bans ending by then were the last to give way

  mutable std::mutex mu_;  // writers and listing
  std::unordered_map<std::uint64_t, Ban> records_;
};

}  // namespace edgeguard
