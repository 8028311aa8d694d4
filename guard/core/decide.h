#pragma once
// The decision: request + facts + policy (+ the limit store's answer) -> verdict. No I/O, no
// clock of its own: `now_ns` comes from the caller. A decision is two steps, so a store that
// answers later (Redis) fits between them:
//
//   begin()     route rules in their fixed order (SPEC 2.5): bypass -> deny_ips/allow_ips ->
//               bans -> tailnet -> geo; then the limit calls, if any limit still has to answer
//   [store]     the caller asks its LimitStore about `calls` (at once, or asynchronously)
//   complete()  folds the store's answer into the verdict
//
// The caller check (SPEC 2.1) comes before the request is even parsed, so it is its own step.
// guard/pipeline/ chains route matching, fact resolution and these steps for serve, explain and
// replay alike; this file is where a rule lives.
#include "guard/core/decision.h"
#include "guard/core/limit_key.h"
#include "guard/policy/policy.h"
#include "guard/request/forward_request.h"
#include "guard/store/store.h"

namespace edgeguard {

// The caller (TCP peer) must be listed in `callers`.
bool caller_allowed(const Policy& policy, const IpAddress& peer);
Decision caller_denied(const Policy& policy);

// A decision in progress: the verdict so far and the store calls it still needs.
struct PendingDecision {
  Decision decision;
  LimitCalls calls;         // filled by begin() when it returns true
  std::int64_t now_ns = 0;  // begin()'s clock, for what complete() turns into durations
  bool would_ban = false;   // a banning limit's denial bans (not shadow, not exempt)
};

// Step 1: every rule of `route` before the limits. Returns true when the limits still have to
// run: `out.calls` holds one call per limit and the store must answer them. Returns false when
// the decision is final (denied, bypassed, default route, no limits).
bool begin(const Policy& policy, const Route& route, const ForwardRequest& request,
           const Facts& facts, std::int64_t now_ns, PendingDecision& out, Trace* trace);

// Step 2: the store's answer to `pending.calls` decides the limits.
void complete(PendingDecision& pending, const LimitOutcome& outcome, Trace* trace);

// Route matching and both steps, with facts already resolved and a store that answers at once
// (tests, benchmarks). `dry_run` charges no token.
Decision decide(const Policy& policy, const ForwardRequest& request, const Facts& facts,
                LimitStore& store, std::int64_t now_ns, bool dry_run = false,
                Trace* trace = nullptr);

}  // namespace edgeguard
