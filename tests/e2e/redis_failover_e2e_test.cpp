// Issue 17 through the real binary: edgeguard replicas on a Redis Cluster of 3 masters
// with a replica each, under continuous load, while a master is killed (SIGKILL) and its replica
// promoted, or a replica takes over with CLUSTER FAILOVER. Every answer is 200 or 429 and comes
// within the timeout (plus a margin for a loaded machine); edgeguard follows the new slot map
// without a restart; a fresh client 2 s after the promotion gets exactly the burst; the count
// each loaded key admitted over the whole run is what the policy allows, exactly for the keys
// of the live masters, and within the measured window for the keys of the killed one.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
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

constexpr int kReplicas = 3;            // edgeguard processes
constexpr int kLoginBurst = 5;          // login: 5 per second, burst 5: refills during the run
constexpr auto kLoginInterval = 200ms;  // its emission interval
constexpr int kSignupBurst = 6;         // signup: burst 6, one an hour: the fresh-client check
constexpr auto kTimeout = 100ms;
constexpr auto kMargin = 1000ms;  // a shared, loaded 2-core machine (as in redis_e2e_test)

std::string policy(const std::vector<std::string>& masters, const std::string& on_error) {
  std::string nodes;
  for (const auto& m : masters) nodes += (nodes.empty() ? "" : ", ") + m;
  return "listen: 127.0.0.1:0\n"
         "admin_listen: 127.0.0.1:0\n"
         "threads: 2\n"
         "store:\n"
         "  type: redis\n"
         "  redis: {nodes: [" +
         nodes + "], timeout: 100ms, on_error: " + on_error +
         "}\n"
         "routes:\n"
         "  - name: login\n"
         "    hosts: [auth.test]\n"
         "    methods: [POST]\n"
         "    limits:\n"
         "      - {name: per-ip, average: 5, period: 1s, burst: 5, key: client_ip}\n"
         "  - name: signup\n"
         "    hosts: [signup.test]\n"
         "    methods: [POST]\n"
         "    limits:\n"
         "      - {name: per-ip, average: 1, period: 1h, burst: 6, key: client_ip}\n";
}

Call login(const std::string& ip) {
  return call_from("auth.test", ip, "POST", "/login");
}
Call signup(const std::string& ip) {
  return call_from("signup.test", ip, "POST", "/signup");
}

// The Redis key of a route's per-ip bucket (core/limit_key.h: route, limit, value, joined by
// 0x1f; redis/gcra_call.h: the prefix and the hash-tag braces).
std::string redis_key(const std::string& route, const std::string& ip) {
  return "edgeguard:{" + route + "\x1f" + "per-ip\x1f" + ip + "}";
}

std::int64_t ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

// Client threads calling the replicas in turn, each call on a fresh connection, for a set of
// hot addresses on the login route, until stopped.
class ContinuousLoad {
 public:
  ContinuousLoad(std::vector<int> ports, std::vector<std::string> ips, int threads)
      : ports_(std::move(ports)), ips_(std::move(ips)), admitted_(ips_.size()) {
    start_ = Clock::now();
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t] {
        // Every address goes to every replica in turn.
        for (std::size_t n = static_cast<std::size_t>(t) * 7919; !stop_.load(); ++n) {
          const std::size_t which = n % ips_.size();
          const int port = ports_[(n / ips_.size()) % ports_.size()];
          const auto sent = Clock::now();
          const HttpResponse r = call_once(port, login(ips_[which]));
          const long took = static_cast<long>(ms_between(sent, Clock::now()));
          tally.add(r);
          if (r.status == 200) ++admitted_[which];
          long seen = slowest_ms.load();
          while (took > seen && !slowest_ms.compare_exchange_weak(seen, took)) {
          }
        }
      });
    }
  }
  ~ContinuousLoad() { stop(); }
  void stop() {
    if (stop_.exchange(true)) return;
    for (auto& t : threads_) t.join();
    end_ = Clock::now();
  }
  int admitted(std::size_t i) const { return admitted_[i].load(); }
  // What the login limit allows one address over the run: the burst, then one per interval.
  int allowed() const { return kLoginBurst + static_cast<int>((end_ - start_) / kLoginInterval); }
  std::int64_t run_ms() const { return ms_between(start_, end_); }

  Tally tally;
  std::atomic<long> slowest_ms{0};

 private:
  std::vector<int> ports_;
  std::vector<std::string> ips_;
  std::vector<std::atomic<int>> admitted_;
  std::atomic<bool> stop_{false};
  Clock::time_point start_, end_;
  std::vector<std::thread> threads_;
};

