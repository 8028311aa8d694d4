// Thousands of connections against the binary, over loopback: what an idle keep-alive
// connection costs and whether that memory leaves once it closes; slow and idle clients at
// scale while normal requests keep being answered; the connection limit at scale. Throughput
// and latency under the same load are measured in bench/hostile.sh, not asserted here.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/harness.h"
#include "tests/support/sanitizers.h"

namespace edgeguard::testing {
namespace {

constexpr int kIdleConnections = 2000;

// Memory bounds are checked only without a sanitizer (tests/support/sanitizers.h says why).
constexpr bool kMeasureRss = !kSanitized;

// Room for every connection twice (the test's end and the server's, a child that inherits the
// limit) and what both open besides. False when the hard limit is too low.
bool raise_fd_limit(int connections) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return false;
  const rlim_t want = static_cast<rlim_t>(connections) * 2 + 512;
  if (r.rlim_cur >= want) return true;
  if (r.rlim_max != RLIM_INFINITY && r.rlim_max < want) return false;
  r.rlim_cur = want;
  return ::setrlimit(RLIMIT_NOFILE, &r) == 0;
}

std::string config(const std::string& server) {
  return R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 2
callers: [127.0.0.0/8]
store: {type: local}
server: )" +
         server + R"(
routes:
  - name: erp
    hosts: [erp.example.test]
    limits:
      - {name: per-ip, average: 6000000, period: 1m, burst: 100000, key: client_ip}
default: allow
)";
}

Call erp() {
  Call c;
  c.host = "erp.example.test";
  c.uri = "/app/sales-order?status=open";
  c.extra = {{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101"},
             {"Accept", "text/html,application/xhtml+xml"},
             {"Cookie", "sid=0123456789abcdef0123456789abcdef; system_user=yes"}};
  return c;
}

// `n` connections, each answered once and left open (keep-alive); `answered_at` gets the time
// each answer was read.
std::vector<Conn> open_idle(int port, int n,
                            std::vector<Clock::time_point>* answered_at = nullptr) {
  std::vector<Conn> conns;
  conns.reserve(static_cast<std::size_t>(n));
  const std::string request = render(erp());
  int unanswered = 0;
  for (int i = 0; i < n; ++i) {
    conns.emplace_back(port);
    if (!conns.back().send(request)) ++unanswered;
  }
  for (auto& c : conns) {
    if (c.read_response().status != 200) ++unanswered;
    if (answered_at != nullptr) answered_at->push_back(Clock::now());
  }
  EXPECT_EQ(unanswered, 0) << "of " << n << " connections";
  return conns;
}

double rss(Server& s) {
  return s.metric("process_resident_memory_bytes").value_or(0);
}

bool connections_are(Server& s, double n) {
  return eventually([&] { return s.metric("edgeguard_open_connections") == n; }, 10000ms);
}

class ScaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!raise_fd_limit(kIdleConnections + 500)) {
      GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is below " << (kIdleConnections + 500) * 2;
    }
  }
  ScratchDir dir_;
};

// Goal (issue 17): at most 2.5 KB per idle keep-alive connection (it was ~19.5 KB: every
// connection held its read buffer, parser arena and handler), and RSS back within 10% of the
// idle figure once they close (it stayed at its peak). bench/README.md states the figures.
TEST_F(ScaleTest, AnIdleConnectionCostsLittleAndGivesItsMemoryBackWhenItCloses) {
  if (!kMeasureRss) GTEST_SKIP() << "RSS under a sanitizer says nothing about a connection";
  Server server(dir_, config("{max_connections: 10000}"));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  // The idle figure is taken after a first round of the same life (accept, answer, wait,
  // close), so code paths run for the first time and the pools' first sets are not counted
  // against the connections.
  open_idle(server.port(), 200);
  ASSERT_TRUE(connections_are(server, 0));
  const double idle = rss(server);
  ASSERT_GT(idle, 0);

  std::vector<Conn> conns = open_idle(server.port(), kIdleConnections);
  ASSERT_TRUE(connections_are(server, kIdleConnections));
  const double held = rss(server);
  const double per_connection = (held - idle) / kIdleConnections;
  RecordProperty("bytes_per_idle_connection", std::to_string(per_connection));
  std::printf("idle RSS %.0f B, with %d idle connections %.0f B: %.0f B each\n", idle,
              kIdleConnections, held, per_connection);
  EXPECT_LE(per_connection, 2560) << "idle " << idle << " B, with " << kIdleConnections
                                  << " idle connections " << held << " B";

  conns.clear();
  ASSERT_TRUE(connections_are(server, 0));
  // The request buffer pools free what stayed unused for a second (request_buffers.h).
  double after = 0;
  EXPECT_TRUE(eventually(
      [&] {
        after = rss(server);
        return after <= idle * 1.10;
      },
      10000ms))
      << "idle " << idle << " B, " << held << " B with " << kIdleConnections
      << " connections, still " << after << " B after they closed";
  std::printf("after they closed: %.0f B (%.1f%% above idle)\n", after, (after / idle - 1) * 100);
}

