// Issue 18: whose bucket a request goes to. Traefik's source-criterion cases (TestNewRateLimiter
// in pkg/middlewares/ratelimiter/rate_limiter_test.go) and ipStrategy cases
// (pkg/ip/strategy_test.go) through the binary, and every place where edgeguard deliberately
// answers otherwise, with the exact error a user sees (the README's Traefik section lists them).
//
// Traefik's middleware reads the X-Forwarded-For it received; ForwardAuth sends edgeguard that
// list with the peer Traefik saw appended. A Traefik case's header value is sent here as the
// whole list, i.e. as if the last entry were the peer.
#include <boost/json.hpp>

#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace edgeguard::testing {
namespace {

const std::string kHead =
    "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: 1\ncallers: [127.0.0.0/8]\n"
    "log: {allow: true}\n";

struct Answer {
  int status = 0;
  std::string client_ip;  // from the decision's log line (admitted calls)
  std::string detail;     // of a problem+json answer
};

std::string json_field(const std::string& text, const char* field) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return "";
  const auto* f = v.as_object().if_contains(field);
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : "";
}

// The decision log line of the call to `host`, once it is written.
std::string client_ip_logged(Server& server, const std::string& host) {
  std::string ip;
  eventually([&] {
    std::istringstream lines(server.stdout_text());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.find("\"event\":\"decision\"") != std::string::npos &&
          json_field(line, "host") == host) {
        ip = json_field(line, "client_ip");
        return true;
      }
    }
    return false;
  });
  return ip;
}

// One call; every call has a host of its own so that its log line is its own.
Answer ask(Server& server, Call call) {
  static int seq = 0;
  call.host = "call" + std::to_string(++seq) + ".traefik.test";
  const HttpResponse r = call_once(server.port(), call);
  Answer a;
  a.status = r.status;
  if (r.status == 200) a.client_ip = client_ip_logged(server, call.host);
  a.detail = json_field(r.body, "detail");
  return a;
}

Call with_xff(const std::string& xff) {
  Call c;
  c.xff = xff;
  c.include_xff = !xff.empty();
  return c;
}

// ---------------------------------------------------------------------------------------------
// TestNewRateLimiter

TEST(TraefikSourceCriterion, DefaultSourceIsTheRemoteAddress) {
  // "default SourceMatcher is remote address ip strategy": RemoteAddr 127.0.0.1:1234 is the
  // source. The peer Traefik saw is the last X-Forwarded-For entry; what a client wrote before
  // it does not count.
  ScratchDir dir;
  Server server(dir, kHead +
                         "routes:\n  - name: r\n    hosts: ['*.traefik.test']\n"
                         "    limits: [{name: l, average: 200, burst: 10}]\n");
  ASSERT_TRUE(server.started()) << server.stderr_text();
  EXPECT_EQ(ask(server, with_xff("127.0.0.1")).client_ip, "127.0.0.1");
  EXPECT_EQ(ask(server, with_xff("192.0.2.77, 127.0.0.1")).client_ip, "127.0.0.1");
}

TEST(TraefikSourceCriterion, RequestHeaderNameInConfigIsRespected) {
  // "SourceCriterion in config is respected": RequestHeaderName Foo, a request with Foo: bar
  // has the source "bar". Traefik's case limits 200/s, burst 10; here 200 per hour, so that no
  // token comes back while the test runs. Traefik's `requestHeaderName: Foo` is edgeguard's
  // `key: "header:Foo"`.
  ScratchDir dir;
  Server server(dir, kHead +
                         "routes:\n  - name: r\n    hosts: ['*.traefik.test']\n"
                         "    limits: [{name: l, average: 200, period: 1h, burst: 10, "
                         "key: \"header:Foo\"}]\n");
  ASSERT_TRUE(server.started()) << server.stderr_text();
  auto foo = [](const std::string& value, const std::string& ip) {
    Call c = with_xff(ip);
    c.extra.emplace_back("Foo", value);
    return c;
  };
  // The ten of bar's bucket, from ten addresses: the address is not the source.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(ask(server, foo("bar", "198.51.100." + std::to_string(i + 1))).status, 200) << i;
  }
  EXPECT_EQ(ask(server, foo("bar", "198.51.100.99")).status, 429);
  // Another value is another source, from an address bar used.
  EXPECT_EQ(ask(server, foo("baz", "198.51.100.1")).status, 200);
}

