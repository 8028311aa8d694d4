#pragma once
// Rate-limit buckets shared through Redis (or a Redis Cluster), so several edgeguard replicas
// enforce one limit together. One RedisLimitStore per io thread, on that thread's io_context;
// all of them share one RedisSharedState (config, deny cache, Cluster slot map, counters).
//
// Per request: a key Redis recently denied is answered from the local deny cache; a request
// whose keys live on a node whose breaker is open is answered by the `on_error` policy at
// once; otherwise one EVALSHA of the GCRA script (gcra_script.h, called as gcra_call.h says)
// per hash-slot group goes out pipelined on this thread's connection(s) to the node serving
// that slot, bounded by `timeout_ns`, and a timeout or error applies `on_error` for that
// request.
//
// Bans (ban_keys.h): a denying call that carries a ban order bans its subject in Redis. In a
// standalone Redis the GCRA script itself does it (one round trip); in a Cluster the bans live
// in their own slot, so once the groups have answered, the denial that bans sends one more
// script there (README: why that is still correct). A ban this process's script made is held
// in the mirror at once and announced (logged, counted) here; if the ban step fails, the
// request is still denied and its ban is made by the local fallback's bans instead.
//
// Health is per node (breaker.h): `failure_threshold` consecutive failures on one node open its
// breaker, a probe every `probe_interval_ns` closes it as soon as the node answers, and the
// other nodes' slots are not affected. In a Cluster, a lost connection also asks for the slot
// map again and retries the group once on the slot's owner in the new map: that is how a
// replica promoted after its master died is found (cluster_routing.h).
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guard/redis/ban_mirror.h"
#include "guard/redis/ban_script.h"
#include "guard/redis/cluster_routing.h"
#include "guard/redis/gcra_call.h"
#include "guard/redis/node_pool.h"
#include "guard/redis/redis_shared_state.h"
#include "guard/store/store.h"

namespace edgeguard {

class RedisLimitStore final : public LimitStore {
 public:
  // `fallback` answers when on_error is `local` (may be shared with other threads; must be
  // thread-safe); it must outlive this store. `bans` (may be null: bans are then made in Redis
  // only) holds the bans this store's scripts make or find, and makes them when Redis cannot.
  // Connecting starts at once.
  RedisLimitStore(boost::asio::io_context& io, std::shared_ptr<RedisSharedState> shared,
                  LimitStore* fallback, RedisBanMirror* bans = nullptr);
  ~RedisLimitStore() override;

  std::optional<LimitOutcome> try_admit(std::span<const LimitCall> calls, std::int64_t now_ns,
                                        bool dry_run) override;
  void admit_async(std::span<const LimitCall> calls, std::int64_t now_ns, bool dry_run,
                   Completion done) override;
  void reset(std::span<const LimitCall> calls) override;
  // Buckets live in Redis; the fallback's buckets are counted by whoever owns it.
  std::size_t local_bucket_count() const override { return 0; }

  // Some node's breaker is open on this thread.
  bool breaker_open() const { return open_breakers_ > 0; }
  std::size_t in_flight() const;

 private:
  struct Group;
  struct Request;
  enum class Failure { error, timeout };
  using Clock = std::chrono::steady_clock;

  bool routes_to_open_breaker(std::span<const LimitCall> calls);
  std::shared_ptr<Request> recycled_request();
  void retire_completed();
  static void on_group_reply_raw(void* context, redisReply* reply);
  void send_group(const std::shared_ptr<Request>& req, std::size_t g, RedisNode& node, bool asking);
  void on_group_reply(const std::shared_ptr<Request>& req, std::size_t g, redisReply* reply);
  void group_lost(const std::shared_ptr<Request>& req, std::size_t g, const char* why);
  void reroute(const std::shared_ptr<Request>& req, std::size_t g, RedisNode& failed);
  void finish(const std::shared_ptr<Request>& req);
  void start_ban_step(const std::shared_ptr<Request>& req, int call, const LimitOutcome& decided);
  void apply_ban(const Request& req, const BanOrder& order, const BanStepReply& reply,
                 LimitOutcome& out);
  void ban_here(const Request& req, LimitOutcome& out);
  void fail(const std::shared_ptr<Request>& req, Failure why);
  void complete(const std::shared_ptr<Request>& req, const LimitOutcome& outcome);
  LimitOutcome on_error_outcome(std::span<const LimitCall> calls, std::int64_t now_ns,
                                bool dry_run);
  void send_refund(const Group& group);
  void arm_timeout();
  void sweep_timeouts();

  void node_failed(RedisNode& node, const std::string& why);
  void close_breaker(RedisNode& node, const std::string& why);
  void release_idle_breakers();
  void schedule_probe();
  void probe();

  boost::asio::io_context& io_;
  std::shared_ptr<RedisSharedState> shared_;
  const RedisStoreConfig& config_;
  LimitStore* fallback_;
  RedisBanMirror* bans_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak-captured by callbacks

  RedisNodePool pool_;
  std::optional<ClusterRouting> routing_;  // Cluster mode only; destroyed before the pool

  std::deque<std::shared_ptr<Request>> pending_;  // in deadline order (one timeout for all)
  std::vector<std::shared_ptr<Request>> spare_;   // completed, for reuse
  // Reused per command, so that sending one allocates nothing.
  std::string key_scratch_;
  std::vector<std::string_view> keys_scratch_;
  std::vector<GcraRate> rates_scratch_;
  GcraBanSection ban_section_scratch_;  // the orders of the group being written
  std::vector<std::string_view> argv_scratch_;
  boost::asio::steady_timer timeout_timer_;
  bool timeout_armed_ = false;

  int open_breakers_ = 0;  // nodes of pool_ whose breaker is open
  boost::asio::steady_timer probe_timer_;
};

}  // namespace edgeguard
