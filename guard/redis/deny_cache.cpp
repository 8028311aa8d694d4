#include "guard/redis/deny_cache.h"

#include <algorithm>

namespace edgeguard {

DenyCache::DenyCache(std::size_t max_entries)
    : max_per_shard_(std::max<std::size_t>(1, max_entries / kShards)) {}

std::optional<DenyCache::Entry> DenyCache::find(std::string_view key, std::uint64_t key_hash,
                                                std::int64_t now_ns) const {
  Shard& s = shard(key_hash);
  std::lock_guard lock(s.mu);
  if (s.entries.empty()) return std::nullopt;
  const auto it = s.entries.find(key);
  if (it == s.entries.end()) return std::nullopt;
  if (it->second.until_ns <= now_ns) {
    s.entries.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void DenyCache::insert(std::string_view key, std::uint64_t key_hash, Entry entry,
                       std::int64_t now_ns) {
  if (entry.until_ns <= now_ns) return;
  Shard& s = shard(key_hash);
  std::lock_guard lock(s.mu);
  const auto it = s.entries.find(key);
  if (it != s.entries.end()) {
    it->second = entry;
    return;
  }
  if (s.entries.size() >= max_per_shard_) {
    std::erase_if(s.entries, [now_ns](const auto& kv) { return kv.second.until_ns <= now_ns; });
    if (s.entries.size() >= max_per_shard_) s.entries.clear();
  }
  s.entries.emplace(std::string(key), entry);
}

std::size_t DenyCache::size() const {
  std::size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace edgeguard
