#pragma once
// What every io thread's RedisLimitStore shares within one process: the validated settings, the
// connection handshake, the deny cache, the counters and the count of open breakers.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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
};

// Monotonic counters, read by the metrics component by name.
struct RedisCounters {
  std::atomic<std::uint64_t> commands{0};          // decision scripts sent (retries included)
  std::atomic<std::uint64_t> replies{0};           // decision scripts answered in time
  std::atomic<std::uint64_t> errors{0};            // requests failed by an error or lost link
  std::atomic<std::uint64_t> timeouts{0};          // requests failed by the timeout
  std::atomic<std::uint64_t> fallback_answers{0};  // answered by the on_error policy
  std::atomic<std::uint64_t> deny_cache_hits{0};
  std::atomic<std::uint64_t> noscript{0};
  std::atomic<std::uint64_t> moved{0};
  std::atomic<std::uint64_t> ask{0};
  std::atomic<std::uint64_t> refunds{0};
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> slot_refreshes{0};
  std::atomic<std::uint64_t> breaker_opens{0};
  std::atomic<std::uint64_t> latency_ns_total{0};  // sum of round trips of answered requests
  std::atomic<std::uint64_t> latency_samples{0};
};

class RedisSharedState {
 public:
  // Reads `password_file` and checks the addresses. Returns nullptr and sets *error on failure
  // (a startup/reload error, never a request-path one).
  static std::shared_ptr<RedisSharedState> create(RedisStoreConfig config, std::string* error);

  const RedisStoreConfig& config() const { return config_; }
  bool cluster() const { return !config_.nodes.empty(); }
  // The standalone address, or the Cluster seeds.
  const std::vector<RedisEndpoint>& seeds() const { return seeds_; }
  const RedisHandshake& handshake() const { return handshake_; }

  // Some io thread's breaker is open: its requests are answered by `on_error` (for /readyz
  // and edgeguard_store_fallback_active).
  bool fallback_active() const { return open_breakers_.load(std::memory_order_relaxed) > 0; }
  RedisCounters& counters() { return counters_; }
  const RedisCounters& counters() const { return counters_; }
  DenyCache& deny_cache() { return deny_cache_; }

  // Optional observers; set before the stores start serving. They run on io threads.
  // `latency`: each answered decision's round trip (for edgeguard_redis_seconds).
  // `breaker`: a thread's breaker opened (true) or closed (false), with a reason, for logs.
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
  std::function<void(std::int64_t)> on_latency_;
  std::function<void(bool, const std::string&)> on_breaker_;
};

}  // namespace edgeguard
