#include "tests/support/redis_fixture.h"

#include "tests/support/ports.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

namespace edgeguard::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "edgeguard-redis-XXXXXX").string();
  if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

namespace {

pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (out >= 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

}  // namespace

int run_program(const std::vector<std::string>& argv, const fs::path& log,
                std::chrono::seconds timeout) {
  const pid_t pid = spawn(argv, log);
  if (pid < 0) return -1;
  int status = 0;
  const bool done = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

RedisServer::RedisServer(const fs::path& dir, std::vector<std::string> extra, bool cluster)
    : dir_(dir), extra_(std::move(extra)), cluster_(cluster) {
  // redis-server cannot listen on port 0 and report it: the port (and a Cluster node's bus
  // port, instead of port + 10000, which lies in the ephemeral range) is reserved for this
  // process (tests/support/ports.h).
  port_ = reserve_port();
  if (cluster_) bus_port_ = reserve_port();
  for (int i = 0; i + 1 < static_cast<int>(extra_.size()); ++i) {
    if (extra_[static_cast<std::size_t>(i)] == "--requirepass") {
      password = extra_[static_cast<std::size_t>(i) + 1];
    }
  }
  start();
}

RedisServer::~RedisServer() {
  kill();
}

bool RedisServer::start() {
  if (pid_ > 0) return true;
  if (port_ == 0 || (cluster_ && bus_port_ == 0)) return false;
  std::vector<std::string> argv = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--daemonize",
                                   "no",
                                   "--dir",
                                   dir_.string(),
                                   "--protected-mode",
                                   "no"};
  if (cluster_) {
    argv.insert(argv.end(), {"--cluster-enabled", "yes", "--cluster-config-file",
                             "nodes-" + std::to_string(port_) + ".conf", "--cluster-port",
                             std::to_string(bus_port_)});
  }
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  pid_ = spawn(argv, dir_ / ("redis-" + std::to_string(port_) + ".log"));
  if (pid_ < 0) return false;
  const bool up = wait_until([this] {
    Reply r = command({"PING"});
    return r != nullptr && r->type == REDIS_REPLY_STATUS;
  });
  if (!up) kill();
  return up;
}

void RedisServer::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

Reply RedisServer::command(const std::vector<std::string>& argv) const {
  const timeval tv{1, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (c == nullptr) return nullptr;
  if (c->err != 0) {
    redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, tv);
  if (!password.empty()) {
    auto* auth = static_cast<redisReply*>(
        username.empty() ? redisCommand(c, "AUTH %s", password.c_str())
                         : redisCommand(c, "AUTH %s %s", username.c_str(), password.c_str()));
    if (auth != nullptr) freeReplyObject(auth);
  }
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
  for (const std::string& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  redisFree(c);
  return Reply(reply);
}

std::string RedisServer::info_field(const std::string& section, const std::string& field) const {
  Reply r = command({"INFO", section});
  if (r == nullptr || r->type != REDIS_REPLY_STRING) return "";
  std::istringstream in(std::string(r->str, r->len));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with(field + ":")) return line.substr(field.size() + 1);
  }
  return "";
}

namespace {

// CLUSTER SLOTS as {first slot -> master port}, or empty if the node does not answer one.
std::map<long long, long long> slot_owners(const RedisServer& node) {
  std::map<long long, long long> owners;
  Reply r = node.command({"CLUSTER", "SLOTS"});
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return owners;
  for (std::size_t i = 0; i < r->elements; ++i) {
    const redisReply* range = r->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) return {};
    owners[range->element[0]->integer] = range->element[2]->element[1]->integer;
  }
  return owners;
}

}  // namespace

