// The Redis store at the edges of the service's life, through the real binary: /readyz while
// the fallback answers, SIGTERM while decisions wait on a Redis that does not answer, and a
// Cluster node that redirects for ever (the redirect cap ends it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"
#include "tests/support/harness.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

std::string policy(const std::string& redis_map, int threads = 1) {
  return "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: " + std::to_string(threads) +
         "\nstore:\n  type: redis\n  redis: " + redis_map +
         "\nroutes:\n"
         "  - name: login\n"
         "    hosts: [auth.test]\n"
         "    limits:\n"
         "      - {name: per-ip, average: 1, period: 1h, burst: 10, key: client_ip}\n"
         "  - name: open\n"
         "    hosts: [open.test]\n"
         "default: allow\n";
}

Call login(const std::string& ip) {
  return call_from("auth.test", ip, "POST", "/login");
}

TEST(RedisLifecycleE2e, ReadyzStaysReadyWhileTheFallbackAnswers) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  ScratchDir dir;
  Server server(dir, policy("{address: " + redis.address() + ", timeout: 100ms, on_error: deny}",
                            test_threads()));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  ASSERT_EQ(call_once(server.port(), login("198.51.100.1")).status, 200);
  EXPECT_EQ(server.admin_request("GET", "/readyz").status, 200);
  EXPECT_EQ(server.metric("edgeguard_store_fallback_active"), 0.0);

  // Redis stops answering: the on_error policy answers (deny: 429), and the replica is still
  // ready, since taking it out of a load balancer would not make Redis answer (SPEC 6: the
  // store usable or its fallback active).
  redis.signal(SIGSTOP);
  EXPECT_TRUE(eventually(
      [&] {
        call_once(server.port(), login("198.51.100.2"));
        return server.metric("edgeguard_store_fallback_active") == 1.0;
      },
      10s));
  const HttpResponse ready = server.admin_request("GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
  EXPECT_EQ(call_once(server.port(), login("198.51.100.3")).status, 429);
  redis.signal(SIGCONT);
  EXPECT_TRUE(eventually(
      [&] {
        call_once(server.port(), login("198.51.100.4"));
        return server.metric("edgeguard_store_fallback_active") == 0.0;
      },
      20s));
  EXPECT_EQ(server.admin_request("GET", "/readyz").status, 200);
}

TEST(RedisLifecycleE2e, SigtermWithDecisionsWaitingOnRedisAnswersThemAndExitsCleanly) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  ScratchDir dir;
  // One loop (so a round trip proves the waiting requests were read); a timeout long enough
  // that the requests are surely still waiting when the drain begins.
  Server server(dir, policy("{address: " + redis.address() + ", timeout: 3s, on_error: deny}"));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  ASSERT_EQ(call_once(server.port(), login("198.51.100.1")).status, 200);
  Conn idle(server.port());  // its close says the loop has begun draining
  ASSERT_TRUE(idle.send(render(call_from("open.test", "198.51.100.98"))));
  ASSERT_EQ(idle.read_response().status, 200);

  redis.signal(SIGSTOP);
  std::vector<Conn> waiting;
  for (int i = 0; i < 8; ++i) {
    waiting.emplace_back(server.port());
    ASSERT_TRUE(waiting.back().send(render(login("198.51.100." + std::to_string(10 + i)))));
  }
  // A route without limits asks no store: answered at once, after the loop read the others.
  ASSERT_EQ(call_once(server.port(), call_from("open.test", "198.51.100.99")).status, 200);

  server.signal(SIGTERM);
  ASSERT_TRUE(idle.wait_closed(5000ms));
  for (std::size_t i = 0; i < waiting.size(); ++i) {
    ASSERT_TRUE(waiting[i].stays_open(0ms)) << "answered before the drain began: the machine "
                                               "was too slow for this test's 3 s margin";
  }
  for (std::size_t i = 0; i < waiting.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    const HttpResponse r = waiting[i].read_response(10000ms);
    EXPECT_EQ(r.status, 429) << "a decision waiting on Redis was dropped by the drain";
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_EQ(reason_of(r), "rate_limit");
    // Closed once answered, not held open until the drain gives up on it.
    EXPECT_TRUE(waiting[i].wait_closed(5000ms));
  }
  EXPECT_EQ(server.wait_and_reap(15000ms), 0) << server.stdout_text();
  EXPECT_NE(server.stdout_text().find("\"event\":\"stopped\""), std::string::npos);
  redis.signal(SIGCONT);
}

