// Issue 18: `average`/`period`/`burst` mean what they mean in Traefik. Every case of Traefik's
// TestInMemoryRateLimit and TestRedisRateLimit (traefik_cases.h) is replayed through the
// edgeguard binary, paced as Traefik's test paces it, with the local store, one Redis and a
// 3-master Redis Cluster; the admitted count must fall within Traefik's own bounds on the time
// the load actually took (paced_load.h says how that stays exact on a loaded machine).
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/conformance/paced_load.h"
#include "tests/conformance/traefik_cases.h"
#include "tests/support/harness.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

enum class Store { local, redis, cluster };

const char* name_of(Store s) {
  switch (s) {
    case Store::local:
      return "local";
    case Store::redis:
      return "redis";
    case Store::cluster:
      return "redis cluster";
  }
  return "?";
}

// The store section of a policy, with the Redis servers it names alive as long as this is.
class StoreUnderTest {
 public:
  explicit StoreUnderTest(Store store) : store_(store) {
    if (store == Store::redis) {
      redis_ = std::make_unique<RedisServer>(tmp_.path());
      ok_ = redis_->running();
      // A generous timeout: this is about accuracy, not faults (expect_no_fallback checks).
      yaml_ = "store: {type: redis, redis: {address: " + redis_->address() + ", timeout: 3s}}\n";
    } else if (store == Store::cluster) {
      cluster_ = std::make_unique<RedisCluster>(tmp_.path());
      ok_ = cluster_->ok();
      std::string nodes;
      for (const auto& a : cluster_->addresses()) nodes += (nodes.empty() ? "" : ", ") + a;
      yaml_ = "store: {type: redis, redis: {nodes: [" + nodes + "], timeout: 3s}}\n";
    }
  }
  bool ok() const { return ok_; }
  Store store() const { return store_; }
  const std::string& yaml() const { return yaml_; }

 private:
  Store store_;
  TempDir tmp_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<RedisCluster> cluster_;
  bool ok_ = true;
  std::string yaml_;
};

std::string number(double v) {
  char s[32];
  std::snprintf(s, sizeof s, "%g", v);
  return s;
}

// One route per case, limited per client address: Traefik's default source criterion is the
// peer's address, which reaches edgeguard as the rightmost X-Forwarded-For entry.
std::string policy(std::span<const TraefikRateCase> cases, const std::string& store) {
  std::string y =
      "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: 2\ncallers: [127.0.0.0/8]\n" +
      store + "routes:\n";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const TraefikRateCase& c = cases[i];
    const std::string n = std::to_string(i);
    y += "  - name: case" + n + "\n    hosts: [case" + n + ".traefik.test]\n" +
         "    limits: [{name: l, average: " + number(c.average) + ", period: " + c.period +
         ", burst: " + std::to_string(traefik_burst(c)) + "}]\n";
  }
  return y;
}

std::string request_for(std::size_t i) {
  Call call;
  call.host = "case" + std::to_string(i) + ".traefik.test";
  call.xff = "203.0.113.7, 198.51.100." + std::to_string(i + 1);
  return render(call);
}

void expect_within_traefiks_bounds(Store store, const TraefikRateCase& c, const PacedRun& run) {
  const PacedJudgement j = judge_paced_load(c, run);
  const std::string what = std::string("[") + name_of(store) + "] " + j.describe(c, run);
  std::printf("%s\n", what.c_str());
  EXPECT_EQ(run.odd, "") << what;
  EXPECT_GE(run.admitted, j.min) << what;
  EXPECT_LE(run.admitted, j.max) << what;
}

void expect_no_fallback(StoreUnderTest& env, Server& server) {
  // Had edgeguard answered by on_error instead of Redis, the counts would prove nothing.
  if (env.store() != Store::local) {
    EXPECT_EQ(server.metric("edgeguard_store_errors_total"), 0.0);
  }
}

// The 2 s cases one after the other, each on a bucket of its own.
void replay_short_cases(Store store) {
  StoreUnderTest env(store);
  ASSERT_TRUE(env.ok());
  ScratchDir dir;
  Server server(dir, policy(kShortCases, env.yaml()));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  for (std::size_t i = 0; i < std::size(kShortCases); ++i) {
    expect_within_traefiks_bounds(store, kShortCases[i],
                                  run_paced_load(server.port(), kShortCases[i], request_for(i)));
  }
  expect_no_fallback(env, server);
}

TEST(TraefikRateLimit, EveryShortCaseWithTheLocalStore) {
  replay_short_cases(Store::local);
}

TEST(TraefikRateLimit, EveryShortCaseWithRedis) {
  replay_short_cases(Store::redis);
}

TEST(TraefikRateLimit, EveryShortCaseWithARedisCluster) {
  replay_short_cases(Store::cluster);
}

// The minute-long cases, all stores at once: at under 1 request per second admitted, the pace
// of 100/s only decides which request takes a token, never whether one is taken.
TEST(TraefikRateLimit, TheMinuteLongCasesInEveryStore) {
  const Store stores[] = {Store::local, Store::redis, Store::cluster};
  std::vector<std::unique_ptr<StoreUnderTest>> envs;
  std::vector<std::unique_ptr<ScratchDir>> dirs;
  std::vector<std::unique_ptr<Server>> servers;
  for (Store s : stores) {
    envs.push_back(std::make_unique<StoreUnderTest>(s));
    ASSERT_TRUE(envs.back()->ok()) << name_of(s);
    dirs.push_back(std::make_unique<ScratchDir>());
    servers.push_back(
        std::make_unique<Server>(*dirs.back(), policy(kLongCases, envs.back()->yaml())));
    ASSERT_TRUE(servers.back()->started()) << servers.back()->stderr_text();
  }
  constexpr std::size_t kCases = std::size(kLongCases);
  std::vector<PacedRun> runs(std::size(stores) * kCases);
  std::vector<std::thread> senders;
  for (std::size_t s = 0; s < std::size(stores); ++s) {
    for (std::size_t i = 0; i < kCases; ++i) {
      senders.emplace_back([&, s, i] {
        runs[s * kCases + i] = run_paced_load(servers[s]->port(), kLongCases[i], request_for(i));
      });
    }
  }
  for (auto& t : senders) t.join();
  for (std::size_t s = 0; s < std::size(stores); ++s) {
    for (std::size_t i = 0; i < kCases; ++i) {
      expect_within_traefiks_bounds(stores[s], kLongCases[i], runs[s * kCases + i]);
    }
    expect_no_fallback(*envs[s], *servers[s]);
  }
}

}  // namespace
}  // namespace edgeguard::testing
