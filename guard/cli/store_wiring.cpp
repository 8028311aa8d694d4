#include "guard/cli/store_wiring.h"

#include "guard/log/event_log.h"
#include "guard/redis/redis_limit_store.h"

namespace edgeguard {

struct StoreWiring::Impl {
  Service& service;
  std::shared_ptr<RedisSharedState> redis;  // null in local mode
  std::vector<std::unique_ptr<RedisLimitStore>> per_thread;
};

namespace {

RedisStoreConfig redis_config(const RedisSettings& s) {
  RedisStoreConfig c;
  c.address = s.address;
  c.nodes = s.nodes;
  c.username = s.username;
  c.password_file = s.password_file;
  c.db = s.db;
  c.timeout_ns = s.timeout_ns;
  c.connections = s.connections;
  switch (s.on_error) {
    case OnError::local:
      c.on_error = RedisStoreConfig::OnError::local;
      break;
    case OnError::allow:
      c.on_error = RedisStoreConfig::OnError::allow;
      break;
    case OnError::deny:
      c.on_error = RedisStoreConfig::OnError::deny;
      break;
  }
  return c;
}

}  // namespace

StoreWiring::StoreWiring(Service& service, const Policy& policy, boost::asio::io_context&)
    : impl_(std::make_unique<Impl>(Impl{service, nullptr, {}})) {
  if (policy.settings.store.type != StoreType::redis) return;
  std::string error;
  impl_->redis = RedisSharedState::create(redis_config(policy.settings.store.redis), &error);
  if (!impl_->redis) {
    error_ = error;
    return;
  }
  Metrics* metrics = &service.metrics();
  // Raw: the state owns these observers, a shared_ptr would keep itself alive.
  const RedisSharedState* state = impl_->redis.get();
  // Read at scrape time: each io thread has its own breaker, so the gauge follows the shared
  // count of open breakers (1 while any is open), and the error count is never a tick late.
  metrics->store_fallback_source = [state] { return state->fallback_active(); };
  metrics->store_errors_source = [state] {
    return state->counters().errors.load() + state->counters().timeouts.load();
  };
  impl_->redis->set_observers([metrics](std::int64_t ns) { metrics->redis_seconds.observe_ns(ns); },
                              [](bool open, const std::string& why) {
                                log_event(open ? "error" : "info",
                                          open ? "store_fallback_on" : "store_fallback_off",
                                          {{"store", "redis"}, {"why", why}});
                              });
}

StoreWiring::~StoreWiring() = default;

StoreFactory StoreWiring::factory() {
  Impl* impl = impl_.get();
  return [impl](void* io, int) -> LimitStore* {
    if (!impl->redis) return &impl->service.local_store();
    impl->per_thread.push_back(std::make_unique<RedisLimitStore>(
        *static_cast<boost::asio::io_context*>(io), impl->redis, &impl->service.local_store()));
    return impl->per_thread.back().get();
  };
}

}  // namespace edgeguard
