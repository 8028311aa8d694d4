#include "guard/redis/breaker.h"

namespace edgeguard {

Breaker::Breaker(int failure_threshold, std::int64_t probe_interval_ns)
    : threshold_(failure_threshold), probe_interval_ns_(probe_interval_ns) {}

bool Breaker::record_failure(std::int64_t now_ns) {
  if (open_) return false;
  if (++failures_ < threshold_) return false;
  open_ = true;
  next_probe_ns_ = now_ns + probe_interval_ns_;
  return true;
}

void Breaker::record_success() {
  failures_ = 0;
}

bool Breaker::take_probe(std::int64_t now_ns) {
  if (!open_ || now_ns < next_probe_ns_) return false;
  next_probe_ns_ = now_ns + probe_interval_ns_;
  return true;
}

bool Breaker::record_probe_answer() {
  if (!open_) return false;
  open_ = false;
  failures_ = 0;
  return true;
}

}  // namespace edgeguard
