#pragma once
// Traefik's own test cases for its RateLimit middleware and ipStrategy, as facts: inputs,
// expected answers and tolerances, each named by the Traefik test it comes from. Read from
// github.com/traefik/traefik (v3), pkg/middlewares/ratelimiter/rate_limiter_test.go,
// pkg/middlewares/ratelimiter/rate_limiter.go and pkg/ip/strategy_test.go; the code here is
// ours.
#include <algorithm>
#include <chrono>
#include <cstdint>

namespace edgeguard::testing {

// One case of TestInMemoryRateLimit / TestRedisRateLimit. Traefik's test sends requests from one
// source, `incoming_load` per second on a ticker for `load`, first sending back to back until
// `hammer` have been admitted (its `test.burst`), and counts what reaches the backend.
struct TraefikRateCase {
  const char* source;  // the Traefik test function(s) the case is in
  const char* desc;    // its `desc`
  double average;
  const char* period;  // Traefik's `Period`, as edgeguard's YAML writes it (Traefik: 0 = 1s)
  std::int64_t period_ns;
  int burst;  // Traefik's `Burst`; 0 (unset) means 1 there (edgeguard refuses 0: write 1)
  std::chrono::milliseconds load;
  int incoming_load;  // requests per second
  int hammer;         // Traefik's `test.burst`
};

inline constexpr std::int64_t kSecondNs = 1'000'000'000;
inline constexpr const char* kBothTables = "TestInMemoryRateLimit, TestRedisRateLimit";

using namespace std::chrono_literals;

// The cases of 2 s. "lower than 1/s" is 5 per 10 s in the in-memory table and 1 per 10 s in
// the Redis one (a gopher-lua parsing bug in Traefik's mock); both are here.
inline constexpr TraefikRateCase kShortCases[] = {
    {kBothTables, "Average is respected", 100, "1s", kSecondNs, 1, 2s, 400, 0},
    {kBothTables, "burst allowed, no bursty traffic", 100, "1s", kSecondNs, 100, 2s, 200, 0},
    {kBothTables, "burst allowed, initial burst, under capacity", 100, "1s", kSecondNs, 100, 2s,
     200, 50},
    {kBothTables, "burst allowed, initial burst, over capacity", 100, "1s", kSecondNs, 100, 2s, 200,
     150},
    {kBothTables, "burst over average, initial burst, over capacity", 100, "1s", kSecondNs, 200, 2s,
     200, 300},
    {"TestInMemoryRateLimit", "lower than 1/s", 5, "10s", 10 * kSecondNs, 0, 2s, 100, 0},
    {"TestRedisRateLimit", "lower than 1/s", 1, "10s", 10 * kSecondNs, 0, 2s, 100, 0},
    {kBothTables, "period below 1 second", 50, "500ms", kSecondNs / 2, 0, 2s, 300, 0},
};

// The cases of a minute (Traefik skips them in -short mode).
inline constexpr TraefikRateCase kLongCases[] = {
    {"TestInMemoryRateLimit", "lower than 1/s, longer", 5, "10s", 10 * kSecondNs, 0, 60s, 100, 0},
    {"TestRedisRateLimit", "lower than 1/s, longer", 1, "10s", 10 * kSecondNs, 0, 60s, 100, 0},
    {kBothTables, "lower than 1/s, longer, harsher", 1, "1m", 60 * kSecondNs, 0, 60s, 100, 0},
};

inline std::int64_t traefik_burst(const TraefikRateCase& c) {
  return std::max(1, c.burst);  // rate_limiter.go: `if burst < 1 { burst = 1 }`
}

// Traefik's maxDelay (rate_limiter.go; TestNewRateLimiter checks 2.5 ms for 200/s and 500 ms
// for 2 per 10 s): 1 s / (2 × the rate truncated to whole requests per second), 500 ms below
// 1/s.
inline std::int64_t traefik_max_delay_ns(const TraefikRateCase& c) {
  const double per_second = c.average * 1e9 / static_cast<double>(c.period_ns);
  if (per_second < 1) return 500'000'000;
  return kSecondNs / (2 * static_cast<std::int64_t>(per_second));
}

// Traefik's bounds on the admitted count after `elapsed_ns` of load: wantCount = rate × elapsed
// + burst (truncated as Go's int64() does), at most 102% of it and at least 95% (Traefik's
// computeMinCount outside CI; 60% in its CI).
inline std::int64_t traefik_want_count(const TraefikRateCase& c, double elapsed_ns) {
  const double rate_per_ns = c.average / static_cast<double>(c.period_ns);
  return static_cast<std::int64_t>(rate_per_ns * elapsed_ns) + traefik_burst(c);
}
inline std::int64_t traefik_max_count(std::int64_t want) {
  return want * 102 / 100;
}
inline std::int64_t traefik_min_count(std::int64_t want) {
  return want * 95 / 100;
}

}  // namespace edgeguard::testing
