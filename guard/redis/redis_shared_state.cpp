#include "guard/redis/redis_shared_state.h"

#include <signal.h>

#include <fstream>
#include <mutex>
#include <sstream>

namespace edgeguard {

void RedisCounters::write(MetricsWriter& w, const RedisCounters* c) {
  const auto get = [c](std::atomic<std::uint64_t> RedisCounters::*field) {
    return c != nullptr ? static_cast<double>((c->*field).load(std::memory_order_relaxed)) : 0.0;
  };
  w.counter("edgeguard_redis_commands_total", "Decision scripts sent to Redis (retries included).",
            get(&RedisCounters::commands));
  w.counter("edgeguard_redis_errors_total",
            "Decisions failed by a Redis error reply or a lost connection.",
            get(&RedisCounters::errors));
  w.counter("edgeguard_redis_timeouts_total", "Decisions failed by store.redis.timeout.",
            get(&RedisCounters::timeouts));
  w.counter("edgeguard_redis_fallback_answers_total",
            "Decisions answered by the on_error policy instead of Redis.",
            get(&RedisCounters::fallback_answers));
  w.counter("edgeguard_redis_deny_cache_hits_total",
            "Denials answered from the local deny cache, without a command.",
            get(&RedisCounters::deny_cache_hits));
  w.family("edgeguard_redis_redirects_total", "counter", "Redis Cluster redirects followed.");
  w.sample(get(&RedisCounters::moved), "kind=\"moved\"");
  w.sample(get(&RedisCounters::ask), "kind=\"ask\"");
  w.counter("edgeguard_redis_connects_total", "Redis connections opened (reconnections included).",
            get(&RedisCounters::connects));
  w.counter("edgeguard_redis_breaker_opens_total", "Per-node Redis breakers opened.",
            get(&RedisCounters::breaker_opens));
}
namespace {

bool read_secret(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "redis: cannot read password_file " + path;
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  // Secrets files usually end with a newline that is not part of the password.
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  *out = std::move(secret);
  return true;
}

// hiredis writes with write(2). On a connection whose Redis end has gone (Redis killed, or it
// closed us), the second write raises SIGPIPE, and that signal's default action ends the whole
// process: an edgeguard that vanished when its Redis was killed under load. The failed write
// is already handled as a value (the command fails, on_error answers), so the signal is
// ignored, once, unless someone installed a handler of their own.
void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      ::sigemptyset(&ignore.sa_mask);
      ::sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}

}  // namespace

std::shared_ptr<RedisSharedState> RedisSharedState::create(RedisStoreConfig config,
                                                           std::string* error) {
  std::vector<RedisEndpoint> seeds;
  const bool cluster = !config.nodes.empty();
  if (cluster) {
    for (const std::string& node : config.nodes) {
      auto endpoint = parse_redis_endpoint(node);
      if (!endpoint) {
        *error = "redis: bad node address '" + node + "' (want host:port)";
        return nullptr;
      }
      seeds.push_back(std::move(*endpoint));
    }
    if (config.db != 0) {
      *error = "redis: db must be 0 with a Redis Cluster (nodes)";
      return nullptr;
    }
  } else {
    auto endpoint = parse_redis_endpoint(config.address);
    if (!endpoint) {
      *error = "redis: bad address '" + config.address + "' (want host:port)";
      return nullptr;
    }
    seeds.push_back(std::move(*endpoint));
  }
  if (config.key_prefix.find_first_of("{}") != std::string::npos) {
    *error = "redis: key prefix must not contain '{' or '}' (they choose the hash slot)";
    return nullptr;
  }
  if (config.timeout_ns <= 0 || config.connections < 1 || config.failure_threshold < 1 ||
      config.probe_interval_ns <= 0 || config.connect_timeout_ns <= 0 ||
      config.ban_resync_interval_ns <= 0 || config.ban_command_timeout_ns <= 0) {
    *error = "redis: timeout, connections, failure threshold and probe interval must be positive";
    return nullptr;
  }
  RedisHandshake handshake;
  handshake.username = config.username;
  handshake.db = config.db;
  handshake.connect_timeout_ns = config.connect_timeout_ns;
  if (!config.password_file.empty() &&
      !read_secret(config.password_file, &handshake.password, error)) {
    return nullptr;
  }
  ignore_sigpipe();
  return std::make_shared<RedisSharedState>(std::move(config), std::move(seeds),
                                            std::move(handshake));
}

RedisSharedState::RedisSharedState(RedisStoreConfig config, std::vector<RedisEndpoint> seeds,
                                   RedisHandshake handshake)
    : config_(std::move(config)),
      seeds_(std::move(seeds)),
      handshake_(std::move(handshake)),
      deny_cache_(config_.deny_cache_entries),
      ban_keys_(config_.key_prefix, config_.db) {}

void RedisSharedState::set_observers(std::function<void(std::int64_t)> latency,
                                     std::function<void(bool, const std::string&)> breaker) {
  on_latency_ = std::move(latency);
  on_breaker_ = std::move(breaker);
}

void RedisSharedState::breaker_opened(const std::string& why) {
  open_breakers_.fetch_add(1, std::memory_order_relaxed);
  counters_.breaker_opens.fetch_add(1, std::memory_order_relaxed);
  if (on_breaker_) on_breaker_(true, why);
}

void RedisSharedState::breaker_closed(const std::string& why) {
  open_breakers_.fetch_sub(1, std::memory_order_relaxed);
  if (on_breaker_) on_breaker_(false, why);
}

}  // namespace edgeguard
