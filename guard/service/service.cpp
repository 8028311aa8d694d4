#include "guard/service/service.h"

#include <sys/stat.h>

#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"

namespace edgeguard {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

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
  s->local_store_ = std::make_unique<LocalLimitStore>(policy->store.max_buckets);
  if (!s->open_sources(*policy, error)) return nullptr;
  s->config_stamp_ = s->stat_config();
  LocalLimitStore* store = s->local_store_.get();
  s->metrics_.local_buckets = [store] { return store->local_bucket_count(); };
  s->publish(std::move(policy));
  return s;
}

bool Service::open_sources(const Policy& policy, std::string* error) {
  if (!policy.geoip.country_db.empty() || !policy.geoip.asn_db.empty()) {
    GeoIpConfig config{policy.geoip.country_db, policy.geoip.asn_db, policy.geoip.country_field};
    geo_ = std::make_unique<GeoIpSource>(config);
    if (!geo_->load(error)) return false;
    metrics_.geoip_build_epoch.store(geo_->current()->build_epoch());
  }
  if (!policy.tailnet.file.empty() || !policy.tailnet.command.empty()) {
    NodeSourceConfig config;
    config.format = *parse_node_list_format(policy.tailnet.format);
    config.file = policy.tailnet.file;
    config.command = policy.tailnet.command;
    config.refresh_ns = policy.tailnet.refresh_ns;
    tailnet_ = std::make_unique<NodeSource>(config);
    const LoadResult r = tailnet_->refresh();
    if (!r.ok) {
      // A node list that cannot load yet is not fatal: nobody passes `require: enrolled`
      // until it does, which is the safe side.
      metrics_.tailnet_load_errors.fetch_add(1);
      log_event("error", "tailnet_load_failed", {{"error", r.error}});
    }
    metrics_.tailnet_nodes.store(static_cast<std::int64_t>(tailnet_->current()->size()));
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
  snap->capture.client_ip_header = lower(policy->client_ip.header);
  snap->capture.key_headers = policy->key_header_names;
  snap->client_ip.depth = policy->client_ip.depth;
  snap->client_ip.trusted_hops =
      policy->client_ip.trusted_hops ? &*policy->client_ip.trusted_hops : nullptr;
  if (geo_) snap->geo = geo_->current();
  if (tailnet_) snap->nodes = tailnet_->current();
  snap->policy = std::move(policy);
  snap->generation = generation_.load() + 1;
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
    metrics_.reloads_failure.fetch_add(1);
    log_event("error", "reload_refused", {{"error", why}});
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
    LoadResult r;
    if (now_ns >= next_tailnet_refresh_ns_) {
      r = tailnet_->refresh();
      next_tailnet_refresh_ns_ = now_ns + tailnet_->config().refresh_ns;
    } else {
      r = tailnet_->reload_if_changed();
    }
    if (!r.ok) {
      metrics_.tailnet_load_errors.fetch_add(1);
      log_event("error", "tailnet_load_failed", {{"error", r.error}});
    } else if (r.loaded) {
      metrics_.tailnet_nodes.store(static_cast<std::int64_t>(r.nodes));
      log_event("info", "tailnet_loaded", {{"nodes", r.nodes}});
      changed = true;
    } else if (r.unchanged) {
      metrics_.tailnet_unchanged.fetch_add(1);  // a log line every refresh would say nothing
    }
  }
  if (changed) publish(snapshot()->policy);
}

bool Service::ready() const {
  return snapshot() != nullptr;
}

}  // namespace edgeguard