// ---------------------------------------------------------------------------------------------
// pkg/ip/strategy_test.go

TEST(TraefikIpStrategy, RemoteAddrStrategy) {
  // TestRemoteAddrStrategy_GetIP "Use RemoteAddr": 192.0.2.1.
  ScratchDir dir;
  Server server(dir, kHead + "routes: []\n");
  ASSERT_TRUE(server.started()) << server.stderr_text();
  EXPECT_EQ(ask(server, with_xff("192.0.2.1")).client_ip, "192.0.2.1");
}

TEST(TraefikIpStrategy, CustomHeaderStrategy) {
  // TestCustomHeaderStrategy_GetIP "Use CustomHeader": CF-Connecting-IP 192.0.2.1.
  ScratchDir dir;
  Server server(dir, kHead + "client_ip: {header: CF-Connecting-IP}\nroutes: []\n");
  ASSERT_TRUE(server.started()) << server.stderr_text();
  Call c = with_xff("198.51.100.3");
  c.extra.emplace_back("CF-Connecting-IP", "192.0.2.1");
  EXPECT_EQ(ask(server, c).client_ip, "192.0.2.1");
}

TEST(TraefikIpStrategy, DepthStrategy) {
  // TestDepthStrategy_GetIP.
  ScratchDir dir2, dir3;
  Server depth2(dir2, kHead + "client_ip: {depth: 2}\nroutes: []\n");
  Server depth3(dir3, kHead + "client_ip: {depth: 3}\nroutes: []\n");
  ASSERT_TRUE(depth2.started()) << depth2.stderr_text();
  ASSERT_TRUE(depth3.started()) << depth3.stderr_text();
  // "Use depth": depth 3 of 10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1 is 10.0.0.3.
  EXPECT_EQ(ask(depth3, with_xff("10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1")).client_ip, "10.0.0.3");
  // "Use depth that match the first IP in XForwardedFor": depth 2 of 10.0.0.2,10.0.0.1.
  EXPECT_EQ(ask(depth2, with_xff("10.0.0.2,10.0.0.1")).client_ip, "10.0.0.2");
  // "Use non existing depth in XForwardedFor": depth 2 of an empty header is "" in Traefik, one
  // source for every such request. edgeguard answers 400 instead (a difference, see below).
  const Answer none = ask(depth2, with_xff(""));
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.detail, "X-Forwarded-For is missing");
}

TEST(TraefikIpStrategy, ExcludedIpsStrategyIsTrustedHops) {
  // TestExcludedIPsStrategy_GetIP: Traefik's `ipStrategy.excludedIPs` is edgeguard's
  // `client_ip.trusted_hops` (entries skipped from the right while they are in it).
  ScratchDir d1, d2, d3;
  Server two(d1, kHead + "client_ip: {trusted_hops: [10.0.0.2/32, 10.0.0.1/32]}\nroutes: []\n");
  Server all(d2, kHead +
                     "client_ip: {trusted_hops: [10.0.0.4/32, 10.0.0.3/32, 10.0.0.2/32, "
                     "10.0.0.1/32]}\nroutes: []\n");
  // "Use excluded IPs CIDR" writes 10.0.0.1/24, which edgeguard refuses (host bits set, see
  // below): the network it means is 10.0.0.0/24.
  Server cidr(d3, kHead + "client_ip: {trusted_hops: [10.0.0.0/24]}\nroutes: []\n");
  ASSERT_TRUE(two.started()) << two.stderr_text();
  ASSERT_TRUE(all.started()) << all.stderr_text();
  ASSERT_TRUE(cidr.started()) << cidr.stderr_text();
  const std::string four = "10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1";
  // "Use excluded IPs": 10.0.0.3.
  EXPECT_EQ(ask(two, with_xff(four)).client_ip, "10.0.0.3");
  // "Use excluded IPs CIDR": 127.0.0.1.
  EXPECT_EQ(ask(cidr, with_xff("127.0.0.1," + four)).client_ip, "127.0.0.1");
  // "Use excluded all IPs" and "Use excluded all IPs CIDR": "" in Traefik; 400 here.
  for (Server* s : {&all, &cidr}) {
    const Answer a = ask(*s, with_xff(four));
    EXPECT_EQ(a.status, 400);
    EXPECT_EQ(a.detail, "X-Forwarded-For has no entry outside client_ip.trusted_hops");
  }
}

