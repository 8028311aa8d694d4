#include "guard/service/service.h"

#include <sys/stat.h>

#include "guard/clock/clock.h"
#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"
#include "guard/text/ascii.h"
#include "guard/text/rfc3339.h"

namespace edgeguard {
namespace {

// Settings a reload cannot change while the listeners and stores are running.
std::string restart_only_change(const Policy& a, const Policy& b) {
  if (a.listen != b.listen) return "listen";
  if (a.admin_listen != b.admin_listen) return "admin_listen";
  if (a.threads != b.threads) return "threads";
  if (a.store.type != b.store.type || a.store.max_buckets != b.store.max_buckets ||
      a.store.redis.address != b.store.redis.address ||
      a.store.redis.nodes != b.store.redis.nodes) {
    return "store";
  }
  if (a.geoip.country_db != b.geoip.country_db || a.geoip.asn_db != b.geoip.asn_db ||
      a.geoip.country_field != b.geoip.country_field) {
    return "geoip";
  }
  if (a.tailnet.file != b.tailnet.file || a.tailnet.command != b.tailnet.command ||
      a.tailnet.format != b.tailnet.format) {
    return "tailnet.nodes";
  }
  return {};
}

}  // namespace

std::unique_ptr<Service> Service::create(std::shared_ptr<const Policy> policy,
                                         std::string config_path, std::string* error) {
  auto s = std::make_unique<Service>();
  s->config_path_ = std::move(config_path);
  s->ban_table_ = std::make_unique<BanTable>(policy->bans.max_active);
  s->local_bans_ = std::make_unique<LocalBans>(*s->ban_table_, &s->ban_log_);
  s->local_store_ =
      std::make_unique<LocalLimitStore>(policy->store.max_buckets, s->local_bans_.get());
  if (!s->open_sources(*policy, error)) return nullptr;
  s->config_stamp_ = s->stat_config();
  s->publish(std::move(policy));
  Service* self = s.get();
  s->registration_ = s->metrics_.add([self](MetricsWriter& w) { self->write_metrics(w); });
  return s;
}

bool Service::open_sources(const Policy& policy, std::string* error) {
  if (!policy.geoip.country_db.empty() || !policy.geoip.asn_db.empty()) {
    GeoIpConfig config{policy.geoip.country_db, policy.geoip.asn_db, policy.geoip.country_field};
    geo_ = std::make_unique<GeoIpSource>(config);
    if (!geo_->load(error)) return false;
    stats_.geoip_build_epoch.store(geo_->current()->build_epoch());
  }
  if (!policy.tailnet.file.empty() || !policy.tailnet.command.empty()) {
    NodeSourceConfig config;
    config.format = policy.tailnet.format;
    config.file = policy.tailnet.file;
    config.command = policy.tailnet.command;
    config.refresh_ns = policy.tailnet.refresh_ns;
    tailnet_ = std::make_unique<NodeSource>(config);
    const LoadResult r = tailnet_->refresh();
    if (!r.ok) {
      // A node list that cannot load yet is not fatal: nobody passes `require: enrolled`
      // until it does, which is the safe side.
      log_event("error", "tailnet_load_failed", {{"error", r.error}});
    }
  }
  return true;
}

void Service::publish(std::shared_ptr<const Policy> policy) {
  std::lock_guard lock(publish_mu_);
  auto snap = make_snapshot(std::move(policy), geo_ ? geo_->current() : nullptr,
                            tailnet_ ? tailnet_->current() : nullptr, &decisions_);
  snap->bans = ban_table_.get();
  snapshot_.store(std::move(snap));
  generation_.fetch_add(1, std::memory_order_release);
}

Service::FileStamp Service::stat_config() const {
  struct stat st {};
  if (config_path_.empty() || ::stat(config_path_.c_str(), &st) != 0) return {};
  return {static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<long long>(st.st_size), static_cast<long long>(st.st_ino)};
}

bool Service::reload_config(std::string* error) {
  config_stamp_ = stat_config();
  PolicyLoad load = load_policy_file(config_path_);
  std::string why = load.error;
  if (load.policy) {
    const auto field = restart_only_change(*snapshot()->policy, *load.policy);
    if (!field.empty()) {
      why = config_path_ + ":1:1: changing " + field + " needs a restart; reload refused";
    }
  }
  if (!why.empty()) {
    stats_.reloads_failure.fetch_add(1);
    log_event("error", "reload_refused", {{"error", why}});
    if (error) *error = why;
    return false;
  }
  publish(std::move(load.policy));
  stats_.reloads_success.fetch_add(1);
  log_event("info", "reloaded",
            {{"config", config_path_}, {"routes", snapshot()->policy->routes.size()}});
  return true;
}

void Service::maintain(std::int64_t now_ns) {
  if (!config_path_.empty() && stat_config() != config_stamp_) reload_config(nullptr);
  bool changed = false;
  if (geo_) {
    const ReloadResult r = geo_->reload_if_changed();
    if (r.status == ReloadResult::Status::kReloaded) {
      stats_.geoip_build_epoch.store(geo_->current()->build_epoch());
      log_event("info", "geoip_reloaded", {});
      changed = true;
    } else if (r.status == ReloadResult::Status::kFailed) {
      stats_.geoip_load_errors.fetch_add(1);
      log_event("error", "geoip_reload_failed", {{"error", r.error}});
    }
  }
  if (tailnet_) {
    LoadResult r;
    if (now_ns >= next_tailnet_refresh_ns_) {
      r = tailnet_->refresh();
      next_tailnet_refresh_ns_ = now_ns + tailnet_->config().refresh_ns;
    } else {
      r = tailnet_->reload_if_changed();
    }
    if (!r.ok) {
      log_event("error", "tailnet_load_failed", {{"error", r.error}});
    } else if (r.loaded) {
      log_event("info", "tailnet_loaded", {{"nodes", r.nodes}});
      changed = true;
    }
  }
  if (changed) publish(snapshot()->policy);
}

void Service::BanLog::made(const Ban& ban, std::int64_t now_ns) {
  stats_.count(ban.route, ban.source);
  log_event("warn", "ban",
            {{"subject", ban.subject},
             {"route", ban.route},
             {"until", format_rfc3339(to_unix_ns(ban.until_ns))},
             {"seconds", retry_after_seconds(ban.until_ns - now_ns)},
             {"count", ban.count},
             {"reason", ban.reason},
             {"source", to_string(ban.source)}});
}

void Service::BanLog::lifted(const std::string& subject, std::size_t bans, std::int64_t) {
  log_event("info", "unban", {{"subject", subject}, {"bans", bans}});
}

void Service::write_metrics(MetricsWriter& w) const {
  decisions_.write(w);
  ban_stats_.write(w, ban_table_->active(monotonic_ns()));
  w.gauge("edgeguard_local_buckets", "Rate-limit buckets held in this process.",
          static_cast<double>(local_store_->local_bucket_count()));
  w.family("edgeguard_config_reloads_total", "counter", "Configuration reloads by result.");
  w.sample(static_cast<double>(stats_.reloads_success.load()), "result=\"success\"");
  w.sample(static_cast<double>(stats_.reloads_failure.load()), "result=\"failure\"");
  // The node source counts its own loads: the service only reads them.
  w.gauge("edgeguard_tailnet_nodes", "Enrolled tailnet nodes in the current list.",
          tailnet_ ? static_cast<double>(tailnet_->current()->size()) : 0.0);
  w.counter("edgeguard_tailnet_load_errors_total", "Node lists that failed to load.",
            tailnet_ ? static_cast<double>(tailnet_->loads_failed()) : 0.0);
  w.gauge("edgeguard_geoip_build_epoch_seconds", "Build time of the GeoIP database in use.",
          static_cast<double>(stats_.geoip_build_epoch.load()));
  w.counter("edgeguard_geoip_load_errors_total", "GeoIP databases that failed to load.",
            static_cast<double>(stats_.geoip_load_errors.load()));
}

bool Service::ready() const {
  return snapshot() != nullptr;
}

}  // namespace edgeguard
