#pragma once
// Everything one decision reads, immutable once published: the compiled policy and the data
// sources it consults (GeoIP databases, tailnet node list), plus what the HTTP layer needs to
// capture and where each route's counters live. The service builds a new Snapshot whenever one
// of them changes and publishes it atomically; request threads cache theirs and re-read it only
// when the service's generation moves (guard/service/service.h).
#include <memory>
#include <vector>

#include "guard/bans/ban_table.h"
#include "guard/crowdsec/decision_set.h"
#include "guard/geoip/geo_database.h"
#include "guard/pipeline/decision_stats.h"
#include "guard/policy/policy.h"
#include "guard/request/client_ip.h"
#include "guard/request/forward_request.h"
#include "guard/tailnet/node_directory.h"

namespace edgeguard {

struct Snapshot {
  std::shared_ptr<const Policy> policy;
  std::vector<RouteStats*> route_stats;  // by Route::index; the default route is last
  CapturePlan capture;
  ClientIpStrategy client_ip;
  std::shared_ptr<const GeoDatabase> geo;       // null when not configured
  std::shared_ptr<const NodeDirectory> nodes;   // null when not configured
  const BanTable* bans = nullptr;               // the service's (it outlives every snapshot)
  std::shared_ptr<const DecisionSet> crowdsec;  // null when CrowdSec is not configured

  RouteStats& stats(const Route& route) const {
    return *route_stats[static_cast<std::size_t>(route.index)];
  }
};

// A snapshot of `policy` and its data sources (either may be null). With `stats`, each route
// gets its counters there (kept across reloads by route name); offline tools (explain, replay)
// pass none and must not record decisions.
std::shared_ptr<Snapshot> make_snapshot(std::shared_ptr<const Policy> policy,
                                        std::shared_ptr<const GeoDatabase> geo,
                                        std::shared_ptr<const NodeDirectory> nodes,
                                        DecisionStats* stats = nullptr);

}  // namespace edgeguard
