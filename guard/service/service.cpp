#include "guard/service/service.h"

#include <sys/stat.h>

#include <algorithm>

#include "guard/clock/clock.h"
#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"
#include "guard/text/rfc3339.h"

namespace edgeguard {

std::unique_ptr<Service> Service::create(std::shared_ptr<const Policy> policy,
                                         std::string config_path, std::string* error) {
  auto s = std::make_unique<Service>();
  s->config_path_ = std::move(config_path);
  s->ban_table_ = std::make_unique<BanTable>(policy->settings.bans_max_active);
  s->local_bans_ = std::make_unique<LocalBans>(*s->ban_table_, &s->ban_log_);
  s->local_store_ =
      std::make_unique<LocalLimitStore>(policy->settings.store.max_buckets, s->local_bans_.get());
  if (!s->open_sources(*policy, error)) return nullptr;
  s->config_stamp_ = s->stat_config();
  s->publish(std::move(policy));
  Service* self = s.get();
  s->registration_ = s->metrics_.add([self](MetricsWriter& w) { self->write_metrics(w); });
  return s;
}

bool Service::open_sources(const Policy& policy, std::string* error) {
  const GeoIpSettings& geoip = policy.settings.geoip;
  if (!geoip.country_db.empty() || !geoip.asn_db.empty()) {
    geo_ = std::make_unique<GeoIpSource>(
        GeoIpConfig{geoip.country_db, geoip.asn_db, geoip.country_field});
    if (!geo_->load(error)) return false;
    stats_.geoip_build_epoch.store(geo_->current()->build_epoch());
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
      log_event("error", "tailnet_load_failed", {{"error", r.error}});
    }
  }
  return true;
}

void Service::publish(std::shared_ptr<const Policy> policy) {
  std::lock_guard lock(publish_mu_);
  auto snap = make_snapshot(policy, geo_ ? geo_->current() : nullptr,
                            tailnet_ ? enrolled_nodes(*policy) : nullptr, &decisions_);
  snap->bans = ban_table_.get();
  if (crowdsec_) snap->crowdsec = crowdsec_->current();
  snapshot_.publish(std::move(snap));
}

std::shared_ptr<const NodeDirectory> Service::enrolled_nodes(const Policy& policy) {
  const auto listed = tailnet_->current();
  auto enrolled = within_ranges(listed, policy.tailnet.ranges);
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
    stats_.reloads_failure.fetch_add(1);
    if (setting.empty()) {
      log_event("error", "reload_refused", {{"error", why}});
    } else {
      log_event("error", "reload_refused", {{"error", why}, {"setting", setting}});
    }
    if (error) *error = why;
    return false;
  }
  const std::shared_ptr<const Policy> previous = snapshot()->policy;
  publish(load.policy);
  lapse_bans_of_removed_routes(*previous, *load.policy);
  stats_.reloads_success.fetch_add(1);
  log_event("info", "reloaded",
            {{"config", config_path_}, {"routes", snapshot()->policy->routes.size()}});
  return true;
}

// A ban belongs to its route: once a reload removes the route, nothing can be refused by it, and
// it would only linger in the admin API's list. Bans on every route ("*") stay.
void Service::lapse_bans_of_removed_routes(const Policy& before, const Policy& after) {
  const std::int64_t now = monotonic_ns();
  for (const Route& old_route : before.routes) {
    const bool kept = std::any_of(after.routes.begin(), after.routes.end(),
                                  [&](const Route& r) { return r.name == old_route.name; });
    if (kept) continue;
    const std::size_t lapsed = ban_table_->remove_route(old_route.name, now);
    if (lapsed > 0) {
      log_event("info", "bans_lapsed", {{"route", old_route.name}, {"bans", lapsed}});
    }
  }
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
      log_event("error", "tailnet_load_failed", {{"error", r.error}});
    } else if (r.loaded) {
      log_event("info", "tailnet_loaded", {{"nodes", r.nodes}});
      changed = true;
    } else if (r.unchanged) {
      stats_.tailnet_unchanged.fetch_add(1);  // a log line every refresh would say nothing
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
  for (BanEvents* l : listeners_) l->made(ban, now_ns);
}

void Service::BanLog::lifted(const std::string& subject, std::size_t bans, std::int64_t now_ns) {
  log_event("info", "unban", {{"subject", subject}, {"bans", bans}});
  for (BanEvents* l : listeners_) l->lifted(subject, bans, now_ns);
}

void Service::attach_crowdsec(std::shared_ptr<const CrowdsecPuller> puller) {
  crowdsec_ = std::move(puller);
  refresh_crowdsec();
}

void Service::refresh_crowdsec() {
  publish(snapshot()->policy);
}

void Service::write_metrics(MetricsWriter& w) const {
  decisions_.write(w);
  ban_stats_.write(w, ban_table_->active(monotonic_ns()));
  w.gauge("edgeguard_local_buckets", "Rate-limit buckets held in this process.",
          static_cast<double>(local_store_->local_bucket_count()));
  w.family("edgeguard_config_reloads_total", "counter", "Configuration reloads by result.");
  w.sample(static_cast<double>(stats_.reloads_success.load()), "result=\"success\"");
  w.sample(static_cast<double>(stats_.reloads_failure.load()), "result=\"failure\"");
  // Enrolled: the listed nodes narrowed to tailnet.ranges, as the snapshot in force holds them.
  // The node source counts its own failed loads: the service only reads them.
  const auto snap = snapshot();
  w.gauge("edgeguard_tailnet_nodes", "Enrolled tailnet nodes in the current list.",
          snap->nodes ? static_cast<double>(snap->nodes->size()) : 0.0);
  w.counter("edgeguard_tailnet_unchanged_total",
            "Node-list refreshes that found the nodes already loaded (nothing logged for them).",
            static_cast<double>(stats_.tailnet_unchanged.load()));
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
