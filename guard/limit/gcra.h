#pragma once
// GCRA (generic cell rate algorithm): a token bucket kept as one integer per key, the
// "theoretical arrival time" (TAT). Pure integer arithmetic on nanoseconds; the caller supplies
// the clock. Traefik's meaning of the numbers: rate = average / period, and a full bucket admits
// `burst` requests at once.
//
//   emission  T   = period / average          (ns between tokens)
//   tolerance tau = T * burst + maxDelay      (how far TAT may run ahead of now; maxDelay < T is
//                                              Traefik's allowance, see traefik_rate.h; failure
//                                              limits use T * (burst - 1))
//   admit if max(TAT, now) + T - now <= tau;  then TAT' = max(TAT, now) + T
#include <algorithm>
#include <cstdint>

namespace edgeguard {

struct GcraRate {
  std::int64_t emission_ns = 0;   // T
  std::int64_t tolerance_ns = 0;  // tau = T * burst + maxDelay
  std::int64_t burst = 1;
};

struct GcraResult {
  bool allowed = false;
  std::int64_t new_tat = 0;         // TAT to store when the request is committed
  std::int64_t retry_after_ns = 0;  // when denied: wait until one token is back
  std::int64_t remaining = 0;       // tokens left after this request (0 when denied)
  std::int64_t reset_ns = 0;        // time until the bucket is full again
};

// `tat` is 0 for a key never seen (or dropped because it had refilled): the bucket is full.
constexpr GcraResult gcra_check(std::int64_t tat, std::int64_t now, const GcraRate& rate) {
  GcraResult r;
  const std::int64_t base = std::max(tat, now);
  const std::int64_t next = base + rate.emission_ns;
  const std::int64_t ahead = next - now;
  if (ahead <= rate.tolerance_ns) {
    r.allowed = true;
    r.new_tat = next;
    r.remaining = rate.emission_ns > 0 ? (rate.tolerance_ns - ahead) / rate.emission_ns : 0;
    r.reset_ns = ahead;
  } else {
    r.allowed = false;
    r.new_tat = tat;
    r.retry_after_ns = ahead - rate.tolerance_ns;
    r.remaining = 0;
    r.reset_ns = base - now;
  }
  return r;
}

// A stored TAT at or before `now` means a full bucket: it carries no information.
constexpr bool gcra_is_full(std::int64_t tat, std::int64_t now) {
  return tat <= now;
}

}  // namespace edgeguard
