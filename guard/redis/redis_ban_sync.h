#pragma once
// Keeps this process's ban mirror equal to the bans in Redis, on the maintenance loop:
// - one subscription to the bans' channel (ban_keys.h): each `ban` message is held, each
//   `unban` lifts every ban of its subject. In a Redis Cluster a PUBLISH reaches the
//   subscribers of every node, so one subscription on any live node is enough; when it is
//   lost (or not confirmed within connect_timeout) the next node is tried every
//   probe_interval (Cluster: the seeds, then every node of the slot map, in turn);
// - a full resync (the resync op of ban_script.h, page by page) after each subscription and
//   every ban_resync_interval: it adds the bans whose messages were missed and lifts those
//   Redis no longer holds (lifted, expired or evicted while this process was not listening),
//   keeping the bans the local fallback made during an outage until they end;
// - the admin API's manual bans and unbans, run in Redis so that every replica applies them.
// Nothing here is on the request path: a ban check reads the table and never waits on Redis.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "guard/metrics/registry.h"
#include "guard/redis/ban_mirror.h"
#include "guard/redis/redis_connection.h"
#include "guard/redis/redis_shared_state.h"
#include "guard/redis/slot_client.h"

namespace edgeguard {

// What an operator sees of the ban sync (metrics; at zero in local mode, as RedisCounters).
struct BanSyncCounters {
  // edgeguard_redis_ban_messages_total: ban and unban messages received on the channel.
  std::atomic<std::uint64_t> messages{0};
  // edgeguard_redis_ban_resyncs_total{result="ok"|"error"}: full resyncs finished or failed.
  std::atomic<std::uint64_t> resyncs{0};
  std::atomic<std::uint64_t> resync_errors{0};
  // edgeguard_redis_ban_repairs_total: bans a resync added or lifted (what messages missed).
  std::atomic<std::uint64_t> repairs{0};
  // edgeguard_redis_pubsub_connects_total: subscriptions to the channel (first and after loss).
  std::atomic<std::uint64_t> subscriptions{0};

  static void write(MetricsWriter& w, const BanSyncCounters* counters);
};

class RedisBanSync {
 public:
  // `on_channel`: the subscription came up (true) or was lost (false), with the node, for logs.
  RedisBanSync(boost::asio::io_context& io, std::shared_ptr<RedisSharedState> shared,
               RedisBanMirror& mirror,
               std::function<void(bool up, const std::string& node)> on_channel = {});
  ~RedisBanSync();
  RedisBanSync(const RedisBanSync&) = delete;
  RedisBanSync& operator=(const RedisBanSync&) = delete;

  void start();
  void stop();  // on the loop, when draining
  void resync();
  bool subscribed() const { return subscribed_; }
  const BanSyncCounters& counters() const { return counters_; }

  // A ban by hand: replaces any ban of (subject, route), escalation count recorded, lasts
  // exactly `for_ns`. `done` gets the ban (until in this process's monotonic clock) or an
  // error, later on the loop.
  using BanDone = std::function<void(std::optional<Ban> made, std::string error)>;
  void ban(std::string subject, std::string route, std::int64_t for_ns,
           const Escalation& escalation, BanDone done);
  // Lifts every ban of `subject` on every replica. `done` gets how many were active (in Redis
  // or here, the larger) or an error, later on the loop.
  using UnbanDone = std::function<void(std::size_t lifted, std::string error)>;
  void unban(std::string subject, UnbanDone done);

  static constexpr std::size_t kResyncPage = 500;

 private:
  void subscribe_next();
  void schedule_subscribe();
  void on_channel_reply(std::uint64_t generation, redisReply* reply);
  void on_message(std::string_view payload);
  void channel_lost(const std::string& why);
  void resync_page(const std::string& cursor);
  void end_resync(bool ok);
  void arm_resync_timer();

  boost::asio::io_context& io_;
  std::shared_ptr<RedisSharedState> shared_;
  RedisBanMirror& mirror_;
  std::function<void(bool, const std::string&)> on_channel_;
  RedisSlotClient client_;
  BanSyncCounters counters_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak-captured by callbacks

  std::unique_ptr<RedisConnection> channel_conn_;
  std::uint64_t channel_generation_ = 0;  // answers of a replaced connection are ignored
  std::size_t rotation_ = 0;
  bool subscribed_ = false;
  bool stopped_ = false;
  boost::asio::steady_timer subscribe_timer_;  // retry, or give up on an unconfirmed subscribe

  bool resyncing_ = false;
  bool resync_again_ = false;
  std::int64_t resync_started_ns_ = 0;
  boost::asio::steady_timer resync_timer_;
};

}  // namespace edgeguard
