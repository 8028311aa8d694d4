#pragma once
// What the pipeline's decisions add up to, per route: edgeguard_decisions_total{route,verdict,
// reason} and edgeguard_limit_near_total{route,limit}. Counters live per thread (thread_slot.h)
// and per route name, so they survive a reload while the route keeps its name.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guard/core/decision.h"
#include "guard/metrics/registry.h"
#include "guard/metrics/thread_slot.h"

namespace edgeguard {

class RouteStats {
 public:
  explicit RouteStats(std::string name) : name_(std::move(name)) {}
  // One decision: its verdict and reason, and whether it came near its limit.
  void record(const Decision& d) {
    Cell& c = cells_[metrics_thread_index()];
    c.decisions[static_cast<int>(d.verdict)][static_cast<int>(d.reason)].fetch_add(
        1, std::memory_order_relaxed);
    if (d.near_limit && d.limit_index >= 0 &&
        static_cast<std::size_t>(d.limit_index) < kMaxLimitsPerRoute) {
      c.near[d.limit_index].fetch_add(1, std::memory_order_relaxed);
    }
  }
  std::uint64_t decisions(Verdict v, Reason r) const;
  std::uint64_t near(int limit_index) const;
  const std::string& name() const { return name_; }

 private:
  struct alignas(64) Cell {
    std::atomic<std::uint64_t> decisions[3][kReasonCount]{};
    std::atomic<std::uint64_t> near[kMaxLimitsPerRoute]{};
  };
  std::string name_;
  std::array<Cell, kMaxThreads> cells_{};
};

class DecisionStats {
 public:
  // Stats for a route name; created once, stable address for the life of the process.
  RouteStats* route(const std::string& name);
  // Limit names per route for the label of edgeguard_limit_near_total (set at each install).
  void set_limit_names(const std::string& route, std::vector<std::string> names);
  void write(MetricsWriter& w) const;

 private:
  mutable std::mutex mu_;  // guards the maps (touched at reload and scrape only)
  std::map<std::string, std::unique_ptr<RouteStats>> routes_;
  std::map<std::string, std::vector<std::string>> limit_names_;
};

}  // namespace edgeguard
