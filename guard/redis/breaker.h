#pragma once
// A circuit breaker for Redis: `failure_threshold` consecutive failures open it; while it is
// open, requests do not wait on Redis (the on_error policy answers them at once) and one probe
// goes out every `probe_interval`; the first probe answered closes it. The breaker has no clock:
// every call takes the caller's monotonic time, so tests drive it through any timeline without
// sleeping.
#include <cstdint>

namespace edgeguard {

class Breaker {
 public:
  Breaker(int failure_threshold, std::int64_t probe_interval_ns);

  bool open() const { return open_; }
  int consecutive_failures() const { return failures_; }

  // A request failed at `now_ns`. True when this failure opened the breaker (the caller logs
  // it and schedules the first probe at next_probe_ns()).
  bool record_failure(std::int64_t now_ns);
  // A request was answered in time: the failures so far were not consecutive. An open breaker
  // stays open: only a probe closes it.
  void record_success();

  // While open: when the next probe is due.
  std::int64_t next_probe_ns() const { return next_probe_ns_; }
  // Open and a probe is due at `now_ns`: the caller sends one. The next is due one interval
  // later, so a probe still unanswered by then counts as failed and another replaces it.
  bool take_probe(std::int64_t now_ns);
  // A probe was answered. True if that closed the breaker.
  bool record_probe_answer();

 private:
  int threshold_;
  std::int64_t probe_interval_ns_;
  int failures_ = 0;
  bool open_ = false;
  std::int64_t next_probe_ns_ = 0;
};

}  // namespace edgeguard
