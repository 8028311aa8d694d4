#pragma once
// Rate-limit buckets shared through Redis (or a Redis Cluster), so several edgeguard replicas
// enforce one limit together. One RedisLimitStore per io thread, on that thread's io_context;
// all of them share one RedisSharedState (config, deny cache, counters, breaker summary).
//
// Per request: a key Redis recently denied is answered from the local deny cache; while this
// thread's breaker is open the `on_error` policy answers at once; otherwise one EVALSHA of the
// GCRA script (gcra_script.h) per hash-slot group goes out pipelined on this thread's
// connection(s), bounded by `timeout_ns`, and a timeout or error applies `on_error` for that
// request. `failure_threshold` consecutive failures open the breaker; a probe every
// `probe_interval_ns` closes it as soon as Redis answers again.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "guard/redis/cluster_slots.h"
#include "guard/redis/deny_cache.h"
#include "guard/redis/redis_connection.h"
#include "guard/store/store.h"

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

  RedisSharedState(RedisStoreConfig config, std::vector<RedisEndpoint> seeds,
                   RedisHandshake handshake);

 private:
  friend class RedisLimitStore;

  RedisStoreConfig config_;
  std::vector<RedisEndpoint> seeds_;  // the standalone address, or the Cluster seeds
  RedisHandshake handshake_;
  std::atomic<int> open_breakers_{0};
  RedisCounters counters_;
  DenyCache deny_cache_;
  std::function<void(std::int64_t)> on_latency_;
  std::function<void(bool, const std::string&)> on_breaker_;
};

class RedisLimitStore final : public LimitStore {
 public:
  // `fallback` answers when on_error is `local` (may be shared with other threads; must be
  // thread-safe); it must outlive this store. Connecting starts at once.
  RedisLimitStore(boost::asio::io_context& io, std::shared_ptr<RedisSharedState> shared,
                  LimitStore* fallback);
  ~RedisLimitStore() override;

  std::optional<LimitOutcome> try_admit(std::span<const LimitCall> calls, std::int64_t now_ns,
                                        bool dry_run) override;
  void admit_async(std::span<const LimitCall> calls, std::int64_t now_ns, bool dry_run,
                   Completion done) override;
  void reset(std::span<const LimitCall> calls) override;
  // Buckets live in Redis; the fallback's buckets are counted by whoever owns it.
  std::size_t local_bucket_count() const override { return 0; }

  bool breaker_open() const { return breaker_open_; }
  std::size_t in_flight() const;

 private:
  struct Node;
  struct Group;
  struct Request;
  enum class Failure { error, timeout };
  using Clock = std::chrono::steady_clock;

  Node& node_for(const RedisEndpoint& endpoint);
  Node& node_for_slot(int slot);
  RedisConnection* connection_for(Node& node);
  void send_group(const std::shared_ptr<Request>& req, std::size_t g, Node& node, bool asking);
  void on_group_reply(const std::shared_ptr<Request>& req, std::size_t g, redisReply* reply);
  void finish(const std::shared_ptr<Request>& req);
  void fail(const std::shared_ptr<Request>& req, Failure why);
  void complete(const std::shared_ptr<Request>& req, const LimitOutcome& outcome);
  LimitOutcome on_error_outcome(std::span<const LimitCall> calls, std::int64_t now_ns,
                                bool dry_run);
  void send_refund(const Request& req, const Group& group);
  void arm_timeout();
  void sweep_timeouts();
  void note_failure(const std::string& why);
  void open_breaker(const std::string& why);
  void close_breaker();
  void schedule_probe();
  void probe();
  void refresh_slots();
  void install_slots(SlotMap map);
  void drop_connections();

  boost::asio::io_context& io_;
  std::shared_ptr<RedisSharedState> shared_;
  const RedisStoreConfig& config_;
  LimitStore* fallback_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak-captured by callbacks

  std::vector<std::unique_ptr<Node>> nodes_;
  SlotMap slots_;
  std::vector<Node*> slot_nodes_;  // parallel to slots_.masters
  bool refresh_in_flight_ = false;
  Clock::time_point last_refresh_{};
  std::size_t probe_rotation_ = 0;

  std::deque<std::shared_ptr<Request>> pending_;  // in deadline order (one timeout for all)
  boost::asio::steady_timer timeout_timer_;
  bool timeout_armed_ = false;

  int consecutive_failures_ = 0;
  bool breaker_open_ = false;
  boost::asio::steady_timer probe_timer_;
};

}  // namespace edgeguard
