#include "guard/redis/cluster_routing.h"

#include <string_view>

namespace edgeguard {
namespace {

constexpr auto kMinRefreshInterval = std::chrono::milliseconds(50);

}  // namespace

ClusterRouting::ClusterRouting(RedisNodePool& pool) : pool_(pool) {}

ClusterRouting::~ClusterRouting() {
  alive_.reset();
}

RedisNode& ClusterRouting::node_for_slot(int slot) {
  const int index = slots_.owner[static_cast<std::size_t>(slot)];
  if (index < 0) return pool_.at(0);  // unknown yet: a seed answers or redirects
  RedisNode*& cached = slot_nodes_[static_cast<std::size_t>(index)];
  if (cached == nullptr) cached = &pool_.node(slots_.masters[static_cast<std::size_t>(index)]);
  return *cached;
}

void ClusterRouting::on_moved(const Redirect& moved) {
  const int index = slots_.intern(moved.target);
  slots_.owner[static_cast<std::size_t>(moved.slot)] = static_cast<std::int16_t>(index);
  slot_nodes_.resize(slots_.masters.size(), nullptr);
  refresh();
}

RedisNode& ClusterRouting::next_node() {
  return pool_.at(rotation_++ % pool_.size());
}

void ClusterRouting::refresh() {
  const auto now = Clock::now();
  if (refresh_in_flight_ || now - last_refresh_ < kMinRefreshInterval) return;
  RedisNode& node = next_node();
  RedisConnection* conn = pool_.connection(node);
  if (conn == nullptr) return;
  refresh_in_flight_ = true;
  last_refresh_ = now;
  const std::string_view argv[] = {"CLUSTER", "SLOTS"};
  conn->command(argv, [this, alive = std::weak_ptr<int>(alive_),
                       endpoint = node.endpoint](redisReply* reply) {
    if (alive.expired()) return;
    refresh_in_flight_ = false;
    if (auto map = parse_cluster_slots(reply, endpoint)) install(std::move(*map));
  });
}

void ClusterRouting::fetch(std::function<void()> installed) {
  RedisNode& node = next_node();
  RedisConnection* conn = pool_.connection(node);
  if (conn == nullptr) return;
  const std::string_view argv[] = {"CLUSTER", "SLOTS"};
  conn->command(argv, [this, alive = std::weak_ptr<int>(alive_), endpoint = node.endpoint,
                       installed = std::move(installed)](redisReply* reply) {
    if (alive.expired() || reply == nullptr || reply->type == REDIS_REPLY_ERROR) return;
    auto map = parse_cluster_slots(reply, endpoint);
    if (!map) return;
    install(std::move(*map));
    installed();
  });
}

void ClusterRouting::install(SlotMap map) {
  slots_ = std::move(map);
  slot_nodes_.assign(slots_.masters.size(), nullptr);
  for (const RedisEndpoint& master : slots_.masters) pool_.node(master);
}

}  // namespace edgeguard
