#include "guard/failures/failure_recorder.h"

#include "guard/core/limit_key.h"
#include "guard/request/login_name.h"

namespace edgeguard {

const char* to_string(FailureSource source) {
  switch (source) {
    case FailureSource::webhook:
      return "webhook";
    case FailureSource::access_log:
      return "access_log";
  }
  return "?";
}

void FailureStats::count(const std::string& route, FailureSource source) {
  std::lock_guard lock(mu_);
  ++counts_[{route, source}];
}

void FailureStats::write(MetricsWriter& w) const {
  w.family("edgeguard_failures_total", "counter",
           "Failed logins charged to failure limits, by route and source.");
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : counts_) {
    w.sample(static_cast<double>(n),
             "route=\"" + key.first + "\",source=\"" + to_string(key.second) + "\"");
  }
}

namespace {

// What a store call needs alive until it answers (Redis answers later on the loop).
struct Charge {
  std::shared_ptr<const Snapshot> snapshot;  // the route and limits the calls point into
  std::array<char, kMaxUsernameBytes> username;
  ForwardRequest request;
  Facts facts;
  LimitCalls calls;
};

}  // namespace

FailureRecorder::Outcome FailureRecorder::record(const FailureReport& report, FailureSource source,
                                                 std::int64_t now_ns, Ban* made) {
  auto charge = std::make_shared<Charge>();
  charge->snapshot = snapshot_();
  const Policy& policy = *charge->snapshot->policy;
  const Route* route = nullptr;
  for (const Route& r : policy.routes) {
    if (r.name == report.route) route = &r;
  }
  if (route == nullptr) return Outcome::unknown_route;

  Facts& facts = charge->facts;
  facts.client_ip_known = report.client_ip.has_value();
  if (report.client_ip) facts.client_ip = *report.client_ip;
  if (!report.username.empty())
    facts.username = canonical_username(report.username, charge->username);
  charge->request.client_ip = facts.client_ip;

  if (report.success) {
    // A login that worked forgets that account's failures (the address's stay: a success from
    // one address says nothing about the others it was tried from).
    if (facts.username.empty()) return Outcome::nothing_applies;
    facts.client_ip_known = false;
    build_limit_calls(*route, route->failure_limits, charge->request, facts,
                      policy.client_ip.ipv6_prefix, charge->calls);
    if (charge->calls.count == 0) return Outcome::nothing_applies;
    store_.reset(charge->calls.view());
    return Outcome::charged;
  }

  // The failure bans only on an enforced route and never an exempt address.
  const bool bans = route->mode == Mode::enforce &&
                    !(facts.client_ip_known && policy.bans.exempt.contains(facts.client_ip));
  build_limit_calls(*route, route->failure_limits, charge->request, facts,
                    policy.client_ip.ipv6_prefix, charge->calls,
                    bans ? &policy.bans.escalation : nullptr, BanSource::failure);
  if (charge->calls.count == 0) return Outcome::nothing_applies;
  stats_.count(route->name, source);
  // The ban, if one is due, is made by the store with the denial; the answer itself is not
  // needed here (the store logs and counts the ban).
  if (auto outcome = store_.try_admit(charge->calls.view(), now_ns, false)) {
    if (made != nullptr && outcome->ban_made) {
      const LimitCall& call = charge->calls.calls[static_cast<std::size_t>(outcome->denied_index)];
      *made = Ban{std::string(call.ban->subject), std::string(call.ban->scope),
                  outcome->ban_until_ns,          outcome->ban_count,
                  std::string(call.ban->reason),  BanSource::failure};
    }
  } else {
    store_.admit_async(charge->calls.view(), now_ns, false,
                       [charge](const LimitOutcome&) {});  // keeps the calls alive until then
  }
  return Outcome::charged;
}

}  // namespace edgeguard
