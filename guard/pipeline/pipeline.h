#pragma once
// The one decision pipeline that `serve`, `explain` and `replay` share:
//
//   route   policy.match(host, path, method)          (guard/policy)
//   facts   resolve_facts(snapshot, route, client)    (guard/pipeline/facts.h)
//   rules   begin()                                   (guard/core/decide.h)
//   store   the caller's LimitStore answers calls()   (at once, or later on the event loop)
//   verdict complete()                                (guard/core/decide.h)
//
// A Pipeline holds one decision in progress and is reused for the next (a session owns one);
// it allocates nothing. The request it is given must stay valid until the decision completes
// (it views into the caller's buffers), and so must the snapshot.
#include <span>

#include "guard/core/decide.h"
#include "guard/pipeline/facts.h"
#include "guard/pipeline/snapshot.h"
#include "guard/request/login_name.h"
#include "guard/store/store.h"

namespace edgeguard {

class Pipeline {
 public:
  // Route, facts and every rule before the limits. Returns true when the store must answer
  // calls() before complete(); false when decision() is final (and calls() is empty).
  bool begin(const Snapshot& snap, const ForwardRequest& request, std::int64_t now_ns,
             Trace* trace = nullptr, FactLookups lookups = FactLookups::for_route);
  std::span<const LimitCall> calls() const { return pending_.calls.view(); }
  void complete(const LimitOutcome& outcome, Trace* trace = nullptr);

  // Both steps with a store that answers at once (local store, explain, replay, tests).
  // `dry_run` charges no token.
  const Decision& decide(const Snapshot& snap, const ForwardRequest& request, std::int64_t now_ns,
                         LimitStore& store, bool dry_run, Trace* trace = nullptr,
                         FactLookups lookups = FactLookups::for_route);

  const Decision& decision() const { return pending_.decision; }
  const Facts& facts() const { return facts_; }
  const ForwardRequest& request() const { return request_; }

 private:
  ForwardRequest request_;
  std::array<char, kMaxUsernameBytes> username_;  // the canonical login name, when read
  Facts facts_;
  PendingDecision pending_;
};

}  // namespace edgeguard
