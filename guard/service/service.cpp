#include "guard/service/service.h"

#include <sys/stat.h>

#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"

namespace edgeguard {

std::unique_ptr<Service> Service::create(std::shared_ptr<const Policy> policy,
                                         std::string config_path, std::string* error) {
  auto s = std::make_unique<Service>();
  s->config_path_ = std::move(config_path);
  s->local_store_ = std::make_unique<LocalLimitStore>(policy->settings.store.max_buckets);
  if (!s->open_sources(*policy, error)) return nullptr;
  s->config_stamp_ = s->stat_config();
  LocalLimitStore* store = s->local_store_.get();
  s->metrics_.local_buckets = [store] { return store->local_bucket_count(); };
  s->publish(std::move(policy));
  return s;
}

bool Service::open_sources(const Policy& policy, std::string* error) {
  const GeoIpSettings& geoip = policy.settings.geoip;
  if (!geoip.country_db.empty() || !geoip.asn_db.empty()) {
    geo_ = std::make_unique<GeoIpSource>(
        GeoIpConfig{geoip.country_db, geoip.asn_db, geoip.country_field});
    if (!geo_->load(error)) return false;
    metrics_.geoip_build_epoch.store(geo_->current()->build_epoch());
  }
  const NodeSourceSettings& nodes = policy.settings.tailnet_nodes;
  if (nodes.configured()) {
    NodeSourceConfig config;
    config.format = nodes.format;
    config.file = nodes.file;
    config.command = nodes.command;
    tailnet_ = std::make_unique<NodeSource>(config);
    const LoadResult r = tailnet_->refresh();
    if (!r.ok) {
      // A node list that cannot load yet is not fatal: nobody passes `require: enrolled`
      // until it does, which is the safe side.
      metrics_.tailnet_load_errors.fetch_add(1);
      log_event("error", "tailnet_load_failed", {{"error", r.error}});
    }
  }
  return true;
}

void Service::publish(std::shared_ptr<const Policy> policy) {
  std::lock_guard lock(publish_mu_);
  auto snap = std::make_shared<Snapshot>();
  for (const Route& r : policy->routes) {
    snap->route_stats.push_back(metrics_.route(r.name));
    std::vector<std::string> limit_names;
    for (const auto& l : r.limits) limit_names.push_back(l.name);
    metrics_.set_limit_names(r.name, std::move(limit_names));
  }
  snap->route_stats.push_back(metrics_.route(policy->default_route.name));
  snap->capture = CapturePlan(policy->client_ip.header, policy->key_header_names);
  snap->client_ip.depth = policy->client_ip.depth;
  snap->client_ip.trusted_hops =
      policy->client_ip.trusted_hops ? &*policy->client_ip.trusted_hops : nullptr;
  if (geo_) snap->geo = geo_->current();
  if (tailnet_) snap->nodes = enrolled_nodes(*policy);
  snap->policy = std::move(policy);
  snap->generation = generation_.load() + 1;
  snapshot_.store(std::move(snap));
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const NodeDirectory> Service::enrolled_nodes(const Policy& policy) {
  const auto listed = tailnet_->current();
  auto enrolled = within_ranges(listed, policy.tailnet.ranges);
  metrics_.tailnet_nodes.store(static_cast<std::int64_t>(enrolled->size()));
  // Said once per change, not on every publish: a listed address outside tailnet.ranges is
  // most likely a ranges setting that forgot a custom prefix.
  const std::size_t outside = listed->address_count() - enrolled->address_count();
  if (outside != addresses_outside_ranges_) {
    addresses_outside_ranges_ = outside;
    if (outside > 0) {
      log_event("warn", "tailnet_addresses_outside_ranges",
                {{"addresses", outside},
                 {"nodes_listed", listed->size()},
                 {"nodes_enrolled", enrolled->size()}});
    }
  }
  return enrolled;
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
  std::string setting;
  if (load.policy) {
    // Whatever a reload cannot apply is refused, never accepted and silently ignored.
    setting = restart_setting_change(snapshot()->policy->settings, load.policy->settings);
    if (!setting.empty()) {
      why = load.locate(setting) + ": changing " + setting + " needs a restart; reload refused";
    }
  }
  if (!why.empty()) {
    metrics_.reloads_failure.fetch_add(1);
    if (setting.empty()) {
      log_event("error", "reload_refused", {{"error", why}});
    } else {
      log_event("error", "reload_refused", {{"error", why}, {"setting", setting}});
    }
    if (error) *error = why;
    return false;
  }
  publish(std::move(load.policy));
  metrics_.reloads_success.fetch_add(1);
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
      metrics_.geoip_build_epoch.store(geo_->current()->build_epoch());
      log_event("info", "geoip_reloaded", {});
      changed = true;
    } else if (r.status == ReloadResult::Status::kFailed) {
      metrics_.geoip_load_errors.fetch_add(1);
      log_event("error", "geoip_reload_failed", {{"error", r.error}});
    }
  }
  if (tailnet_) {
    // The period is the policy in force: a reload that changes tailnet.nodes.refresh counts
    // from the last refresh, so a shorter period applies at once.
    const std::int64_t refresh_ns = snapshot()->policy->tailnet.refresh_ns;
    LoadResult r;
    if (!tailnet_refreshed_ || now_ns - last_tailnet_refresh_ns_ >= refresh_ns) {
      r = tailnet_->refresh();
      tailnet_refreshed_ = true;
      last_tailnet_refresh_ns_ = now_ns;
    } else {
      r = tailnet_->reload_if_changed();
    }
    if (!r.ok) {
      metrics_.tailnet_load_errors.fetch_add(1);
      log_event("error", "tailnet_load_failed", {{"error", r.error}});
    } else if (r.loaded) {
      log_event("info", "tailnet_loaded", {{"nodes", r.nodes}});
      changed = true;
    }
  }
  if (changed) publish(snapshot()->policy);
}

bool Service::ready() const {
  return snapshot() != nullptr;
}

}  // namespace edgeguard
