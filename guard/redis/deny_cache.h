#pragma once
// Keys Redis said are over their limit, until the time Redis said they admit again. Answering
// those locally means a flood from one address costs Redis one command per retry period.
// Shared by every io thread (a flood spreads over all of them), so it is sharded by key hash
// with one small lock per shard. Bounded: a full shard first drops expired entries, then
// everything (the cache only saves work; forgetting an entry costs one Redis round trip).
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edgeguard {

class DenyCache {
 public:
  struct Entry {
    std::int64_t until_ns = 0;  // caller's monotonic clock
    std::int64_t reset_at_ns = 0;
  };

  explicit DenyCache(std::size_t max_entries = 1 << 16);

  std::optional<Entry> find(std::string_view key, std::uint64_t key_hash,
                            std::int64_t now_ns) const;
  void insert(std::string_view key, std::uint64_t key_hash, Entry entry, std::int64_t now_ns);
  std::size_t size() const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries;
  };
  static constexpr std::size_t kShards = 16;
  Shard& shard(std::uint64_t key_hash) const { return shards_[(key_hash >> 60) % kShards]; }

  std::size_t max_per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace edgeguard
