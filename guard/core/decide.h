#pragma once
// The decision: request + facts + policy (+ the limit store's answer) -> verdict. No I/O, no
// clock of its own: `now_ns` comes from the caller. The HTTP server runs the phases separately
// so a Redis answer can arrive asynchronously; decide() runs them back to back for a store that
// answers at once (local mode, tests, benchmarks, explain).
#include "guard/core/decision.h"
#include "guard/core/limit_key.h"
#include "guard/policy/policy.h"
#include "guard/request/forward_request.h"
#include "guard/store/store.h"

namespace edgeguard {

// Phase 0: the caller (TCP peer) must be listed in `callers`.
bool caller_allowed(const Policy& policy, const IpAddress& peer);
Decision caller_denied(const Policy& policy);

// Phase 1: every rule of the route before the limits: bypass, deny_ips/allow_ips, tailnet, geo.
// Returns true when the limits still have to run (nothing denied for real, no bypass).
bool evaluate_rules(const Route& route, const Facts& facts, Decision& decision, Trace* trace);

// Phase 2 is build_limit_calls() (limit_key.h) and the store. Phase 3 folds its answer in.
void apply_limits(const Route& route, const LimitOutcome& outcome, Decision& decision,
                  Trace* trace);

// All phases with a store that answers at once. `dry_run` charges no token (explain).
Decision decide(const Policy& policy, const ForwardRequest& request, const Facts& facts,
                LimitStore& store, std::int64_t now_ns, bool dry_run = false,
                Trace* trace = nullptr);

}  // namespace edgeguard