enum class Fault { kill_master, cluster_failover };
struct Case {
  Fault fault;
  std::string on_error;
  std::string name;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class RedisFailoverE2e : public ::testing::TestWithParam<Case> {};

TEST_P(RedisFailoverE2e, LoadedReplicasFollowTheNewMasterAndStayWithinTheWindow) {
  const Fault fault = GetParam().fault;
  const bool local = GetParam().on_error == "local";
  TempDir tmp;
  RedisClusterOptions options;
  options.replicas = 1;
  options.node_timeout_ms = 1000;
  options.require_full_coverage = false;  // the live masters keep serving (see README)
  RedisCluster cluster(tmp.path(), options);
  ASSERT_TRUE(cluster.ok()) << "cluster did not form; see " << tmp.path();

  // Two loaded addresses per master; the victim is the master of the first.
  std::vector<RedisServer*> masters;
  for (const auto& address : cluster.addresses()) {
    for (auto& node : cluster.nodes()) {
      if (node->address() == address) masters.push_back(node.get());
    }
  }
  ASSERT_EQ(masters.size(), 3u);
  RedisServer& victim = *masters[0];
  RedisServer* replica = cluster.replica_of(victim);
  ASSERT_NE(replica, nullptr);
  auto on = [&](const std::string& route, const std::string& prefix, RedisServer& master,
                int count) {
    std::vector<std::string> ips;
    for (int i = 1; i < 250 && static_cast<int>(ips.size()) < count; ++i) {
      const std::string ip = prefix + std::to_string(i);
      if (&cluster.owner_of_slot(cluster.key_slot(redis_key(route, ip))) == &master) {
        ips.push_back(ip);
      }
    }
    EXPECT_EQ(static_cast<int>(ips.size()), count);
    return ips;
  };
  std::vector<std::string> hot;
  std::vector<bool> on_victim;
  for (RedisServer* m : masters) {
    for (const auto& ip : on("login", "198.51.100.", *m, 2)) {
      hot.push_back(ip);
      on_victim.push_back(m == &victim);
    }
  }
  const std::vector<std::string> fresh = on("signup", "203.0.113.", victim, 2);

  const std::string yaml = policy(cluster.addresses(), GetParam().on_error);
  ScratchDir dirs[kReplicas];
  std::vector<std::unique_ptr<Server>> servers;
  std::vector<int> ports;
  for (auto& dir : dirs) {
    servers.push_back(std::make_unique<Server>(dir, yaml));
    ASSERT_TRUE(servers.back()->started()) << servers.back()->stderr_text();
    ports.push_back(servers.back()->port());
  }

  // One more replica that only ever sees a live master's slots: no failure of its own will
  // tell it about the failover (issue 17: such a replica kept answering from its local store).
  ScratchDir quiet_dir;
  Server quiet(quiet_dir, yaml);
  ASSERT_TRUE(quiet.started()) << quiet.stderr_text();
  int warm = 0;  // its first calls may miss the timeout on a slow build (then 429 with deny)
  EXPECT_TRUE(eventually([&] {
    return call_once(quiet.port(), signup("192.0.2." + std::to_string(++warm))).status == 200;
  }));

  ContinuousLoad load(ports, hot, 3);
  ASSERT_TRUE(eventually(
      [&] {
        for (std::size_t i = 0; i < hot.size(); ++i) {
          if (load.admitted(i) < kLoginBurst) return false;
        }
        return true;
      },
      10s))
      << "the load did not get going";

  const auto fault_at = Clock::now();
  if (fault == Fault::kill_master) {
    victim.kill();
  } else {
    Reply ok = replica->command({"CLUSTER", "FAILOVER"});
    ASSERT_TRUE(ok != nullptr && ok->type == REDIS_REPLY_STATUS);
  }
  ASSERT_TRUE(
      wait_until([&] { return replica->info_field("replication", "role") == "master"; }, 30s));
  ASSERT_TRUE(cluster.wait_healthy(30s)) << "the cluster did not settle on the new master";
  const auto promoted_at = Clock::now();

  // 2 s after the promotion, fresh clients, spread over every replica, the quiet one first, get
  // exactly the burst.
  std::this_thread::sleep_until(promoted_at + 2s);  // the scenario's measuring point
  std::vector<int> everyone = {quiet.port()};
  everyone.insert(everyone.end(), ports.begin(), ports.end());
  for (const std::string& ip : fresh) {
    Tally client;
    for (int i = 0; i < kSignupBurst + 3; ++i) {
      client.add(call_once(everyone[static_cast<std::size_t>(i) % everyone.size()], signup(ip)));
    }
    EXPECT_EQ(client.other.load(), 0) << client.odd_text();
    EXPECT_EQ(client.admitted.load(), kSignupBurst) << ip;
    EXPECT_EQ(client.limited.load(), 3) << ip;
    Reply stored = replica->command({"EXISTS", redis_key("signup", ip)});
    ASSERT_NE(stored, nullptr);
    EXPECT_EQ(stored->integer, 1) << "decided on the promoted replica";
  }
  std::this_thread::sleep_for(1s);  // the load runs on after the failover
  load.stop();

  EXPECT_EQ(load.tally.other.load(), 0) << load.tally.odd_text();
  EXPECT_LE(load.slowest_ms.load(), (kTimeout + kMargin).count());
  std::vector<Server*> all = {&quiet};
  for (auto& server : servers) all.push_back(server.get());
  for (Server* server : all) {
    EXPECT_TRUE(server->running());
    EXPECT_TRUE(eventually([&] {
      return server->metric("edgeguard_store_fallback_active") == 0.0;
    })) << "nothing is answered by on_error once the new master serves";
  }

  // The count each loaded address admitted over the whole run.
  const int allowed = load.allowed();
  const auto window_ms = ms_between(fault_at, promoted_at);
  int worst_excess = 0;
  for (std::size_t i = 0; i < hot.size(); ++i) {
    const int admitted = load.admitted(i);
    std::printf("%s %s: admitted %d, policy %d over %lld ms (excess %d)\n",
                on_victim[i] ? "killed-master key" : "live-master key", hot[i].c_str(), admitted,
                allowed, static_cast<long long>(load.run_ms()), admitted - allowed);
    if (fault == Fault::cluster_failover || !on_victim[i]) {
      // Decided by Redis throughout: what the policy allows, give or take the one interval
      // that the run's measured edges can split.
      EXPECT_NEAR(admitted, allowed, 1) << hot[i];
      continue;
    }
    const int refill = static_cast<int>(window_ms / kLoginInterval.count() + 1);
    if (!local) {
      // on_error: deny answered 429 meanwhile: never more than the policy (a write the dead
      // master acknowledged but had not replicated yet would be one more; none measured), and
      // the tokens that refilled during the window, beyond the burst Redis gives back, are lost.
      EXPECT_LE(admitted, allowed + 1) << hot[i];
      EXPECT_GE(admitted, allowed - refill - 1) << hot[i];
    } else {
      // Between the kill and the promotion each replica decides these keys from its own local
      // store: up to a burst plus what refills while the window lasts, and Redis's bucket
      // refills meanwhile too. That is the documented window.
      const int window = kReplicas * (kLoginBurst + refill) + kLoginBurst;
      EXPECT_LE(admitted, allowed + window) << hot[i] << " window " << window_ms << " ms";
      EXPECT_GE(admitted, allowed - 1) << hot[i];
    }
    worst_excess = std::max(worst_excess, admitted - allowed);
  }
  std::printf(
      "%s, on_error %s: promoted %lld ms after the fault; worst excess on the old "
      "master's keys %d\n",
      fault == Fault::kill_master ? "SIGKILL" : "CLUSTER FAILOVER", GetParam().on_error.c_str(),
      static_cast<long long>(window_ms), worst_excess);
  if (fault == Fault::cluster_failover) {
    // A graceful failover is followed without one failed decision: no error reply and no lost
    // connection. A timeout is not counted against it: on a starved machine a reply can miss
    // the 100 ms timeout whatever the topology does (seen at load average 16).
    for (auto& server : servers) {
      EXPECT_EQ(server->metric("edgeguard_redis_errors_total"), 0.0);
      std::printf("  replica timeouts: %.0f\n",
                  server->metric("edgeguard_redis_timeouts_total").value_or(-1));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Faults, RedisFailoverE2e,
    ::testing::Values(Case{Fault::kill_master, "local", "KillMaster"},
                      Case{Fault::kill_master, "deny", "KillMasterOnErrorDeny"},
                      Case{Fault::cluster_failover, "local", "ClusterFailover"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace edgeguard::testing