// A Redis Cluster node that answers every script with MOVED to itself. Real nodes disagree
// about a slot's owner only until gossip converges, so such a loop is transient there; a
// scripted node makes it permanent, so that only edgeguard's redirect cap can end it. It speaks
// just enough RESP: CLUSTER SLOTS (every slot is its own), PING, and +OK for the rest.
class RedirectingNode {
 public:
  RedirectingNode() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
      thread_ = std::thread([this] { run(); });
    }
  }
  ~RedirectingNode() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int scripts() const { return scripts_.load(); }

 private:
  void run() {
    std::vector<pollfd> fds{{fd_, POLLIN, 0}};
    std::vector<std::string> bufs{""};
    while (!stop_) {
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          fds.push_back({c, POLLIN, 0});
          bufs.emplace_back();
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char chunk[4096];
        const ssize_t n = ::recv(fds[i].fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds.erase(fds.begin() + static_cast<long>(i));
          bufs.erase(bufs.begin() + static_cast<long>(i));
          --i;
          continue;
        }
        bufs[i].append(chunk, static_cast<std::size_t>(n));
        std::vector<std::string> argv;
        while (take_command(bufs[i], argv)) {
          const std::string reply = answer(argv);
          ::send(fds[i].fd, reply.data(), reply.size(), MSG_NOSIGNAL);
        }
      }
    }
    for (std::size_t i = 1; i < fds.size(); ++i) ::close(fds[i].fd);
  }

  // One RESP multi-bulk command off the front of `buf`; false until it is complete.
  static bool take_command(std::string& buf, std::vector<std::string>& argv) {
    argv.clear();
    if (buf.empty() || buf[0] != '*') return false;
    std::size_t pos = buf.find("\r\n");
    if (pos == std::string::npos) return false;
    const int count = std::atoi(buf.c_str() + 1);
    pos += 2;
    for (int i = 0; i < count; ++i) {
      const std::size_t eol = buf.find("\r\n", pos);
      if (eol == std::string::npos || buf[pos] != '$') return false;
      const auto len = static_cast<std::size_t>(std::atoll(buf.c_str() + pos + 1));
      if (buf.size() < eol + 2 + len + 2) return false;
      argv.push_back(buf.substr(eol + 2, len));
      pos = eol + 2 + len + 2;
    }
    buf.erase(0, pos);
    return true;
  }

  std::string answer(const std::vector<std::string>& argv) {
    const std::string cmd = argv.empty() ? "" : argv[0];
    const std::string self = "127.0.0.1:" + std::to_string(port_);
    if (cmd == "EVALSHA" || cmd == "EVAL") {
      ++scripts_;
      return "-MOVED 866 " + self + "\r\n";
    }
    if (cmd == "CLUSTER") {
      const std::string id(40, 'a');
      return "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:" + std::to_string(port_) +
             "\r\n$40\r\n" + id + "\r\n";
    }
    if (cmd == "PING") return "+PONG\r\n";
    return "+OK\r\n";
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> scripts_{0};
  std::thread thread_;
};

TEST(RedisLifecycleE2e, ARedirectLoopIsCutByTheCapAndTheFallbackAnswers) {
  RedirectingNode node;
  ASSERT_GT(node.port(), 0);
  ScratchDir dir;
  // A long timeout: without the cap, the request would bounce until it.
  Server server(dir, policy("{nodes: [127.0.0.1:" + std::to_string(node.port()) +
                            "], timeout: 2s, on_error: deny}"));
  ASSERT_TRUE(server.started()) << server.stdout_text() << server.stderr_text();
  const HttpResponse r = call_once(server.port(), login("198.51.100.7"));
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.header("Retry-After"), "1");  // on_error: deny answers with a 1 s retry
  const int scripts = node.scripts();
  // It followed redirects, and stopped after a few: the cap is 5, so 1 + 5 scripts were sent.
  // Without it, the request would have bounced thousands of times until the 2 s timeout.
  EXPECT_GE(scripts, 2);
  EXPECT_LE(scripts, 6);
  EXPECT_TRUE(eventually([&] { return server.metric("edgeguard_store_errors_total") >= 1.0; }));
  EXPECT_EQ(node.scripts(), scripts) << "the request was given up, yet scripts kept coming";
}

}  // namespace
}  // namespace edgeguard::testing
