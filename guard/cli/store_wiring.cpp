#include "guard/cli/store_wiring.h"

#include "guard/log/event_log.h"
#include "guard/metrics/histogram.h"
#include "guard/redis/redis_ban_authority.h"
#include "guard/redis/redis_ban_sync.h"
#include "guard/redis/redis_limit_store.h"

namespace edgeguard {

struct StoreWiring::Impl {
  Impl(Service& s, boost::asio::io_context& io) : service(s), maintenance(io) {}
  Service& service;
  boost::asio::io_context& maintenance;
  std::shared_ptr<RedisSharedState> redis;  // null in local mode
  std::unique_ptr<RedisBanMirror> mirror;
  std::unique_ptr<RedisBanSync> ban_sync;
  std::unique_ptr<RedisBanAuthority> ban_authority;
  // The stores point at the mirror: declared after it, destroyed before it.
  std::unique_ptr<RedisLimitStore> maintenance_store;
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
    BanSyncCounters::write(w, ban_sync ? &ban_sync->counters() : nullptr);
  }
};

namespace {

RedisStoreConfig redis_config(const RedisSettings& s, std::size_t bans_max_active) {
  RedisStoreConfig c;
  c.bans_max_active = bans_max_active;
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
  impl_->redis = RedisSharedState::create(
      redis_config(policy.settings.store.redis, policy.settings.bans_max_active), &error);
  if (!impl_->redis) {
    error_ = error;
    return;
  }
  impl_->redis->set_observers(
      [impl](std::int64_t ns) { impl->redis_seconds.observe_ns(ns); },
      [](bool open, const std::string& why) {
        log_event(open ? LogName("error") : LogName("info"),
                  open ? LogName("store_fallback_on") : LogName("store_fallback_off"),
                  {{"store", "redis"}, {"why", why}});
      });
  impl->mirror = std::make_unique<RedisBanMirror>(service.local_bans());
  impl->ban_sync = std::make_unique<RedisBanSync>(
      maintenance, impl->redis, *impl->mirror, [](bool up, const std::string& node) {
        // Lost: bans made elsewhere reach this replica at the next resync after it is back.
        log_event(up ? LogName("info") : LogName("error"),
                  up ? LogName("ban_channel_subscribed") : LogName("ban_channel_lost"),
                  {{"store", "redis"}, {"node", node}});
      });
  Service* s = &service;
  impl->ban_authority = std::make_unique<RedisBanAuthority>(
      *impl->ban_sync, service.ban_table(), [s] { return s->snapshot()->policy->bans.escalation; });
  impl->ban_sync->start();
}

StoreWiring::~StoreWiring() = default;

LimitStore& StoreWiring::maintenance_store() {
  if (!impl_->redis) return impl_->service.local_store();
  if (!impl_->maintenance_store) {
    // With the ban mirror, as the io threads' stores: a failure limit's ban is held (and
    // logged) here at once, and reaches the other replicas by the script's PUBLISH.
    impl_->maintenance_store = std::make_unique<RedisLimitStore>(
        impl_->maintenance, impl_->redis, &impl_->service.local_store(), impl_->mirror.get());
  }
  return *impl_->maintenance_store;
}

BanAuthority* StoreWiring::ban_authority() {
  return impl_->ban_authority.get();
}

void StoreWiring::stop() {
  if (impl_->ban_sync) impl_->ban_sync->stop();
}

StoreFactory StoreWiring::factory() {
  Impl* impl = impl_.get();
  return [impl](boost::asio::io_context& io, int) -> LimitStore* {
    if (!impl->redis) return &impl->service.local_store();
    impl->per_thread.push_back(std::make_unique<RedisLimitStore>(
        io, impl->redis, &impl->service.local_store(), impl->mirror.get()));
    return impl->per_thread.back().get();
  };
}

}  // namespace edgeguard
