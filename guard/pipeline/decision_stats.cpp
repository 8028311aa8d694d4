#include "guard/pipeline/decision_stats.h"

namespace edgeguard {

std::uint64_t RouteStats::decisions(Verdict v, Reason r) const {
  std::uint64_t n = 0;
  for (const auto& c : cells_) {
    n += c.decisions[static_cast<int>(v)][static_cast<int>(r)].load(std::memory_order_relaxed);
  }
  return n;
}

std::uint64_t RouteStats::near(int limit_index) const {
  std::uint64_t n = 0;
  for (const auto& c : cells_) n += c.near[limit_index].load(std::memory_order_relaxed);
  return n;
}

RouteStats* DecisionStats::route(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& slot = routes_[name];
  if (!slot) slot = std::make_unique<RouteStats>(name);
  return slot.get();
}

void DecisionStats::set_limit_names(const std::string& route, std::vector<std::string> names) {
  std::lock_guard lock(mu_);
  limit_names_[route] = std::move(names);
}

void DecisionStats::write(MetricsWriter& w) const {
  std::lock_guard lock(mu_);
  w.family("edgeguard_decisions_total", "counter",
           "ForwardAuth decisions by route, verdict and reason.");
  for (const auto& [name, stats] : routes_) {
    for (int v = 0; v < 3; ++v) {
      for (int r = 0; r < kReasonCount; ++r) {
        const auto n = stats->decisions(static_cast<Verdict>(v), static_cast<Reason>(r));
        if (n == 0) continue;
        w.sample(static_cast<double>(n), "route=\"" + name + "\",verdict=\"" +
                                             to_string(static_cast<Verdict>(v)) + "\",reason=\"" +
                                             to_string(static_cast<Reason>(r)) + "\"");
      }
    }
  }
  w.family("edgeguard_limit_near_total", "counter",
           "Requests admitted with at most a fifth of the burst left, by route and limit.");
  for (const auto& [route, names] : limit_names_) {
    auto it = routes_.find(route);
    if (it == routes_.end()) continue;
    for (std::size_t i = 0; i < names.size() && i < kMaxLimitsPerRoute; ++i) {
      w.sample(static_cast<double>(it->second->near(static_cast<int>(i))),
               "route=\"" + route + "\",limit=\"" + names[i] + "\"");
    }
  }
}

}  // namespace edgeguard
