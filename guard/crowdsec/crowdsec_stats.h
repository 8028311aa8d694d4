#pragma once
// The CrowdSec components' own counters and gauges. Each names the metric it is rendered as;
// the metrics registry reads them (any thread, relaxed loads are enough for a scrape).
#include <atomic>
#include <cstdint>

namespace edgeguard {

struct CrowdsecPullerStats {
  // edgeguard_crowdsec_decisions: decisions in the set being served (expired ones leave it at
  // the next pull; they stop matching at once).
  std::atomic<std::int64_t> decisions{0};
  // edgeguard_crowdsec_last_pull_seconds = last_pull_seconds(now): how old the list being served
  // is. Grows while LAPI is down or slow; alert on it.
  std::atomic<std::int64_t> last_success_ns{0};  // monotonic; 0 = no pull has succeeded yet
  std::atomic<std::int64_t> started_ns{0};       // monotonic, when start() ran
  // edgeguard_crowdsec_pulls_total{result="ok"|"error"}
  std::atomic<std::uint64_t> pulls_ok{0};
  std::atomic<std::uint64_t> pulls_failed{0};
  std::atomic<std::uint64_t> pulls_started{0};  // (not rendered: lets tests wait for a pull)
  // edgeguard_crowdsec_decisions_skipped_total: entries of other scopes or unreadable values.
  std::atomic<std::uint64_t> decisions_skipped{0};

  // Seconds since the last successful pull (since start while none has succeeded).
  double last_pull_seconds(std::int64_t now_ns) const {
    const std::int64_t last = last_success_ns.load(std::memory_order_relaxed);
    const std::int64_t since = last != 0 ? last : started_ns.load(std::memory_order_relaxed);
    return since == 0 || now_ns < since ? 0.0 : static_cast<double>(now_ns - since) / 1e9;
  }
};

struct CrowdsecReporterStats {
  // edgeguard_crowdsec_reports_total{result="queued"|"sent"|"dropped"|"rejected"}
  std::atomic<std::uint64_t> queued{0};    // report_ban() accepted
  std::atomic<std::uint64_t> sent{0};      // LAPI created the alert
  std::atomic<std::uint64_t> dropped{0};   // queue full, or the ban ran out before LAPI took it
  std::atomic<std::uint64_t> rejected{0};  // not an address or range, or LAPI refused it (400)
  // edgeguard_crowdsec_report_errors_total: POSTs that failed (LAPI down, 5xx, timeout).
  std::atomic<std::uint64_t> post_errors{0};
  // edgeguard_crowdsec_logins_total{result="ok"|"error"}
  std::atomic<std::uint64_t> logins{0};
  std::atomic<std::uint64_t> login_errors{0};
  // edgeguard_crowdsec_report_queue: bans waiting to be posted.
  std::atomic<std::int64_t> queue_length{0};
};

}  // namespace edgeguard
