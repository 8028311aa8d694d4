#include "guard/redis/cluster_slots.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace edgeguard {

std::uint16_t crc16_xmodem(std::string_view bytes) {
  std::uint16_t crc = 0;
  for (unsigned char byte : bytes) {
    crc ^= static_cast<std::uint16_t>(byte) << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

int key_hash_slot(std::string_view key) {
  const auto open = key.find('{');
  if (open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return crc16_xmodem(key) & (kClusterSlots - 1);
}

int SlotMap::intern(const RedisEndpoint& endpoint) {
  for (std::size_t i = 0; i < masters.size(); ++i) {
    if (masters[i] == endpoint) return static_cast<int>(i);
  }
  masters.push_back(endpoint);
  return static_cast<int>(masters.size() - 1);
}

std::optional<SlotMap> parse_cluster_slots(const redisReply* reply, const RedisEndpoint& asked) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return std::nullopt;
  SlotMap map;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* range = reply->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) return std::nullopt;
    const redisReply* first = range->element[0];
    const redisReply* last = range->element[1];
    const redisReply* master = range->element[2];
    if (first->type != REDIS_REPLY_INTEGER || last->type != REDIS_REPLY_INTEGER ||
        master->type != REDIS_REPLY_ARRAY || master->elements < 2 ||
        master->element[0]->type != REDIS_REPLY_STRING ||
        master->element[1]->type != REDIS_REPLY_INTEGER || master->element[1]->integer <= 0 ||
        master->element[1]->integer > 65535) {
      return std::nullopt;
    }
    RedisEndpoint endpoint{std::string(master->element[0]->str, master->element[0]->len),
                           static_cast<int>(master->element[1]->integer)};
    if (endpoint.host.empty() || endpoint.host == "?") endpoint.host = asked.host;
    const int index = map.intern(endpoint);
    if (first->integer < 0 || last->integer >= kClusterSlots || first->integer > last->integer) {
      return std::nullopt;
    }
    for (long long slot = first->integer; slot <= last->integer; ++slot) {
      map.owner[static_cast<std::size_t>(slot)] = static_cast<std::int16_t>(index);
    }
    for (std::size_t r = 3; r < range->elements; ++r) {
      const redisReply* replica = range->element[r];
      // Only a hint of where else to ask: one that is not shaped like a node is skipped.
      if (replica->type != REDIS_REPLY_ARRAY || replica->elements < 2 ||
          replica->element[0]->type != REDIS_REPLY_STRING ||
          replica->element[1]->type != REDIS_REPLY_INTEGER || replica->element[1]->integer <= 0 ||
          replica->element[1]->integer > 65535) {
        continue;
      }
      RedisEndpoint node{std::string(replica->element[0]->str, replica->element[0]->len),
                         static_cast<int>(replica->element[1]->integer)};
      if (node.host.empty() || node.host == "?") node.host = asked.host;
      if (std::find(map.replicas.begin(), map.replicas.end(), node) == map.replicas.end()) {
        map.replicas.push_back(std::move(node));
      }
    }
  }
  return map;
}

std::optional<Redirect> parse_redirect(std::string_view error) {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.ask = true;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto [end, ec] = std::from_chars(error.data(), error.data() + space, r.slot);
  if (ec != std::errc() || end != error.data() + space || r.slot < 0 || r.slot >= kClusterSlots) {
    return std::nullopt;
  }
  auto target = parse_redis_endpoint(error.substr(space + 1));
  if (!target) return std::nullopt;
  r.target = std::move(*target);
  return r;
}

}  // namespace edgeguard
