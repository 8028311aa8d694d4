#pragma once
// The two clocks of the process. The adapters hand the core (which has none of its own)
// monotonic nanoseconds: immune to wall-clock steps, the unit of every GCRA timestamp, deadline
// and ban end on the request path. Unix time appears only where a time leaves the process
// (logs, the admin API, a ban's `until`, Redis), converted at that edge.
#include <chrono>
#include <cstdint>

namespace edgeguard {

inline std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A monotonic instant as Unix time, by the distance from now on both clocks.
inline std::int64_t to_unix_ns(std::int64_t monotonic) {
  return unix_ns() + (monotonic - monotonic_ns());
}

}  // namespace edgeguard
