#pragma once
// What the ForwardAuth listener counts: time to decide, calls refused before a decision (400
// and 431), and connections refused at accept. Written by the io threads (per-thread histogram
// cells, relaxed atomics), rendered at scrape time with the open connection count.
#include <atomic>
#include <cstdint>

#include "guard/metrics/histogram.h"
#include "guard/metrics/registry.h"

namespace edgeguard {

struct ServerStats {
  Histogram decision_seconds;
  std::atomic<std::uint64_t> bad_requests_400{0};
  std::atomic<std::uint64_t> bad_requests_431{0};
  std::atomic<std::uint64_t> connections_rejected{0};

  void write(MetricsWriter& w, std::int64_t open_connections) const {
    w.family("edgeguard_decision_seconds", "histogram",
             "Time to decide, from request parsed to answer written.");
    decision_seconds.write(w);
    w.family("edgeguard_bad_requests_total", "counter", "Calls answered 400 or 431.");
    w.sample(static_cast<double>(bad_requests_400.load()), "status=\"400\"");
    w.sample(static_cast<double>(bad_requests_431.load()), "status=\"431\"");
    w.counter("edgeguard_connections_rejected_total",
              "Connections closed at accept: over the connection limit.",
              static_cast<double>(connections_rejected.load()));
    w.gauge("edgeguard_open_connections", "ForwardAuth connections open now.",
            static_cast<double>(open_connections));
  }
};

}  // namespace edgeguard
