#pragma once
// The `decision` log line: its one schema, written for every deny and shadow deny (and for
// allowed decisions when `log.allow` asks). Buffered per thread (event_log.h).
#include "guard/core/decision.h"
#include "guard/request/forward_request.h"

namespace edgeguard {

// `request` is null when the call never got that far (a caller refused before parsing); the
// logged client address is then `peer`.
void log_decision(const Decision& decision, const ForwardRequest* request, const IpAddress& peer);

// log.allow / log.allow_sample: whether this allowed decision is logged. Every (1/sample)-th
// allowed decision of the calling thread, counted rather than drawn at random so the hot path
// needs no random number generator.
bool sample_allowed(const LogSettings& log);

}  // namespace edgeguard
