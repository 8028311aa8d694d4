#include "guard/pipeline/snapshot.h"

namespace edgeguard {

std::shared_ptr<Snapshot> make_snapshot(std::shared_ptr<const Policy> policy,
                                        std::shared_ptr<const GeoDatabase> geo,
                                        std::shared_ptr<const NodeDirectory> nodes,
                                        DecisionStats* stats) {
  auto snap = std::make_shared<Snapshot>();
  if (stats != nullptr) {
    for (const Route& r : policy->routes) {
      snap->route_stats.push_back(stats->route(r.name));
      std::vector<std::string> limit_names;
      for (const auto& l : r.limits) limit_names.push_back(l.name);
      stats->set_limit_names(r.name, std::move(limit_names));
    }
    snap->route_stats.push_back(stats->route(policy->default_route.name));
  }
  snap->capture =
      CapturePlan(policy->client_ip.header, policy->key_header_names, policy->reads_bodies);
  snap->client_ip.depth = policy->client_ip.depth;
  snap->client_ip.trusted_hops =
      policy->client_ip.trusted_hops ? &*policy->client_ip.trusted_hops : nullptr;
  snap->geo = std::move(geo);
  snap->nodes = std::move(nodes);
  snap->policy = std::move(policy);
  return snap;
}

}  // namespace edgeguard
