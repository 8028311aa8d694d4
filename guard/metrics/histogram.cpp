#include "guard/metrics/histogram.h"

#include <cstdio>
#include <string>

namespace edgeguard {
namespace {

thread_local int t_thread_index = kMaxThreads - 1;

}  // namespace

int metrics_thread_index() {
  return t_thread_index;
}
void set_metrics_thread_index(int index) {
  t_thread_index = (index >= 0 && index < kMaxThreads) ? index : kMaxThreads - 1;
}

void Histogram::observe_ns(std::int64_t ns) {
  Cell& c = cells_[metrics_thread_index()];
  const double s = static_cast<double>(ns) * 1e-9;
  std::size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  c.buckets[i].fetch_add(1, std::memory_order_relaxed);
  c.sum_ns.fetch_add(static_cast<std::uint64_t>(ns < 0 ? 0 : ns), std::memory_order_relaxed);
}

std::uint64_t Histogram::count() const {
  std::uint64_t n = 0;
  for (const auto& c : cells_) {
    for (const auto& b : c.buckets) n += b.load(std::memory_order_relaxed);
  }
  return n;
}

void Histogram::write(MetricsWriter& w, std::string_view labels) const {
  std::array<std::uint64_t, kBounds.size() + 1> totals{};
  std::uint64_t sum_ns = 0;
  for (const auto& c : cells_) {
    for (std::size_t i = 0; i < totals.size(); ++i) {
      totals[i] += c.buckets[i].load(std::memory_order_relaxed);
    }
    sum_ns += c.sum_ns.load(std::memory_order_relaxed);
  }
  const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += totals[i];
    char le[32];
    if (i < kBounds.size()) {
      std::snprintf(le, sizeof le, "%g", kBounds[i]);
    } else {
      std::snprintf(le, sizeof le, "+Inf");
    }
    w.sample_suffixed("_bucket", static_cast<double>(cumulative), prefix + "le=\"" + le + "\"");
  }
  w.sample_suffixed("_sum", static_cast<double>(sum_ns) * 1e-9, labels);
  w.sample_suffixed("_count", static_cast<double>(cumulative), labels);
}

}  // namespace edgeguard
