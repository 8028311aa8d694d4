#pragma once
// What the running service holds: the policy in force, the stores, the GeoIP databases and the
// tailnet node list, each swapped atomically when it changes. Request threads read a Snapshot
// (cached per thread, refreshed when `generation()` moves); one maintenance thread drives
// reloads. This is the only place that knows how the pieces are wired together.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guard/bans/ban_stats.h"
#include "guard/bans/ban_table.h"
#include "guard/bans/local_bans.h"
#include "guard/crowdsec/crowdsec_puller.h"
#include "guard/geoip/geoip_source.h"
#include "guard/metrics/registry.h"
#include "guard/pipeline/decision_stats.h"
#include "guard/pipeline/snapshot.h"
#include "guard/policy/policy.h"
#include "guard/store/local_store.h"
#include "guard/sync/published.h"
#include "guard/tailnet/node_source.h"

namespace edgeguard {

class Service {
 public:
  Service() = default;  // use create()
  // Builds the stores and data sources for `policy`; fails when a data source cannot load.
  static std::unique_ptr<Service> create(std::shared_ptr<const Policy> policy,
                                         std::string config_path, std::string* error);

  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.get(); }
  std::uint64_t generation() const { return snapshot_.generation(); }

  // Re-reads the config file; an invalid one is refused (old policy keeps serving) and counted.
  bool reload_config(std::string* error);
  // Checks the config file, GeoIP databases and node list for changes; reloads what changed.
  void maintain(std::int64_t now_ns);

  // /metrics: every component registers what it counts here.
  MetricsRegistry& metrics() { return metrics_; }
  const DecisionStats& decision_stats() const { return decisions_; }
  LocalLimitStore& local_store() { return *local_store_; }
  // The bans this process enforces (every replica holds them all) and makes in local mode.
  BanTable& ban_table() { return *ban_table_; }
  LocalBans& local_bans() { return *local_bans_; }
  BanStats& ban_stats() { return ban_stats_; }
  // Also tell `listener` of every ban this process makes or lifts (the CrowdSec reporter).
  void add_ban_listener(BanEvents* listener) { ban_log_.add_listener(listener); }

  // CrowdSec decisions for the snapshots from now on: the puller's set in force, republished
  // by refresh_crowdsec() when the puller says it has a new one (maintenance thread).
  void attach_crowdsec(std::shared_ptr<const CrowdsecPuller> puller);
  void refresh_crowdsec();
  const std::string& config_path() const { return config_path_; }
  bool ready() const;

 private:
  bool open_sources(const Policy& policy, std::string* error);
  void publish(std::shared_ptr<const Policy> policy);
  void lapse_bans_of_removed_routes(const Policy& before, const Policy& after);
  // The node list as enrolled under `policy`'s tailnet.ranges (publish_mu_ held).
  std::shared_ptr<const NodeDirectory> enrolled_nodes(const Policy& policy);
  struct FileStamp {
    long long mtime_ns = 0, size = 0, ino = 0;
    bool operator==(const FileStamp&) const = default;
  };
  FileStamp stat_config() const;
  void write_metrics(MetricsWriter& w) const;

  // What the service itself counts: reloads and the loads of its data sources.
  struct Stats {
    std::atomic<std::uint64_t> reloads_success{0};
    std::atomic<std::uint64_t> reloads_failure{0};
    std::atomic<std::uint64_t> tailnet_unchanged{0};
    std::atomic<std::int64_t> geoip_build_epoch{0};
    std::atomic<std::uint64_t> geoip_load_errors{0};
  };

  // Logs and counts each ban this process makes or lifts.
  class BanLog final : public BanEvents {
   public:
    explicit BanLog(BanStats& stats) : stats_(stats) {}
    void made(const Ban& ban, std::int64_t now_ns) override;
    void lifted(const std::string& subject, std::size_t bans, std::int64_t now_ns) override;
    void add_listener(BanEvents* listener) { listeners_.push_back(listener); }

   private:
    BanStats& stats_;
    std::vector<BanEvents*> listeners_;  // set before serving starts
  };

  std::string config_path_;
  MetricsRegistry metrics_;
  BanStats ban_stats_;
  BanLog ban_log_{ban_stats_};
  std::unique_ptr<BanTable> ban_table_;
  std::unique_ptr<LocalBans> local_bans_;
  DecisionStats decisions_;
  Stats stats_;
  std::unique_ptr<LocalLimitStore> local_store_;
  std::unique_ptr<GeoIpSource> geo_;
  std::unique_ptr<NodeSource> tailnet_;
  std::shared_ptr<const CrowdsecPuller> crowdsec_;
  bool tailnet_refreshed_ = false;  // by maintain(); create() loads once without a clock
  std::int64_t last_tailnet_refresh_ns_ = 0;
  std::size_t addresses_outside_ranges_ = 0;  // last reported; guarded by publish_mu_
  std::mutex publish_mu_;
  Published<Snapshot> snapshot_;
  FileStamp config_stamp_;
  MetricsRegistry::Registration registration_;  // last: unregistered before what it reads
};

}  // namespace edgeguard
