#include "guard/cli/failures_wiring.h"

#include <algorithm>

#include "guard/clock/clock.h"
#include "guard/failures/failure_webhook.h"
#include "guard/text/ascii.h"

namespace edgeguard {
namespace {

// How often the access log is read: a failed login counts within a quarter second.
constexpr auto kPollInterval = std::chrono::milliseconds(250);

void write_follower_metrics(MetricsWriter& w, const AccessLogFollowerStats* s) {
  const auto get = [s](const std::atomic<std::uint64_t> AccessLogFollowerStats::*field) {
    return s != nullptr ? static_cast<double>((s->*field).load(std::memory_order_relaxed)) : 0.0;
  };
  w.counter("edgeguard_access_log_lines_total",
            "Access-log lines read by the failures follower (malformed ones included).",
            get(&AccessLogFollowerStats::lines));
  w.counter("edgeguard_access_log_malformed_total",
            "Access-log lines that are not Traefik JSON records (skipped).",
            get(&AccessLogFollowerStats::malformed));
  w.family("edgeguard_access_log_rotations_total", "counter",
           "Access-log rotations followed, by how the file was rotated.");
  w.sample(get(&AccessLogFollowerStats::rotations), "how=\"rename\"");
  w.sample(get(&AccessLogFollowerStats::truncations), "how=\"truncate\"");
}

}  // namespace

FailuresWiring::FailuresWiring(Service& service, const Policy& policy, LimitStore& store,
                               boost::asio::io_context& maintenance, AdminRouter& admin)
    : service_(service),
      recorder_([&service] { return service.snapshot(); }, store, stats_),
      timer_(maintenance) {
  add_failure_endpoint(admin, recorder_);
  if (!policy.settings.failures_access_log.empty()) {
    AccessLogFollowerOptions options;
    options.file = policy.settings.failures_access_log;
    // The client-address header, as replay reads it, so a logged request is keyed as the
    // ForwardAuth call for it was.
    options.header_names = {policy.client_ip.header};
    follower_ = std::make_unique<AccessLogFollower>(std::move(options));
  }
  registration_ = service.metrics().add([this](MetricsWriter& w) {
    stats_.write(w);
    write_follower_metrics(w, follower_ ? &follower_->stats() : nullptr);
  });
}

void FailuresWiring::start() {
  if (follower_) arm_poll(kPollInterval);
}

void FailuresWiring::stop() {
  stopped_ = true;
  timer_.cancel();
}

void FailuresWiring::arm_poll(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    const AccessLogPoll p = follower_->poll([this](const AccessRecord& r) { on_record(r); });
    // A backlog larger than one poll's budget is read on the next turn, not after a pause.
    arm_poll(p.more ? std::chrono::milliseconds(0) : kPollInterval);
  });
}

// A logged request whose status is a failure is a failure for its client on the route it
// matches (the route its ForwardAuth call matched: host, path and method, as serve decides).
void FailuresWiring::on_record(const AccessRecord& record) {
  const auto snap = service_.snapshot();
  const Policy& policy = *snap->policy;
  const auto& statuses = policy.failures.access_log_statuses;
  if (std::find(statuses.begin(), statuses.end(), record.downstream_status) == statuses.end()) {
    return;
  }
  const ForwardHeaders h = forwarded_headers(
      record, iequals_lower(policy.client_ip.header, "x-forwarded-for"), scratch_);
  const ParseOutcome parsed =
      parse_forward_request(h, policy.client_ip.header, snap->client_ip, request_scratch_);
  if (!parsed.ok()) return;
  const Route& route =
      policy.match(parsed.request.host, parsed.request.path, parsed.request.method);
  if (route.failure_limits.empty()) return;
  FailureReport report;
  report.route = route.name;
  report.client_ip = parsed.request.client_ip;
  recorder_.record(report, FailureSource::access_log, monotonic_ns());
}

}  // namespace edgeguard
