#pragma once
// A real CrowdSec Local API for tests: Debian's `crowdsec -no-cs` (the API without the agent)
// with its own config and sqlite database in a temporary directory, on a reserved loopback
// port, killed (and its directory removed) when the object goes away. Children also die with
// the test process (PR_SET_PDEATHSIG). `cscli -c <its config>` administers it: bouncer keys,
// machines, decisions.
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgeguard::testing {

// A loopback TCP port nobody else in the machine's tests will use while this object lives.
//
// LAPI cannot bind port 0 and report the port it got, so the port must be chosen before it
// starts, and "find a free port, release it, let the child bind it" races with every other
// test on the machine. Two rules make the choice race-free instead:
//  - the port lies below the kernel's ephemeral range (ip_local_port_range), so no socket
//    bound to port 0 and no outgoing connection can ever be given it (every other test server
//    binds port 0);
//  - among the fixtures of all processes, an exclusive flock on
//    /tmp/edgeguard-test-ports/<port>.lock, held as long as this object lives (LAPI restarts
//    included), decides who owns it. The kernel drops the lock if the process dies.
// A port some unrelated service already listens on is skipped (a bind check while locked).
class ReservedPort {
 public:
  ReservedPort();
  ~ReservedPort();
  ReservedPort(const ReservedPort&) = delete;
  ReservedPort& operator=(const ReservedPort&) = delete;
  int port() const { return port_; }  // 0 when no port could be reserved

 private:
  int lock_fd_ = -1;
  int port_ = 0;
};

class CrowdsecLapi {
 public:
  CrowdsecLapi();  // a fresh temporary directory, the config, a machine for cscli; then start()
  ~CrowdsecLapi();
  CrowdsecLapi(const CrowdsecLapi&) = delete;
  CrowdsecLapi& operator=(const CrowdsecLapi&) = delete;

  bool running() const { return pid_ > 0; }
  const std::string& error() const { return error_; }  // why it is not running
  int port() const { return port_.port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  const std::filesystem::path& dir() const { return dir_; }

  // (Re)starts on the same port and database; waits until GET /health answers.
  bool start();
  void kill();           // SIGKILL and reap
  void signal(int sig);  // SIGSTOP / SIGCONT

  // `cscli -c <config> args...`: the exit status (-1 if it could not run or timed out); its
  // stdout in *out.
  int cscli(const std::vector<std::string>& args, std::string* out = nullptr) const;
  std::string add_bouncer(const std::string& name) const;  // the key; empty on failure
  bool add_machine(const std::string& name, const std::string& password) const;
  // `cscli decisions list -a -o json`: every decision, whatever its origin.
  std::string decisions_json() const;
  std::string log_tail() const;  // the end of LAPI's log, for failure messages

 private:
  std::filesystem::path dir_;
  ReservedPort port_;
  pid_t pid_ = -1;
  std::string error_;
};

// A TCP relay in front of LAPI that a test can cut, for "LAPI unreachable" while LAPI itself
// stays up: edgeguard talks to LAPI through the relay, cscli talks to LAPI directly, so a test
// can add and delete decisions during the outage and see edgeguard catch up afterwards. The
// relay binds port 0 itself (no port is guessed). Modes:
//  - relay (the start, and mend()): bytes both ways;
//  - cut(): every open connection is closed and new ones are accepted and closed at once
//    (edgeguard reads an end of stream: LAPI unreachable, as a dead LAPI or a broken network);
//  - lose_answers(): requests reach LAPI, but a connection is closed as soon as LAPI starts to
//    answer, so LAPI has served the pull (and moved the bouncer's "since last pull" mark) while
//    edgeguard never got the answer.
class LapiRelay {
 public:
  explicit LapiRelay(int lapi_port);
  ~LapiRelay();
  LapiRelay(const LapiRelay&) = delete;
  LapiRelay& operator=(const LapiRelay&) = delete;

  int port() const { return port_; }  // 0 when the relay could not listen
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void cut();
  void lose_answers();
  void mend();
  std::uint64_t accepted() const { return accepted_.load(); }  // connections, cut or relayed

 private:
  void accept_loop();
  void relay(int client_fd);

  const int lapi_port_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // closing the write end stops the accept loop
  int port_ = 0;
  enum class Mode { relay, cut, lose_answers };
  std::atomic<Mode> mode_{Mode::relay};
  std::atomic<std::uint64_t> accepted_{0};
  std::mutex mutex_;
  std::vector<int> open_fds_;         // both ends of every relayed connection (guarded by mutex_)
  std::vector<std::thread> threads_;  // one per relayed connection, joined at destruction
  std::thread acceptor_;
};

// Polls `done` every 5 ms until it is true or `timeout` passes. A plain function, not a
// template, so that a test that also includes tests/support/harness.h (whose eventually() is a
// template) compiles: overload resolution picks the harness's there.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
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

}  // namespace edgeguard::testing
