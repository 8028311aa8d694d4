#pragma once
// Redis Cluster routing for one io thread: which node serves each hash slot (from CLUSTER SLOTS,
// corrected by MOVED) and asking a node for the map again.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "guard/redis/cluster_slots.h"
#include "guard/redis/node_pool.h"

namespace edgeguard {

class ClusterRouting {
 public:
  explicit ClusterRouting(RedisNodePool& pool);
  ~ClusterRouting();
  ClusterRouting(const ClusterRouting&) = delete;
  ClusterRouting& operator=(const ClusterRouting&) = delete;

  // The master serving `slot`, or the first seed while the slot's owner is unknown (it answers
  // or redirects).
  RedisNode& node_for_slot(int slot);

  // A MOVED: `target` serves the slot from now on. The whole map is asked for again, since a
  // moved slot rarely moves alone.
  void on_moved(const Redirect& moved);

  // Asks the next node in turn for the slot map, unless a refresh is in flight or one started
  // less than 50 ms ago.
  void refresh();

  // Asks the next node in turn for the slot map now; `installed` runs once a valid map from it
  // is installed (never if it does not answer with one).
  void fetch(std::function<void()> installed);

 private:
  using Clock = std::chrono::steady_clock;
  void install(SlotMap map);
  RedisNode& next_node();

  RedisNodePool& pool_;
  SlotMap slots_;
  std::vector<RedisNode*> slot_nodes_;  // parallel to slots_.masters
  bool refresh_in_flight_ = false;
  Clock::time_point last_refresh_{};
  std::size_t rotation_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak-captured by callbacks
};

}  // namespace edgeguard
