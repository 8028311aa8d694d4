// Issue 3 through the real binary: two edgeguard processes sharing one redis-server admit what
// one admits; Redis stopped (SIGSTOP) or killed under load never stalls an answer, the on_error
// policy applies and edgeguard recovers by itself; a 3-master Redis Cluster keeps limits exact.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"
#include "tests/e2e/redis_e2e_support.h"
#include "tests/support/harness.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

constexpr int kBurst = 10;

// One login route limited per client address: `burst` at once, then one an hour, so nothing
// refills while a test runs.
std::string redis_policy(const std::string& redis_map, int burst = kBurst,
                         const std::string& more_limits = "") {
  return "listen: 127.0.0.1:0\n"
         "admin_listen: 127.0.0.1:0\n"
         "threads: 2\n"
         "store:\n"
         "  type: redis\n"
         "  redis: " +
         redis_map +
         "\n"
         "routes:\n"
         "  - name: login\n"
         "    hosts: [auth.test]\n"
         "    methods: [POST]\n"
         "    limits:\n"
         "      - {name: per-ip, average: 1, period: 1h, burst: " +
         std::to_string(burst) + ", key: client_ip}\n" + more_limits;
}

Call login(const std::string& ip) {
  return call_from("auth.test", ip, "POST", "/api/v3/flows/executor/default-authentication-flow/");
}

// Keys Redis holds for one client address (the address is part of the key).
std::size_t redis_keys_for(const RedisServer& redis, const std::string& ip) {
  Reply r = redis.command({"KEYS", "*" + ip + "*"});
  return r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
}

TEST(RedisE2e, TwoReplicasSharingOneRedisAdmitWhatOneAdmits) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  // A generous timeout: this test is about accuracy, not faults (checked below: no store error).
  const std::string policy = redis_policy("{address: " + redis.address() + ", timeout: 1s}");
  ScratchDir dir_a, dir_b;
  Server a(dir_a, policy), b(dir_b, policy);
  ASSERT_TRUE(a.started()) << a.stderr_text();
  ASSERT_TRUE(b.started()) << b.stderr_text();
  const int ports[2] = {a.port(), b.port()};
  constexpr int kCalls = 3 * kBurst;

  Tally single;
  for (int i = 0; i < kCalls; ++i) single.add(call_once(ports[0], login("198.51.100.1")));
  EXPECT_EQ(single.other.load(), 0) << single.odd_text();
  EXPECT_EQ(single.admitted.load(), kBurst);
  const int one_process = single.admitted.load();

  Tally alternating;
  for (int i = 0; i < kCalls; ++i) alternating.add(call_once(ports[i % 2], login("198.51.100.2")));
  EXPECT_EQ(alternating.other.load(), 0) << alternating.odd_text();
  EXPECT_NEAR(alternating.admitted.load(), one_process, 1);
  EXPECT_EQ(alternating.admitted.load() + alternating.limited.load(), kCalls);

  // Two threads at once, each alternating between the replicas, one key.
  Tally concurrent;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        concurrent.add(call_once(ports[(i + t) % 2], login("198.51.100.3")));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(concurrent.other.load(), 0) << concurrent.odd_text();
  EXPECT_NEAR(concurrent.admitted.load(), one_process, 1);
  EXPECT_EQ(concurrent.admitted.load() + concurrent.limited.load(), 2 * kCalls);

  // Had either replica fallen back to its local store, the counts above would prove nothing.
  EXPECT_EQ(a.metric("edgeguard_store_errors_total"), 0.0);
  EXPECT_EQ(b.metric("edgeguard_store_errors_total"), 0.0);
  EXPECT_GE(redis_keys_for(redis, "198.51.100.3"), 1u);
}

// Issue 17: three edgeguard replicas on one Redis, a flood on one key spread over all three by
// several clients at once. Every admission is decided by the one atomic script, so the three
// admit what the policy allows (the SPEC tolerates one per replica; none is measured).
TEST(RedisE2e, ThreeReplicasUnderADistributedFloodAdmitThePolicy) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  constexpr int kPolicyBurst = 100;
  const std::string policy =
      redis_policy("{address: " + redis.address() + ", timeout: 1s}", kPolicyBurst);
  ScratchDir dirs[3];
  std::vector<std::unique_ptr<Server>> replicas;
  for (auto& dir : dirs) {
    replicas.push_back(std::make_unique<Server>(dir, policy));
    ASSERT_TRUE(replicas.back()->started()) << replicas.back()->stderr_text();
  }
  constexpr int kClients = 6, kPerClient = 150;
  Tally flood;
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kPerClient; ++i) {
        flood.add(call_once(replicas[static_cast<std::size_t>((i + t) % 3)]->port(),
                            login("198.51.100.77")));
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(flood.other.load(), 0) << flood.odd_text();
  EXPECT_EQ(flood.admitted.load() + flood.limited.load(), kClients * kPerClient);
  EXPECT_NEAR(flood.admitted.load(), kPolicyBurst, 3);
  std::printf("distributed flood: %d admitted of %d, policy %d\n", flood.admitted.load(),
              kClients * kPerClient, kPolicyBurst);
  // None decided alone: a fallback answer would make the count above prove nothing.
  for (auto& replica : replicas) EXPECT_EQ(replica->metric("edgeguard_store_errors_total"), 0.0);
}