// ---------------------------------------------------------------------------------------------
// Where edgeguard deliberately differs: what Traefik would take, edgeguard refuses, saying why.

struct Refusal {
  const char* traefik;  // what Traefik does with it (its source)
  const char* yaml;
  const char* error;  // edgeguard check's line, after the file name
};

TEST(TraefikDifferences, ConfigurationsTraefikTakesAreRefusedAtTheirLine) {
  const Refusal refusals[] = {
      {"average 0 is no limit at all (TestNewRateLimiter \"no ratelimit on Average == 0\")",
       "routes:\n  - name: r\n    limits: [{name: l, average: 0}]\n",
       ":3:33: average must be greater than 0"},
      {"burst 0 is burst 1 (rate_limiter.go: `if burst < 1 { burst = 1 }`)",
       "routes:\n  - name: r\n    limits: [{name: l, average: 5, burst: 0}]\n",
       ":3:43: burst must be between 1 and 1000000000"},
      {"period 0 is 1 s (rate_limiter.go: `if period == 0 { period = time.Second }`)",
       "routes:\n  - name: r\n    limits: [{name: l, average: 5, period: 0}]\n",
       ":3:44: period must be a duration like 500ms, 30s, 1m or 1h"},
      {"excludedIPs 10.0.0.1/24 is 10.0.0.0/24 (TestExcludedIPsStrategy_GetIP \"Use excluded "
       "IPs CIDR\")",
       "client_ip: {trusted_hops: [10.0.0.1/24]}\nroutes: []\n",
       ":1:28: client_ip.trusted_hops: '10.0.0.1/24' is neither an ip_sets name nor a CIDR (host "
       "bits set: write the network address (e.g. 10.0.0.0/8))"},
      {"depth set makes excludedIPs ignored (ipStrategy: depth wins)",
       "client_ip: {depth: 2, trusted_hops: [10.0.0.0/24]}\nroutes: []\n",
       ":1:37: client_ip: use either depth or trusted_hops, not both"},
  };
  for (const Refusal& r : refusals) {
    ScratchDir dir;
    const auto file = dir.write("policy.yaml", r.yaml);
    const RunResult run = run_edgeguard({"check", "--config", file.string()}, dir);
    EXPECT_EQ(run.exit_code, 1) << r.traefik;
    EXPECT_EQ(run.out + run.err, file.string() + r.error + "\n") << r.traefik;
  }
}

TEST(TraefikDifferences, UnusableForwardedForIsA400) {
  // Traefik keys such a request on whatever string its strategy returns ("" when there is
  // none, so all of them share one bucket); edgeguard refuses to guess.
  ScratchDir d1, d2;
  Server depth1(d1, kHead + "routes: []\n");
  Server depth2(d2, kHead + "client_ip: {depth: 2}\nroutes: []\n");
  ASSERT_TRUE(depth1.started()) << depth1.stderr_text();
  ASSERT_TRUE(depth2.started()) << depth2.stderr_text();
  struct Case {
    Server* server;
    const char* xff;
    const char* detail;
  };
  const Case answers[] = {
      {&depth1, "", "X-Forwarded-For is missing"},
      {&depth1, "unknown", "X-Forwarded-For has an entry that is not an IP address"},
      {&depth1, "198.51.100.7,", "X-Forwarded-For has an entry that is not an IP address"},
      {&depth2, "198.51.100.7, , 10.0.0.1",
       "X-Forwarded-For has an entry that is not an IP address"},
      {&depth2, "garbage, 10.0.0.1", "X-Forwarded-For has an entry that is not an IP address"},
      {&depth2, "10.0.0.1", "X-Forwarded-For has fewer entries than client_ip.depth"},
  };
  for (const Case& c : answers) {
    const Answer a = ask(*c.server, with_xff(c.xff));
    EXPECT_EQ(a.status, 400) << "'" << c.xff << "'";
    EXPECT_EQ(a.detail, c.detail) << "'" << c.xff << "'";
  }
  // Entries left of the one chosen are never looked at, so they cannot make a 400.
  EXPECT_EQ(ask(depth1, with_xff("garbage, , 198.51.100.7")).client_ip, "198.51.100.7");
}

}  // namespace
}  // namespace edgeguard::testing
