#pragma once
// Process-wide metrics in Prometheus text format. Counters on the request path are per thread
// (each io thread writes only its own cache line, relaxed), summed when /metrics is scraped.
// Label values are route and limit names from the policy, never client data: cardinality is
// bounded by the configuration.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guard/core/decision.h"

namespace edgeguard {

inline constexpr int kMaxThreads = 64;

// The io thread this code runs on (0..threads-1); other threads share the last slot.
int metrics_thread_index();
void set_metrics_thread_index(int index);

// A latency histogram with fixed buckets (seconds), per-thread cells.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 5e-2, 0.25};
  void observe_ns(std::int64_t ns);
  void render(std::string& out, const std::string& name, const std::string& labels = {}) const;
  std::uint64_t count() const;

 private:
  struct alignas(64) Cell {
    std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets{};
    std::atomic<std::uint64_t> sum_ns{0};
  };
  std::array<Cell, kMaxThreads> cells_{};
};

// Counters of one route, kept across reloads while the route's name stays.
class RouteStats {
 public:
  static constexpr int kMaxLimits = 8;
  explicit RouteStats(std::string name) : name_(std::move(name)) {}
  void count(Verdict v, Reason r) {
    cells_[metrics_thread_index()].decisions[static_cast<int>(v)][static_cast<int>(r)].fetch_add(
        1, std::memory_order_relaxed);
  }
  void count_near(int limit_index) {
    if (limit_index >= 0 && limit_index < kMaxLimits) {
      cells_[metrics_thread_index()].near[limit_index].fetch_add(1, std::memory_order_relaxed);
    }
  }
  std::uint64_t decisions(Verdict v, Reason r) const;
  std::uint64_t near(int limit_index) const;
  const std::string& name() const { return name_; }

 private:
  struct alignas(64) Cell {
    std::atomic<std::uint64_t> decisions[3][kReasonCount]{};
    std::atomic<std::uint64_t> near[kMaxLimits]{};
  };
  std::string name_;
  std::array<Cell, kMaxThreads> cells_{};
};

class Metrics {
 public:
  Metrics();

  // Stats for a route name; created once, stable address for the life of the process.
  RouteStats* route(const std::string& name);
  // Limit names per route for the label of edgeguard_limit_near_total (set at each install).
  void set_limit_names(const std::string& route, std::vector<std::string> names);

  Histogram decision_seconds;
  Histogram redis_seconds;
  std::atomic<std::uint64_t> reloads_success{0};
  std::atomic<std::uint64_t> reloads_failure{0};
  std::atomic<std::int64_t> tailnet_nodes{0};
  std::atomic<std::uint64_t> tailnet_load_errors{0};
  std::atomic<std::uint64_t> tailnet_unchanged{0};  // refreshes that found the same nodes
  std::atomic<std::int64_t> geoip_build_epoch{0};
  std::atomic<std::uint64_t> geoip_load_errors{0};
  std::atomic<std::uint64_t> bad_requests_400{0};
  std::atomic<std::uint64_t> bad_requests_431{0};
  std::atomic<std::uint64_t> connections_rejected{0};
  std::function<std::size_t()> local_buckets;  // set by the server
  // Read live at scrape time when a shared store is configured (local mode: 0).
  std::function<std::uint64_t()> store_errors_source;
  std::function<bool()> store_fallback_source;
  std::function<std::int64_t()> open_connections;

  std::string render() const;

 private:
  mutable std::mutex mu_;  // guards the maps (touched at reload and scrape only)
  std::map<std::string, std::unique_ptr<RouteStats>> routes_;
  std::map<std::string, std::vector<std::string>> limit_names_;
  double start_time_;
};

}  // namespace edgeguard