RedisCluster::RedisCluster(const fs::path& dir, RedisClusterOptions options) : options_(options) {
  const std::vector<std::string> extra = {
      "--cluster-node-timeout", std::to_string(options.node_timeout_ms),
      "--cluster-require-full-coverage", options.require_full_coverage ? "yes" : "no"};
  const int total = options.masters * (1 + options.replicas);
  for (int i = 0; i < total; ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(dir, extra, true));
    if (!nodes_.back()->running()) return;
  }
  std::vector<std::string> argv = {"redis-cli", "--cluster", "create"};
  for (const auto& node : nodes_) argv.push_back(node->address());
  argv.insert(argv.end(),
              {"--cluster-replicas", std::to_string(options.replicas), "--cluster-yes"});
  if (run_program(argv, dir / "cluster-create.log", std::chrono::seconds(60)) != 0) return;
  auto replicas_in_sync = [this] {
    for (auto& node : nodes_) {
      if (node->info_field("replication", "role") == "slave" &&
          node->info_field("replication", "master_link_status") != "up") {
        return false;
      }
    }
    return true;
  };
  ok_ = wait_healthy(std::chrono::seconds(30)) &&
        wait_until(replicas_in_sync, std::chrono::seconds(30));
}

bool RedisCluster::wait_healthy(std::chrono::milliseconds timeout) {
  return wait_until(
      [this] {
        std::map<long long, long long> agreed;
        bool first = true;
        for (auto& node : nodes_) {
          if (!node->running()) continue;
          Reply info = node->command({"CLUSTER", "INFO"});
          if (info == nullptr || info->type != REDIS_REPLY_STRING ||
              std::string(info->str, info->len).find("cluster_state:ok") == std::string::npos) {
            return false;
          }
          const auto owners = slot_owners(*node);
          if (owners.empty() || (!first && owners != agreed)) return false;
          agreed = owners;
          first = false;
        }
        // Every range is served by a running master, and there are as many as at the start.
        std::set<long long> masters;
        for (const auto& [slot, port] : agreed) {
          bool up = false;
          for (auto& node : nodes_) up = up || (node->running() && node->port() == port);
          if (!up) return false;
          masters.insert(port);
        }
        return !first && static_cast<int>(masters.size()) == options_.masters;
      },
      timeout);
}

RedisServer* RedisCluster::running_node() {
  for (auto& node : nodes_) {
    if (node->running()) return node.get();
  }
  return nullptr;
}

std::vector<std::string> RedisCluster::addresses() const {
  // redis-cli makes the first `masters` nodes of the list masters.
  std::vector<std::string> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->info_field("replication", "role") == "master" || !nodes_[i]->running()) {
      out.push_back(nodes_[i]->address());
    }
    if (static_cast<int>(out.size()) == options_.masters) break;
  }
  return out;
}

std::string RedisCluster::node_id(const RedisServer& server) const {
  Reply r = server.command({"CLUSTER", "MYID"});
  return r != nullptr && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
}

RedisServer& RedisCluster::owner_of_slot(int slot) {
  RedisServer* asked = running_node();
  if (asked != nullptr) {
    Reply r = asked->command({"CLUSTER", "SLOTS"});
    if (r != nullptr && r->type == REDIS_REPLY_ARRAY) {
      for (std::size_t i = 0; i < r->elements; ++i) {
        const redisReply* range = r->element[i];
        if (range->element[0]->integer <= slot && slot <= range->element[1]->integer) {
          const long long port = range->element[2]->element[1]->integer;
          for (auto& node : nodes_) {
            if (node->port() == port) return *node;
          }
        }
      }
    }
  }
  return *nodes_.front();
}

int RedisCluster::key_slot(const std::string& key) {
  RedisServer* asked = running_node();
  if (asked == nullptr) return -1;
  Reply r = asked->command({"CLUSTER", "KEYSLOT", key});
  return r != nullptr && r->type == REDIS_REPLY_INTEGER ? static_cast<int>(r->integer) : -1;
}

RedisServer* RedisCluster::replica_of(const RedisServer& master) {
  for (auto& node : nodes_) {
    if (node.get() == &master || !node->running()) continue;
    if (node->info_field("replication", "role") == "slave" &&
        node->info_field("replication", "master_port") == std::to_string(master.port())) {
      return node.get();
    }
  }
  return nullptr;
}

}  // namespace edgeguard::testing
