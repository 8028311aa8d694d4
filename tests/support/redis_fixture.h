#pragma once
// Real redis-server processes for tests: each on a loopback port reserved for this test process
// (tests/support/ports.h), in its own temporary directory, killed (and its directory removed)
// when the object goes away, even when an assertion failed. Children also die with the test process
// (PR_SET_PDEATHSIG).
//
// A cluster node's bus port comes from the same reserved block (`--cluster-port`, Redis 7)
// rather than port + 10000, which would fall in the ephemeral range.
#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace edgeguard::testing {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class RedisServer {
 public:
  // `extra`: more redis-server arguments (e.g. {"--requirepass", "x"}). `cluster`: a Cluster
  // node (with a bus port); RedisCluster passes its settings in `extra`.
  RedisServer(const std::filesystem::path& dir, std::vector<std::string> extra = {},
              bool cluster = false);
  ~RedisServer();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  void signal(int sig);  // SIGSTOP / SIGCONT
  void kill();           // SIGKILL and reap
  bool start();          // (re)start on the same ports; waits until PING answers

  // A blocking admin command on a fresh connection (AUTH with `password` if set).
  Reply command(const std::vector<std::string>& argv) const;
  std::string info_field(const std::string& section, const std::string& field) const;
  std::string password;
  std::string username;

 private:
  std::filesystem::path dir_;
  std::vector<std::string> extra_;
  bool cluster_;
  int port_ = 0;
  int bus_port_ = 0;
  pid_t pid_ = -1;
};

// Polls `done` until it is true or `timeout` passes.
template <typename F>
bool wait_until(F done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    struct timespec ts {
      0, 5'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return done();
}

// Runs a program to completion (bounded); returns its exit status or -1.
int run_program(const std::vector<std::string>& argv, const std::filesystem::path& log,
                std::chrono::seconds timeout);

// A Redis Cluster made by `redis-cli --cluster create`: `masters` masters (slots spread evenly)
// and `replicas` replicas of each. Ready once every live node reports cluster_state:ok, sees
// every range, and every replica is in sync with its master.
struct RedisClusterOptions {
  int masters = 3;
  int replicas = 0;  // per master
  int node_timeout_ms = 5000;
  // `no`: the masters that are up keep serving their slots while another one is down.
  bool require_full_coverage = true;
};

class RedisCluster {
 public:
  explicit RedisCluster(const std::filesystem::path& dir, RedisClusterOptions options = {});
  bool ok() const { return ok_; }
  std::vector<std::unique_ptr<RedisServer>>& nodes() { return nodes_; }
  // Addresses of the masters the cluster was created with (the `nodes:` an operator lists).
  std::vector<std::string> addresses() const;
  // The master serving `slot`, as the first running node sees it.
  RedisServer& owner_of_slot(int slot);
  // CLUSTER KEYSLOT, asked of a running node.
  int key_slot(const std::string& key);
  // The node replicating `master` (nullptr if none).
  RedisServer* replica_of(const RedisServer& master);
  std::string node_id(const RedisServer& server) const;
  // Every running node serves every slot again, from `masters` live masters (after a failover).
  bool wait_healthy(std::chrono::milliseconds timeout);

 private:
  RedisServer* running_node();
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  RedisClusterOptions options_;
  bool ok_ = false;
};

}  // namespace edgeguard::testing
