// A flood of 10 M distinct client addresses through the local store, the way the server feeds it
// (build_limit_calls + try_admit): memory stays within what max_buckets implies and a legitimate
// client interleaved with the flood is admitted exactly as it would be without the flood.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "guard/config/policy_loader.h"
#include "guard/core/limit_key.h"
#include "guard/store/local_store.h"

namespace edgeguard {
namespace {

// Sanitizer builds keep freed memory in quarantine and add shadow memory, so RSS says nothing
// about the store there; they run a tenth of the flood and skip the RSS bound.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kMeasureRss = false;
constexpr std::size_t kFloodKeys = 1'000'000;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kMeasureRss = false;
constexpr std::size_t kFloodKeys = 1'000'000;
#else
constexpr bool kMeasureRss = true;
constexpr std::size_t kFloodKeys = 10'000'000;
#endif
#else
constexpr bool kMeasureRss = true;
constexpr std::size_t kFloodKeys = 10'000'000;
#endif
constexpr std::size_t kMaxBuckets = 1'000'000;
constexpr std::size_t kLegitEvery = 10'000;  // one legitimate request per this many flood keys
// The clock advances 50 ns per flood key: a flood bucket stays live for T = 100 ms, i.e. for the
// next 2 M keys, twice max_buckets, so the store must evict live buckets the whole time.
constexpr std::int64_t kStepNs = 50;

// per-ip: 10/s with a burst of 1000, so the legitimate client (one request every 0.5 ms of the
// injected clock, 1000 in all) stays inside its allowance: every one of its requests must pass.
constexpr const char* kPolicy = R"(
routes:
  - name: login
    hosts: [auth.example.com]
    limits: [{name: per-ip, average: 10, period: 1s, burst: 1000, key: client_ip}]
)";

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

struct Caller {
  const Route& route;
  ForwardRequest request;
  Facts facts;
  LimitCalls calls;

  explicit Caller(const Route& r) : route(r) {
    request.method = "POST";
    request.host = "auth.example.com";
    request.path = "/";
  }
  bool admit(LimitStore& store, const IpAddress& ip, std::int64_t now) {
    request.client_ip = ip;
    facts.client_ip = ip;
    build_limit_calls(route, request, facts, 64, calls);
    const auto outcome = store.try_admit(calls.view(), now, false);
    EXPECT_TRUE(outcome.has_value());
    return outcome && outcome->allowed;
  }
};

IpAddress flood_address(std::size_t i) {
  // 11.0.0.0 upwards: 10 M distinct IPv4 addresses, none equal to the legitimate one.
  return IpAddress::from_v4(static_cast<std::uint32_t>(0x0B000000u + i));
}

TEST(MemoryBound, TenMillionAddressesStayWithinMaxBucketsAndALegitimateClientIsServed) {
  const auto load = parse_policy(kPolicy, "policy.yaml");
  ASSERT_TRUE(load.policy) << load.error;
  const Route& route = load.policy->routes.front();
  const IpAddress legit = *IpAddress::parse("203.0.113.10");

  // Baseline: what the legitimate client gets with nobody else around.
  std::size_t baseline_admitted = 0;
  {
    LocalLimitStore quiet(kMaxBuckets);
    Caller c(route);
    for (std::size_t i = 0; i < kFloodKeys; i += kLegitEvery) {
      if (c.admit(quiet, legit, 1'000'000'000 + static_cast<std::int64_t>(i) * kStepNs)) {
        ++baseline_admitted;
      }
    }
  }
  ASSERT_EQ(baseline_admitted, kFloodKeys / kLegitEvery);

  const std::size_t rss_before = rss_bytes();
  auto store = std::make_unique<LocalLimitStore>(kMaxBuckets);
  Caller flood(route), client(route);
  std::size_t legit_admitted = 0, flood_admitted = 0, max_buckets_seen = 0;
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < kFloodKeys; ++i) {
    const std::int64_t now = 1'000'000'000 + static_cast<std::int64_t>(i) * kStepNs;
    if (i % kLegitEvery == 0 && client.admit(*store, legit, now)) ++legit_admitted;
    if (flood.admit(*store, flood_address(i), now)) ++flood_admitted;
    if (i % 1'000'000 == 0) {
      max_buckets_seen = std::max(max_buckets_seen, store->live_buckets(now));
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::size_t rss_after = rss_bytes();
  const std::size_t growth = rss_after > rss_before ? rss_after - rss_before : 0;
  const std::size_t buckets =
      store->live_buckets(1'000'000'000 + static_cast<std::int64_t>(kFloodKeys) * kStepNs);
  std::printf(
      "flood: %zu keys in %.1f s; buckets %zu (max seen %zu), capacity_slots %zu; RSS growth %zu "
      "bytes = %.1f bytes per max_bucket, %.1f per held bucket\n",
      kFloodKeys, seconds, buckets, max_buckets_seen, store->capacity_slots(), growth,
      static_cast<double>(growth) / kMaxBuckets,
      buckets ? static_cast<double>(growth) / static_cast<double>(buckets) : 0.0);

  // Every legitimate request is admitted, as without the flood.
  EXPECT_EQ(legit_admitted, baseline_admitted);
  // Each flood address is new, so its first request passes (one from a full bucket).
  EXPECT_EQ(flood_admitted, kFloodKeys);
  // Memory: what max_buckets implies (SPEC: <= 64 bytes per bucket) plus allocator slack.
  constexpr std::size_t kSlack = 8u << 20;
  if (kMeasureRss) {
    EXPECT_LE(growth, 64 * kMaxBuckets + kSlack);
  }
  EXPECT_LE(store->capacity_slots() * 16, 64 * kMaxBuckets);  // 16-byte slots
  EXPECT_LE(buckets, store->capacity_slots());
  // Live buckets may exceed max_buckets under a flood (a shard full of live buckets evicts
  // only within its probe window); what bounds them is the slot capacity.
  EXPECT_LE(max_buckets_seen, store->capacity_slots());
}

}  // namespace
}  // namespace edgeguard
