#include "guard/crowdsec/crowdsec_metrics.h"

namespace edgeguard {
namespace {

double get(const std::atomic<std::uint64_t>* v) {
  return v != nullptr ? static_cast<double>(v->load(std::memory_order_relaxed)) : 0.0;
}

}  // namespace

void write_crowdsec_metrics(MetricsWriter& w, const CrowdsecPullerStats* p,
                            const CrowdsecReporterStats* r, std::int64_t now_ns) {
  w.gauge("edgeguard_crowdsec_decisions", "CrowdSec decisions in the list being served.",
          p != nullptr ? static_cast<double>(p->decisions.load(std::memory_order_relaxed)) : 0.0);
  w.gauge("edgeguard_crowdsec_last_pull_seconds",
          "Age of the CrowdSec decision list being served (since its last successful pull).",
          p != nullptr ? p->last_pull_seconds(now_ns) : 0.0);
  w.family("edgeguard_crowdsec_pulls_total", "counter", "Decision stream pulls by result.");
  w.sample(get(p ? &p->pulls_ok : nullptr), "result=\"ok\"");
  w.sample(get(p ? &p->pulls_failed : nullptr), "result=\"error\"");
  w.counter("edgeguard_crowdsec_decisions_skipped_total",
            "Stream entries of other scopes or with values edgeguard cannot read.",
            get(p ? &p->decisions_skipped : nullptr));
  w.family("edgeguard_crowdsec_reports_total", "counter",
           "Bans reported to CrowdSec as alerts, by result.");
  w.sample(get(r ? &r->queued : nullptr), "result=\"queued\"");
  w.sample(get(r ? &r->sent : nullptr), "result=\"sent\"");
  w.sample(get(r ? &r->dropped : nullptr), "result=\"dropped\"");
  w.sample(get(r ? &r->rejected : nullptr), "result=\"rejected\"");
  w.counter("edgeguard_crowdsec_report_errors_total", "Alert posts that failed.",
            get(r ? &r->post_errors : nullptr));
  w.family("edgeguard_crowdsec_logins_total", "counter", "Machine logins to LAPI by result.");
  w.sample(get(r ? &r->logins : nullptr), "result=\"ok\"");
  w.sample(get(r ? &r->login_errors : nullptr), "result=\"error\"");
  w.gauge(
      "edgeguard_crowdsec_report_queue", "Bans waiting to be reported.",
      r != nullptr ? static_cast<double>(r->queue_length.load(std::memory_order_relaxed)) : 0.0);
}

}  // namespace edgeguard
