#pragma once
// The CrowdSec decisions in force, immutable once built: the puller builds a new set from the
// last one and a stream answer, and publishes it (guard/sync/published.h, as GeoIP and the
// tailnet reload). Request threads only call find(): no lock, no allocation, and expiry
// honoured against the caller's clock, so a decision that runs out between two pulls stops
// matching at once.
//
// Layout: one array of decisions sorted by scope and value, then by precedence (ban before
// captcha, later deadline first). Exact addresses are found through an open-addressing hash
// table of 8-byte slots; ranges through elementary intervals (every range start and end splits
// the address space; each piece lists the ranges covering it), one binary search per family;
// countries and AS numbers by binary search in their sections of the array.
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "guard/crowdsec/crowdsec_decision.h"
#include "guard/crowdsec/decision_stream.h"

namespace edgeguard {

class DecisionSet {
 public:
  DecisionSet() = default;  // empty
  DecisionSet(const DecisionSet&) = delete;
  DecisionSet& operator=(const DecisionSet&) = delete;

  // The set after one stream answer. A startup answer (the first pull, or a resync) replaces
  // everything; otherwise `base` minus the decisions `deleted` names and those `new` sends again
  // (a re-sent id replaces its decision), plus `new`. Deleting an unknown or already deleted
  // decision changes nothing. Decisions expired at `now_ns` are left out; the others get the
  // deadline now_ns + duration.
  static std::shared_ptr<const DecisionSet> apply(const DecisionSet& base,
                                                  const StreamUpdate& update, bool startup,
                                                  std::int64_t now_ns);
  // `base` without the decisions expired at `now_ns` (gives their memory back).
  static std::shared_ptr<const DecisionSet> without_expired(const DecisionSet& base,
                                                            std::int64_t now_ns);

  // The decision that applies to a client at `now_ns`: its address (exact, or inside a range),
  // its country (two letters, any case; empty when unknown) or its AS number (0 when unknown).
  // Of several, a ban (or custom type) before a captcha. nullptr when none is active.
  const CrowdsecDecision* find(const IpAddress& ip, std::string_view country, std::uint32_t asn,
                               std::int64_t now_ns) const;

  std::size_t size() const { return decisions_.size(); }
  std::size_t count(DecisionScope scope) const {
    return section_[static_cast<int>(scope) + 1] - section_[static_cast<int>(scope)];
  }
  std::span<const CrowdsecDecision> decisions() const { return decisions_; }
  // The earliest deadline in the set (when a purge would free something); max when empty.
  std::int64_t next_expiry_ns() const { return next_expiry_ns_; }
  // Heap bytes held by the set's arrays and shared strings (bench/README.md).
  std::size_t memory_bytes() const;

 private:
  struct Slot {
    std::uint32_t tag = 0;  // high hash bits, for a cheap miss
    std::uint32_t index = std::numeric_limits<std::uint32_t>::max();  // first decision; max = empty
  };
  // Pieces of one address family's space: piece i is [starts[i], starts[i+1]) and is covered by
  // the decisions refs[ref_begin[i] .. ref_begin[i+1]), in precedence order.
  // For IPv4, `bucket` narrows the search: the pieces starting in the /16 of key k are
  // starts[bucket[k >> 16] .. bucket[(k >> 16) + 1]), so a lookup reads a few entries instead of
  // walking a binary search down a large array (each step a likely cache miss).
  template <typename Key>
  struct Intervals {
    std::vector<Key> starts;
    std::vector<std::uint32_t> ref_begin;
    std::vector<std::uint32_t> refs;
    std::vector<std::uint32_t> bucket;  // IPv4 only, when there are many pieces; 65 537 entries
    const std::uint32_t* lookup(Key key, const std::uint32_t** end) const;
    std::size_t memory_bytes() const;
  };

  static std::shared_ptr<const DecisionSet> build(
      std::vector<CrowdsecDecision> decisions,
      std::vector<std::shared_ptr<const DecisionText>> texts);
  void index_addresses();
  template <typename Key>
  void index_ranges(Intervals<Key>& into, bool v4);

  const CrowdsecDecision* find_ip(const IpAddress& ip, std::int64_t now_ns) const;
  const CrowdsecDecision* find_range(const IpAddress& ip, std::int64_t now_ns) const;
  const CrowdsecDecision* find_target(DecisionScope scope, std::uint32_t target,
                                      std::int64_t now_ns) const;

  std::vector<CrowdsecDecision> decisions_;
  std::vector<std::shared_ptr<const DecisionText>> texts_;  // what decisions_[i].text points to
  std::uint32_t section_[kDecisionScopeCount + 1] = {};     // scope s: [section_[s], section_[s+1])
  std::vector<Slot> slots_;                                 // exact addresses; size a power of two
  int slot_shift_ = 64;                                     // 64 - log2(slots_.size())
  Intervals<std::uint32_t> v4_ranges_;
  Intervals<u128> v6_ranges_;
  std::int64_t next_expiry_ns_ = std::numeric_limits<std::int64_t>::max();
};

}  // namespace edgeguard
