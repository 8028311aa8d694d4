#pragma once
// A latency histogram with fixed buckets (seconds) and per-thread cells (thread_slot.h).
#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "guard/metrics/registry.h"
#include "guard/metrics/thread_slot.h"

namespace edgeguard {

class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 5e-2, 0.25};
  void observe_ns(std::int64_t ns);
  // The samples of the current family (the caller wrote family(..., "histogram", ...)).
  void write(MetricsWriter& w, std::string_view labels = {}) const;
  std::uint64_t count() const;

 private:
  struct alignas(64) Cell {
    std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets{};
    std::atomic<std::uint64_t> sum_ns{0};
  };
  std::array<Cell, kMaxThreads> cells_{};
};

}  // namespace edgeguard
