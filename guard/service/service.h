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

#include "guard/geoip/geoip_source.h"
#include "guard/metrics/metrics.h"
#include "guard/policy/policy.h"
#include "guard/request/client_ip.h"
#include "guard/request/forward_request.h"
#include "guard/store/local_store.h"
#include "guard/tailnet/node_source.h"

namespace edgeguard {

// Everything one request needs, immutable once published.
struct Snapshot {
  std::shared_ptr<const Policy> policy;
  std::vector<RouteStats*> route_stats;  // by Route::index; the default route is last
  CapturePlan capture;
  ClientIpStrategy client_ip;
  std::shared_ptr<const GeoDatabase> geo;      // null when not configured
  std::shared_ptr<const NodeDirectory> nodes;  // null when not configured
  std::uint64_t generation = 0;
};

class Service {
 public:
  Service() = default;  // use create()
  // Builds the stores and data sources for `policy`; fails when a data source cannot load.
  static std::unique_ptr<Service> create(std::shared_ptr<const Policy> policy,
                                         std::string config_path, std::string* error);

  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(); }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Re-reads the config file; an invalid one is refused (old policy keeps serving) and counted.
  bool reload_config(std::string* error);
  // Checks the config file, GeoIP databases and node list for changes; reloads what changed.
  void maintain(std::int64_t now_ns);

  Metrics& metrics() { return metrics_; }
  LocalLimitStore& local_store() { return *local_store_; }
  const std::string& config_path() const { return config_path_; }
  bool ready() const;

 private:
  bool open_sources(const Policy& policy, std::string* error);
  void publish(std::shared_ptr<const Policy> policy);
  // The node list as enrolled under `policy`'s tailnet.ranges (publish_mu_ held).
  std::shared_ptr<const NodeDirectory> enrolled_nodes(const Policy& policy);
  struct FileStamp {
    long long mtime_ns = 0, size = 0, ino = 0;
    bool operator==(const FileStamp&) const = default;
  };
  FileStamp stat_config() const;

  std::string config_path_;
  Metrics metrics_;
  std::unique_ptr<LocalLimitStore> local_store_;
  std::unique_ptr<GeoIpSource> geo_;
  std::unique_ptr<NodeSource> tailnet_;
  bool tailnet_refreshed_ = false;  // by maintain(); create() loads once without a clock
  std::int64_t last_tailnet_refresh_ns_ = 0;
  std::size_t addresses_outside_ranges_ = 0;  // last reported; guarded by publish_mu_
  std::mutex publish_mu_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<std::uint64_t> generation_{0};
  FileStamp config_stamp_;
};

}  // namespace edgeguard
