#include "guard/bans/ban_table.h"

#include <algorithm>
#include <bit>

#include "guard/text/seeded_hash.h"

namespace edgeguard {
namespace {

// The key of (subject, route) from the subject's hash: a lookup on a route and on every route
// hashes the subject once.
std::uint64_t key_from(std::uint64_t subject_hash, std::string_view route) {
  const std::uint64_t k = seeded_hash(route, subject_hash);
  return k == 0 ? 1 : k;
}

}  // namespace

std::uint64_t BanTable::key_of(std::string_view subject, std::string_view route) {
  return key_from(seeded_hash(subject, process_hash_seed()), route);
}

BanTable::BanTable(std::size_t max_active)
    : max_active_(std::max<std::size_t>(max_active, 1)),
      mask_(std::bit_ceil(std::max<std::size_t>(16, max_active_ * 4)) - 1),
      slots_(std::make_unique<Slot[]>(mask_ + 1)) {}

BanTable::Slot* BanTable::find_slot(std::uint64_t key, std::size_t* probes_out) const {
  std::size_t probes = 0;
  Slot* found = nullptr;
  for (std::size_t i = key & mask_; probes < probe_limit(); i = (i + 1) & mask_) {
    ++probes;
    const std::uint64_t k = slots_[i].key.load(std::memory_order_acquire);
    if (k == key) found = &slots_[i];
    if (k == key || k == 0) break;
  }
  if (probes_out != nullptr) *probes_out = probes;
  return found;
}

std::int64_t BanTable::banned_until(std::string_view subject, std::string_view route,
                                    std::int64_t now_ns) const {
  std::int64_t until = 0;
  const std::uint64_t subject_hash = seeded_hash(subject, process_hash_seed());
  for (const std::string_view scope : {route, kEveryRoute}) {
    const std::uint64_t key = key_from(subject_hash, scope);
    const Slot* s = find_slot(key);
    if (s == nullptr) continue;
    // A writer reusing this slot for another key zeroes `until`, then writes the key, then the
    // new `until`: reading the key again tells whether the value read belongs to `key`.
    const std::int64_t u = s->until.load(std::memory_order_acquire);
    if (s->key.load(std::memory_order_acquire) != key) continue;
    until = std::max(until, u);
  }
  return until > now_ns ? until : 0;
}

std::optional<Ban> BanTable::find(std::string_view subject, std::string_view route,
                                  std::int64_t now_ns) const {
  std::lock_guard lock(mu_);
  const Ban* best = nullptr;
  for (const std::string_view scope : {route, kEveryRoute}) {
    auto it = records_.find(key_of(subject, scope));
    if (it != records_.end() && it->second.until_ns > now_ns &&
        (best == nullptr || it->second.until_ns > best->until_ns)) {
      best = &it->second;
    }
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

void BanTable::drop_expired(std::int64_t now_ns) {
  std::erase_if(records_, [&](const auto& kv) {
    if (kv.second.until_ns > now_ns) return false;
    if (Slot* s = find_slot(kv.first)) s->until.store(0, std::memory_order_release);
    return true;
  });
  active_hint_.store(records_.size(), std::memory_order_relaxed);
}

BanTable::Slot* BanTable::slot_for_insert(std::uint64_t key, std::int64_t now_ns) {
  Slot* reusable = nullptr;
  for (std::size_t i = key & mask_, probes = 0; probes < probe_limit();
       ++probes, i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    const std::uint64_t k = s.key.load(std::memory_order_relaxed);
    if (k == key) return &s;
    if (k == 0) return reusable != nullptr ? reusable : &s;
    // A slot whose ban is over and whose record is gone belongs to nobody.
    if (reusable == nullptr && s.until.load(std::memory_order_relaxed) <= now_ns &&
        !records_.contains(k)) {
      reusable = &s;
    }
  }
  // The window is full of keys whose records are held: none is free (the caller drops the
  // ended records and tries again), or this key has its slot here.
  return reusable;
}

std::size_t BanTable::probes_for(std::string_view subject, std::string_view route) const {
  std::size_t probes = 0;
  find_slot(key_of(subject, route), &probes);
  return probes;
}

bool BanTable::make_room(std::int64_t until_ns, std::int64_t now_ns) {
  // A ban that would end no later than those last made to give way would be the next to go.
  if (until_ns <= give_way_before_ns_) return false;
  drop_expired(now_ns);
  if (records_.size() < max_active_) return true;
  // Full of active bans: the quarter nearest their end give way at once, so a flood of new
  // offenders costs one scan per max_active / 4 bans, not one each.
  std::vector<std::int64_t> ends;
  ends.reserve(records_.size());
  for (const auto& kv : records_) ends.push_back(kv.second.until_ns);
  const auto quarter =
      ends.begin() + static_cast<std::ptrdiff_t>(std::max<std::size_t>(ends.size() / 4, 1) - 1);
  std::nth_element(ends.begin(), quarter, ends.end());
  give_way_before_ns_ = *quarter;
  if (until_ns <= give_way_before_ns_) return false;
  std::erase_if(records_, [&](const auto& kv) {
    if (kv.second.until_ns > give_way_before_ns_) return false;
    if (Slot* s = find_slot(kv.first)) s->until.store(0, std::memory_order_release);
    return true;
  });
  active_hint_.store(records_.size(), std::memory_order_relaxed);
  return true;
}

bool BanTable::insert(Ban ban, std::int64_t now_ns) {
  if (ban.until_ns <= now_ns) return true;  // already over: nothing to hold
  const std::uint64_t key = key_of(ban.subject, ban.route);
  std::lock_guard lock(mu_);
  if (!records_.contains(key) && records_.size() >= max_active_ &&
      !make_room(ban.until_ns, now_ns)) {
    return false;
  }
  Slot* slot = slot_for_insert(key, now_ns);
  if (slot == nullptr) {
    drop_expired(now_ns);  // ended records free their slots
    slot = slot_for_insert(key, now_ns);
  }
  if (slot == nullptr) return false;
  if (slot->key.load(std::memory_order_relaxed) != key) {
    slot->until.store(0, std::memory_order_release);
    slot->key.store(key, std::memory_order_release);
  }
  slot->until.store(ban.until_ns, std::memory_order_release);
  records_[key] = std::move(ban);
  active_hint_.store(records_.size(), std::memory_order_relaxed);
  return true;
}

template <typename Which>
std::size_t BanTable::lift_if(Which which, std::int64_t now_ns) {
  std::size_t lifted = 0;
  std::erase_if(records_, [&](const auto& kv) {
    if (!which(kv.second)) return false;
    if (kv.second.until_ns > now_ns) ++lifted;
    if (Slot* s = find_slot(kv.first)) s->until.store(0, std::memory_order_release);
    return true;
  });
  active_hint_.store(records_.size(), std::memory_order_relaxed);
  return lifted;
}

std::size_t BanTable::remove(std::string_view subject, std::int64_t now_ns) {
  std::lock_guard lock(mu_);
  return lift_if([&](const Ban& b) { return b.subject == subject; }, now_ns);
}

bool BanTable::remove(std::string_view subject, std::string_view route, std::int64_t now_ns) {
  const std::uint64_t key = key_of(subject, route);
  std::lock_guard lock(mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return false;
  const bool active = it->second.until_ns > now_ns;
  if (Slot* s = find_slot(key)) s->until.store(0, std::memory_order_release);
  records_.erase(it);
  active_hint_.store(records_.size(), std::memory_order_relaxed);
  return active;
}

std::optional<Ban> BanTable::get(std::string_view subject, std::string_view route) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(key_of(subject, route));
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::size_t BanTable::drop_unconfirmed(std::int64_t before_ns, std::int64_t now_ns) {
  std::lock_guard lock(mu_);
  return lift_if([&](const Ban& b) { return b.confirmed_ns != 0 && b.confirmed_ns < before_ns; },
                 now_ns);
}

std::size_t BanTable::remove_route(std::string_view route, std::int64_t now_ns) {
  std::lock_guard lock(mu_);
  return lift_if([&](const Ban& b) { return b.route == route; }, now_ns);
}

std::vector<Ban> BanTable::list(std::int64_t now_ns) const {
  std::vector<Ban> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, ban] : records_) {
      if (ban.until_ns > now_ns) out.push_back(ban);
    }
  }
  std::sort(out.begin(), out.end(), [](const Ban& a, const Ban& b) {
    return a.until_ns != b.until_ns ? a.until_ns < b.until_ns : a.subject < b.subject;
  });
  return out;
}

std::size_t BanTable::active(std::int64_t now_ns) const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(
      records_.begin(), records_.end(), [&](auto& kv) { return kv.second.until_ns > now_ns; }));
}

}  // namespace edgeguard
