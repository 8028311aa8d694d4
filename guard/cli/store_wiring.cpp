#include "guard/cli/store_wiring.h"

#include "guard/log/event_log.h"
#include "guard/metrics/histogram.h"
#include "guard/redis/redis_limit_store.h"

namespace edgeguard {

struct StoreWiring::Impl {
  Impl(Service& s, boost::asio::io_context& io) : service(s), maintenance(io) {}
  Service& service;
  boost::asio::io_context& maintenance;
  std::unique_ptr<RedisLimitStore> maintenance_store;
  std::shared_ptr<RedisSharedState> redis;  // null in local mode
  std::vector<std::unique_ptr<RedisLimitStore>> per_thread;
  Histogram redis_seconds;
  MetricsRegistry::Registration registration;

  // The shared store's series exist in local mode too (at zero), so dashboards and alerts
  // read the same names whatever the store. Read at scrape time: each io thread has its own
  // breaker, so the gauge follows the shared count of open breakers (1 while any is open).
  void write_metrics(MetricsWriter& w) const {
    const RedisSharedState* state = redis.get();
    w.counter("edgeguard_store_errors_total", "Shared store failures (errors and timeouts).",
              state != nullptr ? static_cast<double>(state->counters().errors.load() +
                                                     state->counters().timeouts.load())
                               : 0.0);
    w.gauge("edgeguard_store_fallback_active",
            "1 while the on_error policy answers instead of Redis.",
            state != nullptr && state->fallback_active() ? 1 : 0);
    w.family("edgeguard_redis_seconds", "histogram", "Redis round trips of the limit script.");
    redis_seconds.write(w);
    RedisCounters::write(w, state != nullptr ? &state->counters() : nullptr);
  }
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

StoreWiring::StoreWiring(Service& service, const Policy& policy,
                         boost::asio::io_context& maintenance)
    : impl_(std::make_unique<Impl>(service, maintenance)) {
  Impl* impl = impl_.get();
  impl->registration = service.metrics().add([impl](MetricsWriter& w) { impl->write_metrics(w); });
  if (policy.settings.store.type != StoreType::redis) return;
  std::string error;
  impl_->redis = RedisSharedState::create(redis_config(policy.settings.store.redis), &error);
  if (!impl_->redis) {
    error_ = error;
    return;
  }
  impl_->redis->set_observers([impl](std::int64_t ns) { impl->redis_seconds.observe_ns(ns); },
                              [](bool open, const std::string& why) {
                                log_event(open ? "error" : "info",
                                          open ? "store_fallback_on" : "store_fallback_off",
                                          {{"store", "redis"}, {"why", why}});
                              });
}

StoreWiring::~StoreWiring() = default;

LimitStore& StoreWiring::maintenance_store() {
  if (!impl_->redis) return impl_->service.local_store();
  if (!impl_->maintenance_store) {
    impl_->maintenance_store = std::make_unique<RedisLimitStore>(impl_->maintenance, impl_->redis,
                                                                 &impl_->service.local_store());
  }
  return *impl_->maintenance_store;
}

StoreFactory StoreWiring::factory() {
  Impl* impl = impl_.get();
  return [impl](boost::asio::io_context& io, int) -> LimitStore* {
    if (!impl->redis) return &impl->service.local_store();
    impl->per_thread.push_back(
        std::make_unique<RedisLimitStore>(io, impl->redis, &impl->service.local_store()));
    return impl->per_thread.back().get();
  };
}

}  // namespace edgeguard
