#pragma once
// Traefik's RateLimit numbers (average per period, burst) as a GCRA rate that admits what
// Traefik admits.
//
// Traefik (pkg/middlewares/ratelimiter, golang.org/x/time/rate) reserves a token for every
// request and forwards it if that token is due within `maxDelay`, sleeping until then; only a
// later token is refused. The reservation stands, so the token schedule never restarts from
// "now": paced faster than the rate, a client gets exactly the rate in the long run. Plain GCRA
// with tolerance T × burst instead refuses an arrival a little early, and the next admission
// starts the schedule again from its own arrival: with burst 1 and arrivals at 4× the rate (a
// case of Traefik's own test), that admits about 85% of `average`.
//
// It also made Redis mode admit fewer than local mode: there each decision is taken on Redis's
// clock after a trip of varying length, and the deny cache judges a later request against a
// deadline measured through an earlier request's trip. Each such difference (tens of µs) that
// fell the wrong way cost a whole gap between requests; a window of maxDelay absorbs them.
//
// In GCRA terms the reservation is one more term in the tolerance, tau = T × burst + maxDelay,
// with the same single TAT per key, the same check and the same update. A full bucket still
// admits exactly `burst` at once, since maxDelay < T.
//
// maxDelay is Traefik's: 1 s / (2 × ⌊rate per second⌋) from 1/s up (half an emission interval
// for whole rates), 500 ms below 1/s. Taking Traefik's formula as it is, truncation included,
// means the same arrivals get the same verdicts as in Traefik, not just the same long-run count.
//
// edgeguard answers at once instead of holding the admitted request until its token is due: a
// ForwardAuth verdict that waited would hold Traefik's connection (and the client) for up to
// maxDelay to change nothing but when the backend sees the request: up to maxDelay (T/2 for
// whole rates per second, never more than 500 ms) before Traefik would have forwarded it.
#include <algorithm>
#include <cstdint>

#include "guard/limit/gcra.h"

namespace edgeguard {

inline constexpr std::int64_t kTraefikLowRateMaxDelayNs = 500'000'000;

// Traefik's maxDelay for `average` per `period_ns` (both positive), never reaching the
// emission interval `emission_ns`: the burst+1-th request at once stays refused.
inline std::int64_t traefik_max_delay_ns(double average, std::int64_t period_ns,
                                         std::int64_t emission_ns) {
  const double per_second = average * 1e9 / static_cast<double>(period_ns);
  std::int64_t d = kTraefikLowRateMaxDelayNs;
  // Traefik truncates the rate to whole requests per second (time.Duration(rtl)) first.
  if (per_second >= 1) d = 1'000'000'000 / (2 * static_cast<std::int64_t>(per_second));
  return std::clamp<std::int64_t>(d, 0, emission_ns - 1);
}

// A request limit: T = period / average (whole nanoseconds), tau = T × burst + maxDelay.
// `emission_ns` >= 1, and T × burst + 500 ms must fit in 63 bits (the caller checks).
inline GcraRate traefik_gcra_rate(double average, std::int64_t period_ns, std::int64_t emission_ns,
                                  std::int64_t burst) {
  GcraRate r;
  r.emission_ns = emission_ns;
  r.burst = burst;
  r.tolerance_ns = emission_ns * burst + traefik_max_delay_ns(average, period_ns, emission_ns);
  return r;
}

}  // namespace edgeguard
