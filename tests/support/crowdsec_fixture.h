#pragma once
// A real CrowdSec Local API for tests: Debian's `crowdsec -no-cs` (the API without the agent)
// with its own config and sqlite database in a temporary directory, on a reserved loopback
// port, killed (and its directory removed) when the object goes away. Children also die with
// the test process (PR_SET_PDEATHSIG). `cscli -c <its config>` administers it: bouncer keys,
// machines, decisions.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
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

// Polls `done` every 5 ms until it is true or `timeout` passes.
template <typename F>
bool eventually(F done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
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
