#include "guard/bans/offence_log.h"

#include <algorithm>

#include "guard/bans/ban_table.h"

namespace edgeguard {

std::int64_t OffenceLog::record(std::string_view subject, std::int64_t now_ns,
                                std::int64_t memory_ns) {
  const std::uint64_t key = BanTable::key_of(subject, {});
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= max_subjects_) make_room(now_ns, memory_ns);
    it = entries_.emplace(key, Entry{}).first;
  }
  Entry& e = it->second;
  if (e.count > 0 && now_ns - e.last_ns > memory_ns) e.count = 0;  // memory is the quiet gap
  ++e.count;
  e.last_ns = now_ns;
  return e.count;
}

std::int64_t OffenceLog::peek(std::string_view subject, std::int64_t now_ns,
                              std::int64_t memory_ns) const {
  const std::uint64_t key = BanTable::key_of(subject, {});
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || now_ns - it->second.last_ns > memory_ns) return 1;
  return it->second.count + 1;
}

std::size_t OffenceLog::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void OffenceLog::make_room(std::int64_t now_ns, std::int64_t memory_ns) {
  std::erase_if(entries_, [&](const auto& kv) { return now_ns - kv.second.last_ns > memory_ns; });
  if (entries_.size() < max_subjects_) return;
  // Still full of remembered offences: forget the oldest quarter at once, so a flood of new
  // subjects costs one scan per max_subjects / 4 insertions, not one each.
  std::vector<std::int64_t> lasts;
  lasts.reserve(entries_.size());
  for (const auto& kv : entries_) lasts.push_back(kv.second.last_ns);
  const auto quarter = lasts.begin() + static_cast<std::ptrdiff_t>(lasts.size() / 4);
  std::nth_element(lasts.begin(), quarter, lasts.end());
  const std::int64_t cut = *quarter;
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.last_ns <= cut; });
}

}  // namespace edgeguard
