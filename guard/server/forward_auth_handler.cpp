#include "guard/server/forward_auth_handler.h"

#include "guard/clock/clock.h"
#include "guard/http/response.h"
#include "guard/log/decision_log.h"

namespace edgeguard {

ForwardAuthHandler::Progress ForwardAuthHandler::handle(
    const std::shared_ptr<const Snapshot>& snapshot, LimitStore& store, ServerStats& stats,
    const ForwardHeaders& headers, const IpAddress& peer, bool keep_alive, std::string& out) {
  started_ns_ = monotonic_ns();
  stats_ = &stats;
  snapshot_ = snapshot.get();
  peer_ = peer;
  keep_alive_ = keep_alive;
  const Snapshot& snap = *snapshot_;
  const Policy& policy = *snap.policy;

  if (!caller_allowed(policy, peer)) {
    answer(caller_denied(policy), nullptr, out);
    return Progress::answered;
  }
  const ParseOutcome parsed =
      parse_forward_request(headers, policy.client_ip.header, snap.client_ip, scratch_);
  if (!parsed.ok()) {
    stats.bad_requests_400.fetch_add(1, std::memory_order_relaxed);
    write_bad_request(out, parsed.bad, keep_alive);
    return Progress::answered;
  }
  if (!pipeline_.begin(snap, parsed.request, started_ns_)) {
    answer(pipeline_.decision(), &pipeline_.request(), out);
    return Progress::answered;
  }
  if (auto outcome = store.try_admit(pipeline_.calls(), started_ns_, false)) {
    finish(*outcome, out);
    return Progress::answered;
  }
  // The shared store answers later on this thread: hold the snapshot the route and facts point
  // into until it does.
  held_ = snapshot;
  return Progress::waiting_for_store;
}

void ForwardAuthHandler::finish(const LimitOutcome& outcome, std::string& out) {
  pipeline_.complete(outcome);
  answer(pipeline_.decision(), &pipeline_.request(), out);
  held_.reset();
}

void ForwardAuthHandler::answer(const Decision& d, const ForwardRequest* request,
                                std::string& out) {
  const Snapshot& snap = *snapshot_;
  const Route& route = d.route != nullptr ? *d.route : snap.policy->default_route;
  snap.stats(route).record(d);
  if (d.verdict != Verdict::allow || sample_allowed(snap.policy->log)) {
    log_decision(d, request, peer_);
  }
  static const Facts kNothingKnown;
  write_decision(out, d, request != nullptr ? pipeline_.facts() : kNothingKnown, keep_alive_);
  stats_->decision_seconds.observe_ns(monotonic_ns() - started_ns_);
}

}  // namespace edgeguard