// Load while Redis is unavailable: `ips` addresses × `per_ip` calls from two threads, fresh
// connections. Records each answer and the slowest answer time.
struct FaultLoad {
  Tally tally;
  std::chrono::milliseconds slowest{0};
  std::vector<std::string> retry_after;
};

void load_while_down(FaultLoad& load, int port, const std::string& prefix, int ips, int per_ip) {
  std::mutex mu;
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int n; (n = next.fetch_add(1)) < ips * per_ip;) {
        const std::string ip = prefix + std::to_string(n % ips);
        const auto start = Clock::now();
        const HttpResponse r = call_once(port, login(ip));
        const auto took =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        load.tally.add(r);
        std::lock_guard<std::mutex> lock(mu);
        load.slowest = std::max(load.slowest, took);
        if (r.status == 429) load.retry_after.push_back(r.header("Retry-After").value_or(""));
      }
    });
  }
  for (auto& th : threads) th.join();
}

// Calls from another thread for the whole fault window (stop, continue, kill, restart), so the
// transitions themselves happen under load; fresh addresses, so every answer is 200 or 429.
class BackgroundLoad {
 public:
  explicit BackgroundLoad(int port)
      : thread_([this, port] {
          for (int n = 0; !stop_.load(); ++n) {
            const auto start = Clock::now();
            const HttpResponse r = call_once(port, login("198.18.0." + std::to_string(n % 250)));
            const auto took =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
            tally.add(r);
            slowest_ms.store(std::max<long>(slowest_ms.load(), took.count()));
          }
        }) {}
  ~BackgroundLoad() { finish(); }
  void finish() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  Tally tally;
  std::atomic<long> slowest_ms{0};

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A redis timeout of 100 ms; the margin covers a shared, loaded 2-core test machine (the
// product's promise is "no stall", Traefik would give up after 30 s).
constexpr auto kTimeout = 100ms;
constexpr auto kMargin = 1000ms;

// After Redis is back: the breaker closes and decisions write Redis keys again.
void expect_recovery(Server& server, const RedisServer& redis) {
  int probe = 0;
  EXPECT_TRUE(eventually(
      [&] {
        const std::string ip = "203.0.113." + std::to_string(probe++ % 250);
        call_once(server.port(), login(ip));
        return server.metric("edgeguard_store_fallback_active") == 0.0 &&
               redis_keys_for(redis, ip) > 0;
      },
      20s))
      << server.stdout_text();
  // Limits are Redis's again: exact for a fresh address. A reconnected Redis can still miss
  // the 100 ms timeout now and then on a loaded machine (that request is then, correctly,
  // answered by the local fallback), so the exactness claim is checked on a burst during which
  // no store error occurred; a burst with one is retried with another fresh address.
  bool checked = false;
  for (int attempt = 0; attempt < 5 && !checked; ++attempt) {
    const std::string ip = "192.0.2." + std::to_string(70 + attempt);
    const double errors_before = server.metric("edgeguard_store_errors_total").value_or(0);
    Tally fresh;
    for (int i = 0; i < kBurst + 3; ++i) fresh.add(call_once(server.port(), login(ip)));
    if (server.metric("edgeguard_store_errors_total").value_or(0) != errors_before) continue;
    checked = true;
    EXPECT_EQ(fresh.admitted.load(), kBurst) << server.stdout_text();
    EXPECT_EQ(fresh.limited.load(), 3);
    EXPECT_GE(redis_keys_for(redis, ip), 1u);
  }
  EXPECT_TRUE(checked) << "every burst after recovery met a store error";
}

class RedisFault : public ::testing::TestWithParam<std::string> {};

TEST_P(RedisFault, StoppedRedisNeverStallsAnswersAndRecoversOnContinue) {
  const std::string on_error = GetParam();
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  ScratchDir dir;
  Server server(dir, redis_policy("{address: " + redis.address() +
                                  ", timeout: 100ms, on_error: " + on_error + "}"));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  ASSERT_EQ(call_once(server.port(), login("198.51.100.9")).status, 200);
  ASSERT_EQ(redis_keys_for(redis, "198.51.100.9"), 1u);
  ASSERT_EQ(server.metric("edgeguard_store_fallback_active"), 0.0);

  BackgroundLoad background(server.port());
  ASSERT_TRUE(eventually([&] { return background.tally.admitted.load() > 5; }));
  redis.signal(SIGSTOP);
  constexpr int kIps = 8, kPerIp = kBurst + 3;
  FaultLoad load;
  load_while_down(load, server.port(), "198.51.100.1", kIps, kPerIp);
  EXPECT_EQ(load.tally.other.load(), 0) << load.tally.odd_text();
  EXPECT_LE(load.slowest, kTimeout + kMargin);
  if (on_error == "local") {
    // The in-process store enforces the same limits meanwhile.
    EXPECT_EQ(load.tally.admitted.load(), kIps * kBurst);
    EXPECT_EQ(load.tally.limited.load(), kIps * 3);
  } else {
    EXPECT_EQ(load.tally.admitted.load(), 0);
    EXPECT_EQ(load.tally.limited.load(), kIps * kPerIp);
    for (const auto& ra : load.retry_after) EXPECT_EQ(ra, "1");
  }
  EXPECT_TRUE(eventually([&] { return server.metric("edgeguard_store_fallback_active") == 1.0; }));
  EXPECT_TRUE(
      eventually([&] { return server.metric("edgeguard_store_errors_total").value_or(0) > 0; }));
  EXPECT_TRUE(server.running());

  redis.signal(SIGCONT);
  expect_recovery(server, redis);
  background.finish();
  EXPECT_EQ(background.tally.other.load(), 0) << background.tally.odd_text();
  EXPECT_LE(background.slowest_ms.load(), (kTimeout + kMargin).count());
  EXPECT_TRUE(server.running());
}

TEST_P(RedisFault, KilledRedisRestartedOnTheSamePortIsUsedAgain) {
  const std::string on_error = GetParam();
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  ScratchDir dir;
  Server server(dir, redis_policy("{address: " + redis.address() +
                                  ", timeout: 100ms, on_error: " + on_error + "}"));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  ASSERT_EQ(call_once(server.port(), login("198.51.100.9")).status, 200);

  BackgroundLoad background(server.port());
  ASSERT_TRUE(eventually([&] { return background.tally.admitted.load() > 5; }));
  redis.kill();
  constexpr int kIps = 4, kPerIp = kBurst + 2;
  FaultLoad load;
  load_while_down(load, server.port(), "198.51.100.2", kIps, kPerIp);
  EXPECT_EQ(load.tally.other.load(), 0) << load.tally.odd_text();
  EXPECT_LE(load.slowest, kTimeout + kMargin);
  if (on_error == "local") {
    EXPECT_EQ(load.tally.admitted.load(), kIps * kBurst);
  } else {
    EXPECT_EQ(load.tally.admitted.load(), 0);
  }
  EXPECT_TRUE(eventually([&] { return server.metric("edgeguard_store_fallback_active") == 1.0; }));
  EXPECT_TRUE(
      eventually([&] { return server.metric("edgeguard_store_errors_total").value_or(0) > 0; }));

  // A fresh Redis: empty, without the script (NOSCRIPT must be handled).
  ASSERT_TRUE(redis.start());
  expect_recovery(server, redis);
  background.finish();
  EXPECT_EQ(background.tally.other.load(), 0) << background.tally.odd_text();
  EXPECT_LE(background.slowest_ms.load(), (kTimeout + kMargin).count());
  EXPECT_TRUE(server.running());
}

INSTANTIATE_TEST_SUITE_P(OnError, RedisFault, ::testing::Values("local", "deny"));

// Issue 17: edgeguard_local_buckets only ever grew across Redis outages (0 -> 4 077 in a soak).
// The fallback store's buckets are counted while they live: once they have refilled the gauge
// is back to 0, although nothing calls the fallback again after Redis returns.
TEST(RedisE2e, LocalBucketsGaugeFallsOnceTheOutagesBucketsRefill) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  ScratchDir dir;
  // One request per address every 5 s: a bucket the fallback fills lives 5 s.
  const std::string yaml =
      "listen: 127.0.0.1:0\n"
      "admin_listen: 127.0.0.1:0\n"
      "threads: 2\n"
      "store:\n"
      "  type: redis\n"
      "  redis: {address: " +
      redis.address() +
      ", timeout: 100ms, on_error: local}\n"
      "routes:\n"
      "  - name: login\n"
      "    hosts: [auth.test]\n"
      "    methods: [POST]\n"
      "    limits:\n"
      "      - {name: per-ip, average: 1, period: 5s, burst: 1, key: client_ip}\n";
  Server server(dir, yaml);
  ASSERT_TRUE(server.started()) << server.stderr_text();
  ASSERT_EQ(call_once(server.port(), login("198.51.100.1")).status, 200);
  EXPECT_EQ(server.metric("edgeguard_local_buckets"), 0.0) << "Redis holds the buckets";

  redis.kill();
  constexpr int kAddresses = 20;
  for (int i = 0; i < kAddresses; ++i) {
    EXPECT_EQ(call_once(server.port(), login("198.51.100." + std::to_string(10 + i))).status, 200);
  }
  EXPECT_EQ(server.metric("edgeguard_local_buckets"), kAddresses)
      << "the fallback's buckets; edgeguard running: " << server.running();

  ASSERT_TRUE(redis.start());
  int probe = 0;
  ASSERT_TRUE(eventually(
      [&] {
        call_once(server.port(), login("203.0.113." + std::to_string(probe++ % 250)));
        return server.metric("edgeguard_store_fallback_active") == 0.0;
      },
      20s));
  EXPECT_TRUE(eventually([&] { return server.metric("edgeguard_local_buckets") == 0.0; }, 15s))
      << "still " << server.metric("edgeguard_local_buckets").value_or(-1);
}

TEST(RedisE2e, ScriptFlushMidRunIsSurvivedWithoutAnError) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  ScratchDir dir;
  Server server(dir, redis_policy("{address: " + redis.address() + ", timeout: 1s}"));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  Tally tally;
  for (int i = 0; i < kBurst / 2; ++i) tally.add(call_once(server.port(), login("198.51.100.4")));
  Reply flushed = redis.command({"SCRIPT", "FLUSH"});
  ASSERT_TRUE(flushed && flushed->type == REDIS_REPLY_STATUS);
  for (int i = kBurst / 2; i < kBurst + 3; ++i) {
    tally.add(call_once(server.port(), login("198.51.100.4")));
  }
  EXPECT_EQ(tally.other.load(), 0) << tally.odd_text();
  EXPECT_EQ(tally.admitted.load(), kBurst);
  EXPECT_EQ(tally.limited.load(), 3);
  EXPECT_EQ(server.metric("edgeguard_store_errors_total"), 0.0);
}