// A client that sends part of a header and waits costs what an idle one does: a partial header
// stays in the connection's small first buffer until its end arrives. Its first bytes come with
// the connection (read directly into a set of request buffers, session.h) and the rest later
// (read through the event loop): neither may keep the set.
TEST_F(ScaleTest, ASlowClientCostsNoMoreThanAnIdleOne) {
  if (!kMeasureRss) GTEST_SKIP() << "RSS under a sanitizer says nothing about a connection";
  Server server(dir_, config("{max_connections: 10000, header_timeout: 60s}"));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  open_idle(server.port(), 200);
  ASSERT_TRUE(connections_are(server, 0));
  const double idle = rss(server);
  std::vector<Conn> slow;
  int unsent = 0;
  for (int i = 0; i < kIdleConnections; ++i) {
    slow.emplace_back(server.port());
    if (!slow.back().send("GET /auth HTTP/1.1\r\nHost: edgeguard.internal\r\n")) ++unsent;
  }
  ASSERT_EQ(unsent, 0);
  // Counted: accepted, so their first bytes were read at the accept (TCP_DEFER_ACCEPT).
  ASSERT_TRUE(connections_are(server, kIdleConnections));
  for (auto& c : slow) {
    if (!c.send("X-Forwarded-Host: erp.example.test\r\nUser-Agent: Mozilla/5.0\r\n")) ++unsent;
  }
  ASSERT_EQ(unsent, 0);
  // Fresh connections answered after them make it all but certain both event loops have also
  // read what was waiting on the earlier ones (readiness is reported in order). Taking the
  // request buffers for a partial header costs ~18 KB each.
  EXPECT_EQ(open_idle(server.port(), 8).size(), 8u);
  const double per_connection = (rss(server) - idle) / kIdleConnections;
  std::printf("a slow client holding a partial header: %.0f B\n", per_connection);
  EXPECT_LE(per_connection, 2560);
  EXPECT_TRUE(slow.front().stays_open(0ms));
}

// A connection that sends nothing is accepted once TCP_DEFER_ACCEPT's wait ends, finds nothing
// to read directly, and waits like an idle one, without the set it read into.
TEST_F(ScaleTest, ASilentConnectionCostsNoMoreThanAnIdleOne) {
  if (!kMeasureRss) GTEST_SKIP() << "RSS under a sanitizer says nothing about a connection";
  Server server(dir_, config("{max_connections: 10000}"));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  open_idle(server.port(), 200);
  ASSERT_TRUE(connections_are(server, 0));
  const double idle = rss(server);
  std::vector<Conn> silent;
  for (int i = 0; i < kIdleConnections; ++i) silent.emplace_back(server.port());
  ASSERT_TRUE(connections_are(server, kIdleConnections));
  const double per_connection = (rss(server) - idle) / kIdleConnections;
  std::printf("a connection that sent nothing: %.0f B\n", per_connection);
  EXPECT_LE(per_connection, 2560);
  // They are served when they do send.
  const std::string request = render(erp());
  ASSERT_TRUE(silent.back().send(request));
  EXPECT_EQ(silent.back().read_response().status, 200);
}

