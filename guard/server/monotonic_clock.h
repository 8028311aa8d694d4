#pragma once
// The clock the adapters hand to the core (which has none of its own): monotonic nanoseconds,
// immune to wall-clock steps, the unit of every GCRA timestamp and deadline in the process.
#include <chrono>
#include <cstdint>

namespace edgeguard {

inline std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace edgeguard