TEST(RedisE2e, ClusterOfThreeMastersKeepsLimitsExact) {
  TempDir tmp;
  RedisCluster cluster(tmp.path());
  ASSERT_TRUE(cluster.ok());
  std::string nodes;
  for (const auto& a : cluster.addresses()) nodes += (nodes.empty() ? "" : ", ") + a;
  // Per client 5, and 32 for the whole route: the route limit runs out during the run, so both
  // the per-slot scripts and the refund of a group that admitted are exercised.
  ScratchDir dir;
  Server server(dir, redis_policy("{nodes: [" + nodes + "], timeout: 1s}", 5,
                                  "      - {name: all, average: 1, period: 1h, burst: 32, "
                                  "key: route}\n"));
  ASSERT_TRUE(server.started()) << server.stderr_text();

  std::vector<int> admitted;
  for (int k = 0; k < 8; ++k) {
    int ok = 0;
    for (int i = 0; i < 8; ++i) {
      const HttpResponse r = call_once(server.port(), login("198.51.100." + std::to_string(k)));
      EXPECT_TRUE(r.status == 200 || r.status == 429) << r.status << " " << r.body;
      ok += r.status == 200;
    }
    admitted.push_back(ok);
  }
  EXPECT_EQ(admitted, (std::vector<int>{5, 5, 5, 5, 5, 5, 2, 0}));
  EXPECT_EQ(server.metric("edgeguard_store_errors_total"), 0.0);

  // The per-client keys live on more than one master.
  int masters_with_keys = 0;
  for (auto& node : cluster.nodes()) {
    Reply r = node->command({"KEYS", "*198.51.100.*"});
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) ++masters_with_keys;
  }
  EXPECT_GE(masters_with_keys, 2);
}

}  // namespace
}  // namespace edgeguard::testing