// Normal requests are answered while thousands of idle clients and a crowd of slow-loris
// clients hold connections; each kind is cut at its own timeout, not the other's.
TEST_F(ScaleTest, IdleAndSlowClientsAtScaleAreCutAtTheirTimeoutsWhileRequestsAreServed) {
  constexpr auto kIdleTimeout = 4000ms;
  constexpr auto kHeaderTimeout = 1000ms;
  constexpr int kSlowClients = 300;
  Server server(dir_, config("{max_connections: 10000, idle_timeout: 4s, header_timeout: 1s}"));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  const int port = server.port();

  // Normal traffic for the whole run, on a keep-alive connection and on fresh ones.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0};
  std::thread normal([&] {
    const std::string request = render(erp());
    auto keep_alive = std::make_unique<Conn>(port);
    while (!stop.load()) {
      bool ok = keep_alive->send(request) && keep_alive->read_response(5000ms).status == 200;
      ok = ok && call_once(port, erp()).status == 200;
      (ok ? answered : failed).fetch_add(1);
      // The server closes a keep-alive connection idle past its timeout; this one never is.
      if (!ok) keep_alive = std::make_unique<Conn>(port);
    }
  });

  std::vector<Clock::time_point> answered_at;
  std::vector<Conn> idle = open_idle(port, kIdleConnections, &answered_at);

  // Slow loris: a request line and one header line, then a byte every 100 ms, never the end.
  std::vector<Conn> slow;
  std::vector<Clock::time_point> slow_since;
  for (int i = 0; i < kSlowClients; ++i) {
    slow.emplace_back(port);
    ASSERT_TRUE(slow.back().send("GET /auth HTTP/1.1\r\nHost: edgeguard.internal\r\nX-Drip: "));
    slow_since.push_back(Clock::now());
  }
  std::vector<Clock::duration> slow_held(kSlowClients, Clock::duration::zero());
  int slow_open = kSlowClients;
  const auto slow_deadline = Clock::now() + kHeaderTimeout + 5s;
  while (slow_open > 0 && Clock::now() < slow_deadline) {
    for (int i = 0; i < kSlowClients; ++i) {
      if (slow_held[i] != Clock::duration::zero()) continue;
      if (slow[i].send("a") && !slow[i].wait_closed(0ms)) continue;
      slow_held[i] = Clock::now() - slow_since[i];
      --slow_open;
    }
    std::this_thread::sleep_for(100ms);  // the drip's pace, not a synchronisation
  }
  EXPECT_EQ(slow_open, 0) << "slow clients still connected " << kHeaderTimeout + 5s
                          << " after their first byte";
  for (int i = 0; i < kSlowClients; ++i) {
    if (slow_held[i] == Clock::duration::zero()) continue;
    EXPECT_GE(slow_held[i], kHeaderTimeout - 50ms) << "slow client " << i << " cut too early";
    // Each byte it sends must not buy it the idle timeout.
    EXPECT_LT(slow_held[i], kIdleTimeout - 1s) << "slow client " << i << " was not cut in time";
  }
  // The idle ones are still there: their timeout is the idle one, not the header one.
  int idle_closed_early = 0;
  for (int i = 0; i < kIdleConnections; ++i) {
    const auto waited = Clock::now() - answered_at[i];
    if (waited < kIdleTimeout - 50ms && !idle[i].stays_open(0ms)) ++idle_closed_early;
  }
  EXPECT_EQ(idle_closed_early, 0) << "idle connections closed before the idle timeout";

  // Now they go, at the idle timeout.
  int idle_open = 0;
  for (int i = 0; i < kIdleConnections; ++i) {
    const auto deadline = answered_at[i] + kIdleTimeout + 5s;
    const auto left = std::max(deadline - Clock::now(), Clock::duration::zero());
    if (!idle[i].wait_closed(std::chrono::duration_cast<std::chrono::milliseconds>(left))) {
      ++idle_open;
    }
  }
  EXPECT_EQ(idle_open, 0) << "idle connections open " << kIdleTimeout + 5s << " after their answer";

  stop = true;
  normal.join();
  EXPECT_EQ(failed.load(), 0) << "normal requests that failed while the hostile clients held on";
  EXPECT_GT(answered.load(), 10);
  EXPECT_TRUE(server.running());
}

// The limit holds when thousands ask at once: it is split over the worker threads, so the
// total admitted never exceeds it, and every refused connection is counted.
TEST_F(ScaleTest, TheConnectionLimitHoldsAtScale) {
  constexpr int kLimit = 1000;
  constexpr int kAttempts = 1500;
  Server server(dir_, config("{max_connections: 1000}"));
  ASSERT_TRUE(server.started()) << server.stderr_text();
  std::vector<Conn> conns;
  const std::string request = render(erp());
  for (int i = 0; i < kAttempts; ++i) {
    conns.emplace_back(server.port());
    conns.back().send(request);  // a refused connection may be reset before or after this
  }
  int served = 0, refused = 0;
  for (auto& c : conns) {
    if (c.read_response(5000ms).status == 200) {
      ++served;
    } else if (c.wait_closed(5000ms)) {
      ++refused;
    }
  }
  EXPECT_EQ(served + refused, kAttempts) << "neither answered nor closed";
  EXPECT_LE(served, kLimit);
  EXPECT_GE(served, kLimit * 9 / 10) << "the kernel spreads connections over both threads";
  EXPECT_TRUE(eventually([&] {
    return server.metric("edgeguard_connections_rejected_total") == static_cast<double>(refused);
  })) << refused;
  EXPECT_TRUE(connections_are(server, served));
  // Freed slots are usable again.
  conns.clear();
  ASSERT_TRUE(connections_are(server, 0));
  EXPECT_EQ(open_idle(server.port(), 100).size(), 100u);
}

}  // namespace
}  // namespace edgeguard::testing
