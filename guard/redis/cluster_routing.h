#pragma once
// Redis Cluster routing: which master serves each hash slot, and asking the cluster again.
//
// The slot map is a fact about the cluster, the same for every io thread, so a process keeps
// one (SharedSlotMap, a Published<SlotMap>) and what any thread learns routes every thread's next
// request: a thread that had no traffic for a moved slot does not have to fail on it first, and the
// map is asked for once per process rather than once per thread. Connections and breakers stay per
// thread (a stalled connection is one thread's), so ClusterRouting routes over this thread's
// RedisNodePool.
//
// The map is asked for again after a MOVED, after a connection to a node failed (a master
// killed outright never answers MOVED: its replica's promotion shows only in a fresh map), and
// while a node's breaker is open. A refresh asks one node at a time, rotating through every
// node it knows (seeds, masters, replicas), skipping nodes whose breaker is open, and moves on
// to the next when one fails or does not answer in time.
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "guard/redis/cluster_slots.h"
#include "guard/redis/node_pool.h"
#include "guard/sync/published.h"

namespace edgeguard {

// One per process. Readers check the generation (one atomic load per request) and copy the
// map only when it changed.
using SharedSlotMap = Published<SlotMap>;

class ClusterRouting {
 public:
  // `seeds`: the configured nodes. `attempt_timeout_ns`: how long one node may take to answer
  // CLUSTER SLOTS before the next is asked.
  ClusterRouting(RedisNodePool& pool, SharedSlotMap& shared, std::vector<RedisEndpoint> seeds,
                 std::int64_t attempt_timeout_ns);
  ~ClusterRouting();
  ClusterRouting(const ClusterRouting&) = delete;
  ClusterRouting& operator=(const ClusterRouting&) = delete;

  // Runs each time this thread adopts a newer map (its own refresh or another thread's).
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }

  // Adopts the process's latest map if it changed since this thread last looked.
  void sync() {
    if (shared_.generation() != generation_) adopt();
  }

  // The master serving `slot` in the map this thread last adopted, or the first seed while the
  // slot's owner is unknown (it answers or redirects).
  RedisNode& node_for_slot(int slot);
  // `endpoint` is a master in the current map.
  bool is_master(const RedisEndpoint& endpoint) const;

  // A MOVED: `target` serves the slot from now on. The whole map is asked for again, since a
  // moved slot rarely moves alone.
  void on_moved(const Redirect& moved);

  // Asks for the map again, unless a refresh is in flight or one started less than 50 ms ago.
  void refresh();
  // Asks for the map again now (or joins the refresh in flight) and runs `then` once that
  // refresh has ended, with or without a new map.
  void refresh_then(std::function<void()> then);

 private:
  using Clock = std::chrono::steady_clock;
  void start_refresh();
  void ask_next(std::size_t attempts_left);
  void end_refresh();
  void adopt();
  std::vector<RedisEndpoint> sources() const;

  RedisNodePool& pool_;
  SharedSlotMap& shared_;
  std::vector<RedisEndpoint> seeds_;
  std::chrono::nanoseconds attempt_timeout_;
  std::function<void()> on_change_;

  std::shared_ptr<const SlotMap> map_;
  std::uint64_t generation_ = ~std::uint64_t{0};
  std::vector<RedisNode*> slot_nodes_;  // parallel to map_->masters

  bool refreshing_ = false;
  std::uint64_t attempt_ = 0;  // answers to an abandoned attempt are ignored
  Clock::time_point last_refresh_{};
  std::size_t rotation_ = 0;
  std::vector<std::function<void()>> waiters_;
  boost::asio::steady_timer attempt_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak-captured by callbacks
};

}  // namespace edgeguard
