#pragma once
// What every io thread's RedisLimitStore shares within one process: the validated settings, the
// connection handshake, the deny cache, the Cluster slot map, the counters and the count of
// open breakers.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "guard/metrics/registry.h"
#include "guard/redis/ban_keys.h"
#include "guard/redis/cluster_routing.h"
#include "guard/redis/deny_cache.h"
#include "guard/redis/redis_connection.h"

namespace edgeguard {

struct RedisStoreConfig {
  std::string address;             // host:port of a standalone Redis
  std::vector<std::string> nodes;  // Redis Cluster seed nodes; non-empty selects Cluster mode
  std::string username, password_file;
  int db = 0;  // standalone only (a Cluster has only db 0)
  std::int64_t timeout_ns = 20'000'000;
  enum class OnError { local, allow, deny } on_error = OnError::local;
  int connections = 1;  // per io thread and per Redis node
  std::string key_prefix = "edgeguard:";
  std::int64_t connect_timeout_ns = 500'000'000;
  int failure_threshold = 3;
  std::int64_t probe_interval_ns = 250'000'000;
  std::size_t deny_cache_entries = 1 << 16;
  // Bans (ban_keys.h): at most this many held in Redis, as in each replica's table
  // (bans.max_active); a full resync of the active set this often (and after each
  // re-subscription); the ban commands of the maintenance loop (admin API, resync pages) each
  // wait at most this long.
  std::size_t bans_max_active = 100'000;
  std::int64_t ban_resync_interval_ns = 30'000'000'000;
  std::int64_t ban_command_timeout_ns = 1'000'000'000;
};

// What an operator needs to see of the Redis link, per process. Owned by RedisSharedState,
// counted by every io thread's store, rendered by the metrics registry under the names below.
// Kept: the load put on Redis, each way a decision can miss Redis (and how often the on_error
// policy answered instead), what the deny cache saves, topology changes, connection churn and
// outages. Deleted (issue 11): decision replies (commands minus failures), NOSCRIPT retries and
// refunds (rare, one round trip, nothing to act on), slot-map refreshes (an implementation
// detail; redirects and errors show topology changes), and a latency sum and count that
// duplicated the edgeguard_redis_seconds histogram.
struct RedisCounters {
  // edgeguard_redis_commands_total: decision scripts sent (retries and redirects included).
  std::atomic<std::uint64_t> commands{0};
  // edgeguard_redis_errors_total: decisions failed by an error reply or a lost connection.
  std::atomic<std::uint64_t> errors{0};
  // edgeguard_redis_timeouts_total: decisions failed by `timeout` (Redis slow or stalled).
  std::atomic<std::uint64_t> timeouts{0};
  // edgeguard_redis_fallback_answers_total: decisions answered by the on_error policy (after
  // a failure, or at once while a breaker is open): not shared with the other replicas.
  std::atomic<std::uint64_t> fallback_answers{0};
  // edgeguard_redis_deny_cache_hits_total: denials answered from the deny cache, no command.
  std::atomic<std::uint64_t> deny_cache_hits{0};
  // edgeguard_redis_redirects_total{kind="moved"} / {kind="ask"}: Cluster slot moves followed.
  std::atomic<std::uint64_t> moved{0};
  std::atomic<std::uint64_t> ask{0};
  // edgeguard_redis_connects_total: connections opened (first ones and every reconnection).
  std::atomic<std::uint64_t> connects{0};
  // edgeguard_redis_breaker_opens_total: breakers opened, so an outage shorter than the scrape
  // interval still shows (edgeguard_store_fallback_active only shows the current state).
  std::atomic<std::uint64_t> breaker_opens{0};

  // The series above (all at zero in local mode, so the names are the same in every setup).
  static void write(MetricsWriter& w, const RedisCounters* counters);
};

class RedisSharedState {
 public:
  // Reads `password_file` and checks the addresses. Returns nullptr and sets *error on failure
  // (a startup/reload error, never a request-path one). Also makes SIGPIPE ignored in the
  // process (hiredis writes with write(2); see the .cpp).
  static std::shared_ptr<RedisSharedState> create(RedisStoreConfig config, std::string* error);

  const RedisStoreConfig& config() const { return config_; }
  bool cluster() const { return !config_.nodes.empty(); }
  // The standalone address, or the Cluster seeds.
  const std::vector<RedisEndpoint>& seeds() const { return seeds_; }
  const RedisHandshake& handshake() const { return handshake_; }

  // Some io thread has a breaker open on a node that serves slots: requests for those slots are
  // answered by `on_error` (for edgeguard_store_fallback_active).
  bool fallback_active() const { return open_breakers_.load(std::memory_order_relaxed) > 0; }
  RedisCounters& counters() { return counters_; }
  const RedisCounters& counters() const { return counters_; }
  DenyCache& deny_cache() { return deny_cache_; }
  // Cluster mode: the slot map every io thread routes by (cluster_routing.h says why one).
  SharedSlotMap& slot_map() { return slot_map_; }
  const BanKeys& ban_keys() const { return ban_keys_; }

  // Optional observers; set before the stores start serving. They run on io threads.
  // `latency`: each answered decision's round trip (for edgeguard_redis_seconds).
  // `breaker`: a thread's breaker on a node opened (true) or closed (false), with a reason that
  // names the node, for logs.
  void set_observers(std::function<void(std::int64_t ns)> latency,
                     std::function<void(bool open, const std::string& why)> breaker);

  // Called by the stores: keep the open-breaker count and tell the observers. `dropped`: a
  // store went away with its breaker open (nothing to log).
  void breaker_opened(const std::string& why);
  void breaker_closed(const std::string& why);
  void breaker_dropped() { open_breakers_.fetch_sub(1, std::memory_order_relaxed); }
  void observe_latency(std::int64_t ns) const {
    if (on_latency_) on_latency_(ns);
  }

  RedisSharedState(RedisStoreConfig config, std::vector<RedisEndpoint> seeds,
                   RedisHandshake handshake);

 private:
  RedisStoreConfig config_;
  std::vector<RedisEndpoint> seeds_;
  RedisHandshake handshake_;
  std::atomic<int> open_breakers_{0};
  RedisCounters counters_;
  DenyCache deny_cache_;
  SharedSlotMap slot_map_{std::make_shared<const SlotMap>()};
  BanKeys ban_keys_;
  std::function<void(std::int64_t)> on_latency_;
  std::function<void(bool, const std::string&)> on_breaker_;
};

}  // namespace edgeguard
