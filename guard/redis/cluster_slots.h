#pragma once
// Redis Cluster addressing: which of the 16384 hash slots a key lives in (CRC16 of the key, or
// of its `{hash tag}`), and which master serves each slot (from `CLUSTER SLOTS`).
#include <hiredis/hiredis.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "guard/redis/redis_connection.h"

namespace edgeguard {

inline constexpr int kClusterSlots = 16384;

std::uint16_t crc16_xmodem(std::string_view bytes);

// Redis's rule: if the key has a '{' followed later by a '}' with at least one byte between
// them, only those bytes are hashed.
int key_hash_slot(std::string_view key);

struct SlotMap {
  std::vector<RedisEndpoint> masters;
  std::array<std::int16_t, kClusterSlots> owner;  // index into masters, -1 = unknown
  std::vector<RedisEndpoint> replicas;  // more nodes to ask for the map when a master is down
  SlotMap() { owner.fill(-1); }

  // Index of `endpoint` in masters, adding it if new.
  int intern(const RedisEndpoint& endpoint);
};

// Parses a `CLUSTER SLOTS` reply; an empty IP means "the node you asked" (`asked`). Each range
// is {first, last, master, replica...}; a node is {ip, port, id, ...}.
std::optional<SlotMap> parse_cluster_slots(const redisReply* reply, const RedisEndpoint& asked);

// Parses the target of a "MOVED 3999 127.0.0.1:6381" / "ASK ..." error.
struct Redirect {
  bool ask = false;
  int slot = 0;
  RedisEndpoint target;
};
std::optional<Redirect> parse_redirect(std::string_view error);

}  // namespace edgeguard
