#include "guard/pipeline/pipeline.h"

namespace edgeguard {

bool Pipeline::begin(const Snapshot& snap, const ForwardRequest& request, std::int64_t now_ns,
                     Trace* trace, FactLookups lookups) {
  const Policy& policy = *snap.policy;
  request_ = request;
  const Route& route = policy.match(request.host, request.path, request.method);
  std::string_view username;
  if (!route.username_field.empty()) {
    username = !request.username.empty() ? canonical_username(request.username, username_)
                                         : extract_username(request.content_type, request.body,
                                                            route.username_field, username_);
  }
  facts_ = resolve_facts(snap, route, request_, username, now_ns, lookups);
  return edgeguard::begin(policy, route, request_, facts_, now_ns, pending_, trace);
}

void Pipeline::complete(const LimitOutcome& outcome, Trace* trace) {
  edgeguard::complete(pending_, outcome, trace);
}

const Decision& Pipeline::decide(const Snapshot& snap, const ForwardRequest& request,
                                 std::int64_t now_ns, LimitStore& store, bool dry_run, Trace* trace,
                                 FactLookups lookups) {
  if (begin(snap, request, now_ns, trace, lookups)) {
    // A store that cannot answer at once (Redis) is driven by the server; this path needs one
    // that can, so an empty answer only guards against misuse.
    complete(store.try_admit(calls(), now_ns, dry_run).value_or(LimitOutcome{}), trace);
  }
  return pending_.decision;
}

}  // namespace edgeguard
