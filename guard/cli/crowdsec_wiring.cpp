#include "guard/cli/crowdsec_wiring.h"

#include "guard/clock/clock.h"
#include "guard/crowdsec/crowdsec_metrics.h"
#include "guard/log/event_log.h"

namespace edgeguard {
namespace {

// How long serve waits for the first pull before serving with an empty list (and pulling on).
constexpr std::int64_t kFirstPullTimeoutNs = 5'000'000'000;

}  // namespace

void CrowdsecWiring::Reporting::made(const Ban& ban, std::int64_t now_ns) {
  // Only addresses and ranges can be CrowdSec decisions: user: and key: subjects stay ours.
  if (!ban.subject.starts_with("ip:")) return;
  reporter_.report_ban(ban.subject, ban.route, ban.reason, ban.until_ns - now_ns);
}

CrowdsecWiring::CrowdsecWiring(Service& service, const Policy& policy,
                               boost::asio::io_context& maintenance) {
  registration_ = service.metrics().add([this](MetricsWriter& w) {
    write_crowdsec_metrics(w, puller_ ? &puller_->stats() : nullptr,
                           reporter_ ? &reporter_->stats() : nullptr, monotonic_ns());
  });
  const auto& settings = policy.settings.crowdsec;
  if (!settings) return;
  puller_ = CrowdsecPuller::create(maintenance, *settings, &error_);
  if (!puller_) return;
  const PullOutcome first = run_first_pull(maintenance, *puller_, kFirstPullTimeoutNs);
  if (first.status == PullStatus::forbidden) {
    error_ = describe_pull_failure(*puller_, first);
    puller_->stop();
    puller_.reset();
    return;
  }
  if (first.status != PullStatus::ok && !puller_->first_outcome()) {
    // Slow, not failed: LAPI takes seconds to answer with a large list (about 5 s for 100 000
    // decisions). Requests are served without CrowdSec until it does; crowdsec_pulled follows.
    log_event(
        "warn", "crowdsec_first_pull_pending",
        {{"lapi", puller_->options().lapi.url}, {"waited_ms", kFirstPullTimeoutNs / 1'000'000}});
  } else if (first.status != PullStatus::ok) {
    // Not fatal: requests are served with no CrowdSec decision until a pull succeeds.
    log_event("error", "crowdsec_first_pull_failed",
              {{"error", describe_pull_failure(*puller_, first)}});
  }
  service.attach_crowdsec(puller_);
  Service* s = &service;
  puller_->set_observer([s](const PullOutcome&) { s->refresh_crowdsec(); });
  if (settings->report) {
    reporter_ = CrowdsecReporter::create(maintenance, *settings, &error_);
    if (!reporter_) return;
    reporting_ = std::make_unique<Reporting>(*reporter_);
    service.add_ban_listener(reporting_.get());
    reporter_->start();
  }
}

CrowdsecWiring::~CrowdsecWiring() = default;

void CrowdsecWiring::stop() {
  if (puller_) puller_->stop();
  if (reporter_) reporter_->stop();
}

}  // namespace edgeguard
