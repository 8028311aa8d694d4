// The edgeguard binary over loopback, black box: a real `edgeguard serve` on ports it picks
// itself (read from its "started" line), raw sockets so the bytes are exactly the test's, every
// wait bounded by a deadline, the child killed in teardown whatever happens.
#include <boost/json.hpp>

#include <algorithm>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace edgeguard::testing {
namespace {

namespace json = boost::json;

// The routes every server test runs with; `server:` and `responses:` vary per test. One event
// loop unless EDGEGUARD_TEST_THREADS asks for more (tests/tsan.sh does).
std::string config(const std::string& server_section = "",
                   const std::string& responses = "{rate_limited: 429, forbidden: 403}",
                   const std::string& callers = "[127.0.0.0/8]", int threads = test_threads()) {
  return R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: )" +
         std::to_string(threads) +
         R"(
callers: )" +
         callers +
         R"(
client_ip: {header: X-Forwarded-For, depth: 1, ipv6_prefix: 64}
responses: )" +
         responses +
         R"(
store: {type: local, local: {max_buckets: 10000}}
)" + server_section +
         R"(
routes:
  - name: authentik-login
    hosts: [auth.securenexus.net]
    paths: [/api/v3/flows/executor/, /application/o/token/, "= /if/flow/default-authentication-flow/"]
    methods: [POST]
    limits:
      - {name: per-ip, average: 10, period: 1m, burst: 5, key: client_ip}
      - {name: all, average: 600, period: 1m, burst: 100, key: route}
  - name: erp
    hosts: [erp.example.test]
    limits:
      - {name: per-ip, average: 300, period: 1m, burst: 60, key: client_ip}
  - name: blocked
    hosts: [blocked.example.test]
    deny_ips: [203.0.113.0/24]
  - name: blocked-shadow
    hosts: [shadow-blocked.example.test]
    mode: shadow
    deny_ips: [203.0.113.0/24]
  - name: strict
    hosts: [strict.example.test]
    limits: [{name: once, average: 1, period: 1h, burst: 1, key: client_ip}]
  - name: strict-shadow
    hosts: [shadow-strict.example.test]
    mode: shadow
    limits: [{name: once, average: 1, period: 1h, burst: 1, key: client_ip}]
  - name: strict-403
    hosts: [strict403.example.test]
    responses: {rate_limited: 403}
    limits: [{name: once, average: 1, period: 1h, burst: 1, key: client_ip}]
default: allow
)";
}

Call login(const std::string& xff) {
  Call c;
  c.method = "POST";
  c.host = "auth.securenexus.net";
  c.uri = "/api/v3/flows/executor/default-authentication-flow/?query=";
  c.xff = xff;
  return c;
}

Call to_host(const std::string& host, const std::string& xff = "198.51.100.10") {
  Call c;
  c.host = host;
  c.xff = xff;
  return c;
}

json::object body_json(const HttpResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "body is not a JSON object: " << r.body;
    return {};
  }
  return v.as_object();
}

std::string str(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string("<absent>");
}

std::int64_t num(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : -1;
}

class ServerTest : public ::testing::Test {
 protected:
  // Starts the server; a test that needs other settings calls it with them.
  void start(const std::string& yaml = config()) {
    server_ = std::make_unique<Server>(dir_, yaml);
    ASSERT_TRUE(server_->started()) << "stdout:\n"
                                    << server_->stdout_text() << "\nstderr:\n"
                                    << server_->stderr_text();
  }
  int port() const { return server_->port(); }

  ScratchDir dir_;
  std::unique_ptr<Server> server_;  // destroyed (child killed) before dir_
};

// ---- rate limits -------------------------------------------------------------------------

TEST_F(ServerTest, LoginBurstFromOneIpGetsExactlyBurstThenTooManyRequests) {
  start();
  for (int i = 0; i < 5; ++i) {
    const auto r = call_once(port(), login("198.51.100.7"));
    ASSERT_EQ(r.status, 200) << "request " << i;
    EXPECT_EQ(r.header("X-Edgeguard-Route"), "authentik-login");
    EXPECT_EQ(r.body, "");
  }
  for (int i = 0; i < 3; ++i) {
    const auto r = call_once(port(), login("198.51.100.7"));
    ASSERT_EQ(r.status, 429) << "request " << 5 + i;
    const auto retry = r.header("Retry-After");
    ASSERT_TRUE(retry.has_value());
    ASSERT_FALSE(retry->empty());
    EXPECT_EQ(retry->find_first_not_of("0123456789"), std::string::npos) << *retry;
    // 10 per minute: one token per 6 s. Rounded up, so 6 unless a whole second passed.
    const int seconds = std::stoi(*retry);
    EXPECT_GE(seconds, 5);
    EXPECT_LE(seconds, 6);
    EXPECT_EQ(r.header("RateLimit-Policy"), "\"per-ip\";q=10;w=60");
    EXPECT_EQ(r.header("RateLimit"), "\"per-ip\";r=0;t=" + *retry);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(r.header("X-Edgeguard-Route"), "authentik-login");
    const auto body = body_json(r);
    EXPECT_EQ(num(body, "status"), 429);
    EXPECT_EQ(str(body, "title"), "Too Many Requests");
    EXPECT_EQ(str(body, "route"), "authentik-login");
    EXPECT_EQ(str(body, "limit"), "per-ip");
    EXPECT_EQ(num(body, "retry_after"), seconds);
  }
}

TEST_F(ServerTest, OtherIpsAndOtherRoutesAreUnaffectedByALimitedClient) {
  start();
  for (int i = 0; i < 6; ++i) call_once(port(), login("198.51.100.7"));
  ASSERT_EQ(call_once(port(), login("198.51.100.7")).status, 429);
  // Another client on the same route still has its whole burst.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(call_once(port(), login("198.51.100.8")).status, 200) << i;
  }
  EXPECT_EQ(call_once(port(), login("198.51.100.8")).status, 429);
  // The limited client on another route (and a non-limited method on the login host).
  EXPECT_EQ(call_once(port(), to_host("erp.example.test", "198.51.100.7")).status, 200);
  Call get = login("198.51.100.7");
  get.method = "GET";
  const auto r = call_once(port(), get);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Edgeguard-Route"), "default");
}

TEST_F(ServerTest, SpoofedLeftForwardedForEntriesDoNotChangeTheKey) {
  start();
  // Each call claims a different origin on the left; Traefik's rightmost entry is the same.
  for (int i = 0; i < 5; ++i) {
    const auto r = call_once(port(), login("10.9.9." + std::to_string(i) + ", 198.51.100.7"));
    EXPECT_EQ(r.status, 200) << i;
  }
  EXPECT_EQ(call_once(port(), login("1.2.3.4, 198.51.100.7")).status, 429);
  EXPECT_EQ(call_once(port(), login("198.51.100.7")).status, 429);
  EXPECT_EQ(call_once(port(), login("198.51.100.7, 203.0.113.50")).status, 200);
}

TEST_F(ServerTest, ShadowRouteAllowsWhatTheEnforcedOneDeniesAndCountsIt) {
  start();
  // Rate limit: enforced vs shadow.
  EXPECT_EQ(call_once(port(), to_host("strict.example.test")).status, 200);
  EXPECT_EQ(call_once(port(), to_host("strict.example.test")).status, 429);
  EXPECT_EQ(call_once(port(), to_host("shadow-strict.example.test")).status, 200);
  const auto shadow = call_once(port(), to_host("shadow-strict.example.test"));
  EXPECT_EQ(shadow.status, 200);
  EXPECT_EQ(shadow.header("X-Edgeguard-Route"), "strict-shadow");
  EXPECT_FALSE(shadow.header("Retry-After").has_value());
  // IP rule: enforced vs shadow.
  const auto denied = call_once(port(), to_host("blocked.example.test", "203.0.113.9"));
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(str(body_json(denied), "reason"), "ip");
  EXPECT_EQ(call_once(port(), to_host("shadow-blocked.example.test", "203.0.113.9")).status, 200);

  EXPECT_TRUE(eventually([&] {
    return server_->metric(
               "edgeguard_decisions_total{route=\"strict-shadow\",verdict=\"shadow_deny\","
               "reason=\"rate_limit\"}") == 1.0;
  })) << server_->admin_get("/metrics");
  EXPECT_EQ(server_->metric("edgeguard_decisions_total{route=\"blocked-shadow\","
                            "verdict=\"shadow_deny\",reason=\"ip\"}"),
            1.0);
  EXPECT_EQ(
      server_->metric(
          "edgeguard_decisions_total{route=\"strict\",verdict=\"deny\",reason=\"rate_limit\"}"),
      1.0);
  EXPECT_EQ(server_->metric(
                "edgeguard_decisions_total{route=\"blocked\",verdict=\"deny\",reason=\"ip\"}"),
            1.0);
}

TEST_F(ServerTest, StatusesAreConfigurableGloballyAndPerRoute) {
  start(config("", "{rate_limited: 403, forbidden: 401}"));
  // Global: rate_limited 403 (nginx auth_request), forbidden 401.
  EXPECT_EQ(call_once(port(), to_host("strict.example.test")).status, 200);
  const auto limited = call_once(port(), to_host("strict.example.test"));
  EXPECT_EQ(limited.status, 403);
  EXPECT_TRUE(limited.header("Retry-After").has_value());
  EXPECT_EQ(num(body_json(limited), "status"), 403);
  EXPECT_EQ(str(body_json(limited), "limit"), "once");
  const auto forbidden = call_once(port(), to_host("blocked.example.test", "203.0.113.9"));
  EXPECT_EQ(forbidden.status, 401);
  EXPECT_EQ(num(body_json(forbidden), "status"), 401);
}

TEST_F(ServerTest, PerRouteStatusOverridesTheGlobalOne) {
  start();
  EXPECT_EQ(call_once(port(), to_host("strict403.example.test")).status, 200);
  const auto r = call_once(port(), to_host("strict403.example.test"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.header("Retry-After"), "3600");
  EXPECT_EQ(r.header("RateLimit-Policy"), "\"once\";q=1;w=3600");
  // The other routes keep the global 429.
  EXPECT_EQ(call_once(port(), to_host("strict.example.test")).status, 200);
  EXPECT_EQ(call_once(port(), to_host("strict.example.test")).status, 429);
}

// ---- HTTP/1.x connection handling --------------------------------------------------------

TEST_F(ServerTest, ManyRequestsOnOneKeepAliveConnection) {
  start();
  Conn c(port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(c.send(render(to_host("erp.example.test", "198.51.100." + std::to_string(i)))));
    const auto r = c.read_response();
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.header("X-Edgeguard-Route"), "erp");
    EXPECT_FALSE(r.header("Connection").has_value()) << i;
  }
  // Past each client's state, the route-scoped login counter still counts on this connection.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.send(render(login("198.51.100.200"))));
    EXPECT_EQ(c.read_response().status, 200);
  }
  ASSERT_TRUE(c.send(render(login("198.51.100.200"))));
  EXPECT_EQ(c.read_response().status, 429);
  EXPECT_TRUE(c.stays_open(100ms));
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  const std::vector<std::string> hosts = {"erp.example.test", "blocked.example.test",
                                          "strict.example.test", "other.example.test"};
  const std::vector<std::string> routes = {"erp", "blocked", "strict", "default"};
  constexpr int kRequests = 400;  // ~100 KB: more than the server reads or buffers at once
  std::string batch;
  for (int i = 0; i < kRequests; ++i) {
    // Every 7th request is malformed (no X-Forwarded-Host): a 400 in its place, then go on.
    Call c = to_host(hosts[i % hosts.size()], "203.0.113." + std::to_string(i % 250));
    if (i % 7 == 3) c.include_host = false;
    batch += render(c);
  }
  Conn c(port());
  ASSERT_TRUE(c.ok());
  // The writer runs beside the reader so neither side's socket buffer can deadlock the test.
  std::thread writer([&] { c.send(batch); });
  int answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    const auto r = c.read_response();
    if (r.status == 0) break;
    ++answered;
    if (i % 7 == 3) {
      EXPECT_EQ(r.status, 400) << i;
      EXPECT_EQ(str(body_json(r), "header"), "X-Forwarded-Host") << i;
      continue;
    }
    EXPECT_EQ(r.header("X-Edgeguard-Route"), routes[i % routes.size()]) << i;
    const int expected = routes[i % routes.size()] == "blocked" ? 403 : 200;
    if (routes[i % routes.size()] != "strict") {
      EXPECT_EQ(r.status, expected) << i;
    }
  }
  writer.join();
  EXPECT_EQ(answered, kRequests);
  EXPECT_TRUE(c.stays_open(100ms));
}

TEST_F(ServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  start();
  {
    Conn c(port());
    Call call = to_host("erp.example.test");
    call.version = "HTTP/1.0";
    ASSERT_TRUE(c.send(render(call)));
    const auto r = c.read_response();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed(5000ms));
  }
  {
    Conn c(port());
    Call call = to_host("erp.example.test");
    call.version = "HTTP/1.0";
    call.extra = {{"Connection", "keep-alive"}};
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(c.send(render(call)));
      const auto r = c.read_response();
      EXPECT_EQ(r.status, 200) << i;
      EXPECT_FALSE(r.header("Connection").has_value());
    }
    EXPECT_TRUE(c.stays_open(100ms));
  }
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  start();
  Conn c(port());
  Call call = to_host("erp.example.test");
  call.extra = {{"Connection", "close"}};
  // A second request behind it must not be answered: the connection ends after the first.
  ASSERT_TRUE(c.send(render(call) + render(to_host("erp.example.test"))));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(5000ms));
  // A denial with Connection: close closes too.
  Conn d(port());
  Call denied = to_host("blocked.example.test", "203.0.113.1");
  denied.extra = {{"Connection", "close"}};
  ASSERT_TRUE(d.send(render(denied)));
  EXPECT_EQ(d.read_response().status, 403);
  EXPECT_TRUE(d.wait_closed(5000ms));
}

// ---- bad requests ------------------------------------------------------------------------

struct BadCase {
  const char* name;
  Call call;
  const char* header;
  const char* detail;
};

std::vector<BadCase> bad_cases() {
  std::vector<BadCase> v;
  auto base = [] { return to_host("erp.example.test"); };
  Call c;
  c = base(), c.include_method = false;
  v.push_back({"no method", c, "X-Forwarded-Method", "X-Forwarded-Method is missing"});
  c = base(), c.extra = {{"X-Forwarded-Method", "PO ST"}}, c.include_method = false;
  v.push_back({"method with a space", c, "X-Forwarded-Method",
               "X-Forwarded-Method is not an HTTP method token"});
  c = base(), c.include_host = false;
  v.push_back({"no host", c, "X-Forwarded-Host", "X-Forwarded-Host is missing"});
  c = base(), c.host = "bad/host";
  v.push_back({"host with a slash", c, "X-Forwarded-Host",
               "X-Forwarded-Host is not a host name or IP literal"});
  c = base(), c.extra = {{"X-Forwarded-Host", "evil.example.test"}};
  v.push_back({"two hosts", c, "X-Forwarded-Host", "X-Forwarded-Host appears more than once"});
  c = base(), c.include_uri = false;
  v.push_back({"no uri", c, "X-Forwarded-Uri", "X-Forwarded-Uri is missing"});
  c = base(), c.extra = {{"X-Forwarded-Uri", "/admin"}};
  v.push_back({"two uris", c, "X-Forwarded-Uri", "X-Forwarded-Uri appears more than once"});
  c = base(), c.uri = "relative/path";
  v.push_back({"relative uri", c, "X-Forwarded-Uri", "X-Forwarded-Uri does not start with '/'"});
  c = base(), c.uri = "/a%zz";
  v.push_back({"bad escape", c, "X-Forwarded-Uri",
               "X-Forwarded-Uri has a '%' not followed by two hex digits"});
  c = base(), c.uri = "/a%00b";
  v.push_back(
      {"encoded NUL", c, "X-Forwarded-Uri", "X-Forwarded-Uri contains an encoded NUL (%00)"});
  c = base(), c.include_xff = false;
  v.push_back({"no XFF", c, "X-Forwarded-For", "X-Forwarded-For is missing"});
  c = base(), c.xff = "";
  v.push_back({"empty XFF", c, "X-Forwarded-For", "X-Forwarded-For is missing or empty"});
  c = base(), c.xff = "198.51.100.7, not-an-ip";
  v.push_back({"garbage XFF", c, "X-Forwarded-For",
               "X-Forwarded-For has an entry that is not an IP address"});
  return v;
}

TEST_F(ServerTest, EachMissingOrMalformedForwardedHeaderGetsAPrecise400) {
  start();
  Conn c(port());  // one connection for all: a 400 does not end a keep-alive connection
  for (const auto& bad : bad_cases()) {
    SCOPED_TRACE(bad.name);
    ASSERT_TRUE(c.send(render(bad.call)));
    const auto r = c.read_response();
    ASSERT_EQ(r.status, 400);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    const auto body = body_json(r);
    EXPECT_EQ(num(body, "status"), 400);
    EXPECT_EQ(str(body, "title"), "Bad Request");
    EXPECT_EQ(str(body, "header"), bad.header);
    EXPECT_EQ(str(body, "detail"), bad.detail);
  }
  ASSERT_TRUE(c.send(render(to_host("erp.example.test"))));
  EXPECT_EQ(c.read_response().status, 200);
  EXPECT_TRUE(eventually([&] {
    return server_->metric("edgeguard_bad_requests_total{status=\"400\"}") ==
           static_cast<double>(bad_cases().size());
  })) << server_->admin_get("/metrics");
}

TEST_F(ServerTest, OversizedHeadersGet431AndTheServerKeepsServing) {
  start();
  Conn big(port());
  Call call = to_host("erp.example.test");
  call.extra = {{"Cookie", std::string(20000, 'a')}};
  ASSERT_TRUE(big.send(render(call)));
  const auto r = big.read_response();
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_EQ(num(body_json(r), "status"), 431);
  EXPECT_TRUE(big.wait_closed(5000ms));
  // Many small headers adding up past the limit are refused the same way.
  Conn many(port());
  Call call2 = to_host("erp.example.test");
  for (int i = 0; i < 400; ++i) call2.extra.push_back({"X-Pad-" + std::to_string(i), "0123456789"});
  ASSERT_TRUE(many.send(render(call2)));
  EXPECT_EQ(many.read_response().status, 431);
  EXPECT_TRUE(many.wait_closed(5000ms));
  EXPECT_EQ(call_once(port(), to_host("erp.example.test")).status, 200);
}

TEST_F(ServerTest, PeerOutsideCallersIsRefusedWithReasonCaller) {
  start(config("", "{rate_limited: 429, forbidden: 403}", "[10.0.0.0/8]"));
  // Even a request that is malformed, or one whose headers claim an allowed origin.
  for (Call call : {to_host("erp.example.test", "10.1.2.3"), login("10.1.2.3")}) {
    const auto r = call_once(port(), call);
    EXPECT_EQ(r.status, 403);
    const auto body = body_json(r);
    EXPECT_EQ(str(body, "reason"), "caller");
    EXPECT_EQ(num(body, "status"), 403);
  }
  Call bad = to_host("erp.example.test");
  bad.include_host = false;
  EXPECT_EQ(call_once(port(), bad).status, 403);
  EXPECT_TRUE(eventually([&] {
    return server_->metric(
               "edgeguard_decisions_total{route=\"default\",verdict=\"deny\",reason=\"caller\"}") ==
           3.0;
  })) << server_->admin_get("/metrics");
}

TEST_F(ServerTest, RequestBodiesAreSkippedAndTheConnectionStaysUsable) {
  start();
  Conn c(port());
  Call with_length = to_host("erp.example.test");
  with_length.method = "POST";
  with_length.forward_body = true;  // Traefik's forwardBody: a GET carrying the client's body
  with_length.body = std::string(3000, 'x');
  ASSERT_TRUE(c.send(render(with_length)));
  EXPECT_EQ(c.read_response().status, 200);
  // Chunked, and a request right behind it in the same write.
  std::string chunked = render(to_host("erp.example.test"));
  chunked.insert(chunked.size() - 2, "Transfer-Encoding: chunked\r\n");
  chunked += "5\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
  ASSERT_TRUE(c.send(chunked + render(to_host("blocked.example.test", "203.0.113.4"))));
  const auto first = c.read_response();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.header("X-Edgeguard-Route"), "erp");
  const auto second = c.read_response();
  EXPECT_EQ(second.status, 403);
  EXPECT_EQ(second.header("X-Edgeguard-Route"), "blocked");
  ASSERT_TRUE(c.send(render(to_host("erp.example.test"))));
  EXPECT_EQ(c.read_response().status, 200);
}

TEST_F(ServerTest, OversizedBodyGets413AndCloses) {
  start();
  Conn c(port());
  std::string req = render(to_host("erp.example.test"));
  req.insert(req.size() - 2, "Content-Length: 10000000\r\n");
  ASSERT_TRUE(c.send(req + std::string(1000, 'x')));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(num(body_json(r), "status"), 413);
  EXPECT_TRUE(c.wait_closed(5000ms));
  // A chunked body that grows past the limit too.
  Conn d(port());
  std::string chunked = render(to_host("erp.example.test"));
  chunked.insert(chunked.size() - 2, "Transfer-Encoding: chunked\r\n");
  std::string chunk(32768, 'y');
  std::string payload;
  for (int i = 0; i < 4; ++i) payload += "8000\r\n" + chunk + "\r\n";
  ASSERT_TRUE(d.send(chunked + payload));
  EXPECT_EQ(d.read_response().status, 413);
  EXPECT_TRUE(d.wait_closed(5000ms));
  EXPECT_EQ(call_once(port(), to_host("erp.example.test")).status, 200);
}

TEST_F(ServerTest, HostNeverStandsInForForwardedHost) {
  start();
  Call c = to_host("erp.example.test");
  c.include_host = false;
  std::string req = render(c);
  const auto host_at = req.find("Host: edgeguard.internal");
  ASSERT_NE(host_at, std::string::npos);
  req.replace(host_at, 24, "Host: erp.example.test");
  Conn conn(port());
  ASSERT_TRUE(conn.send(req));
  const auto r = conn.read_response();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(str(body_json(r), "header"), "X-Forwarded-Host");
}

TEST_F(ServerTest, ResponseHeadersAreNeverEchoedFromTheRequest) {
  start();
  Call c = to_host("erp.example.test");
  c.extra = {{"X-Edgeguard-Route", "admin"},
             {"Tailscale-User", "root@example.test"},
             {"X-Edgeguard-Country", "GB"}};
  const auto r = call_once(port(), c);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.count("X-Edgeguard-Route"), 1);
  EXPECT_EQ(r.header("X-Edgeguard-Route"), "erp");
  EXPECT_FALSE(r.header("Tailscale-User").has_value());
  EXPECT_FALSE(r.header("X-Edgeguard-Country").has_value());
}

TEST_F(ServerTest, AbsurdInputIsRefusedAndNeverStopsTheServer) {
  start();
  const std::string ok = render(to_host("erp.example.test"));
  auto with = [&](const std::string& header_line) {
    std::string req = ok;
    req.insert(req.size() - 2, header_line + "\r\n");
    return req;
  };
  // Every case gets the one answer listed: a server that merely hangs up on absurd input (or
  // on valid input) fails here. After an error in the framing (the server cannot know where the
  // next request would start) it also closes.
  struct Case {
    const char* name;
    std::string bytes;
    int status;
    bool closes;
  };
  std::string many_xff = "198.51.100.1";
  for (int i = 2; i < 400; ++i) many_xff += ", 198.51.100." + std::to_string(i % 250);
  Call long_method = to_host("erp.example.test");
  long_method.method = std::string(300, 'P');
  std::string long_request_line = ok;
  long_request_line.replace(0, 3, std::string(300, 'P'));
  Call nul_uri = to_host("erp.example.test");
  nul_uri.uri = std::string("/a") + '\x01' + "b";
  Call bracketed = to_host("erp.example.test", "[2001:db8::1]:443");
  Call many = to_host("erp.example.test", many_xff);
  const Case cases[] = {
      {"TLS client hello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400,
       true},
      {"header without a colon", with("NoColonHere"), 400, true},
      {"NUL in a header value", with(std::string("X-Forwarded-Proto: ht\0tp", 24)), 400, true},
      {"huge Content-Length", with("Content-Length: 99999999999999999999999"), 400, true},
      {"negative Content-Length", with("Content-Length: -5"), 400, true},
      {"two different Content-Lengths", with("Content-Length: 1\r\nContent-Length: 2"), 400, true},
      {"Content-Length and chunked", with("Content-Length: 5\r\nTransfer-Encoding: chunked"), 400,
       true},
      {"unknown transfer coding", with("Transfer-Encoding: gzip"), 400, true},
      {"bad chunk size", with("Transfer-Encoding: chunked") + "zz\r\n", 400, true},
      // RFC 9112 5.2 lets a server unfold it instead of refusing: the parser does.
      {"obs-fold", with("X-Forwarded-Proto: https\r\n  folded"), 200, false},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, true},
      {"HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", 400, true},
      // The request line's method is Traefik's (always GET) and decides nothing; a 300-byte
      // token is still a token. The client's method is X-Forwarded-Method's, checked below.
      {"very long method on the request line", long_request_line, 200, false},
      {"very long X-Forwarded-Method", render(long_method), 400, false},
      // A control byte is not allowed in any field value (RFC 9110 5.5): the HTTP layer refuses.
      {"control byte in the uri", render(nul_uri), 400, true},
      {"XFF with brackets and port", render(bracketed), 200, false},
      {"XFF with 400 entries", render(many), 200, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Conn conn(port());
    ASSERT_TRUE(conn.ok());
    conn.send(c.bytes);
    const auto r = conn.read_response(5000ms);
    EXPECT_EQ(r.status, c.status) << r.body;
    if (c.closes) {
      EXPECT_TRUE(conn.wait_closed(5000ms)) << "still open after a framing error";
    } else {
      EXPECT_TRUE(conn.stays_open(100ms)) << "closed after an answer that ends no framing";
    }
    EXPECT_TRUE(server_->running());
    EXPECT_EQ(call_once(port(), to_host("erp.example.test")).status, 200);
  }
}

// ---- timeouts and limits -----------------------------------------------------------------

TEST_F(ServerTest, SlowLorisIsCutOffAfterTheHeaderTimeout) {
  start(config("server: {header_timeout: 300ms}\n"));  // idle_timeout stays at 60 s
  Conn partial(port());
  ASSERT_TRUE(partial.send("GET /auth HTTP/1.1\r\nX-Forwarded-Host: erp.example.test\r\n"));
  Conn trickle(port());
  ASSERT_TRUE(trickle.send("G"));
  const auto start_time = Clock::now();
  // A client that trickles a byte at a time is cut off as well, however steadily it sends.
  std::thread dripper([&] {
    const std::string rest = "ET /auth HTTP/1.1\r\nX-Padding: " + std::string(200, 'p');
    for (char ch : rest) {
      if (!trickle.send(std::string(1, ch))) return;
      if (Clock::now() - start_time > 6s) return;
      ::usleep(50'000);
    }
  });
  // Others are served meanwhile (one thread: the event loop is not blocked by them).
  EXPECT_EQ(call_once(port(), to_host("erp.example.test")).status, 200);
  EXPECT_TRUE(partial.wait_closed(5000ms)) << "partial header block still open";
  EXPECT_TRUE(eventually([&] { return trickle.wait_closed(50ms); }, 5000ms))
      << "trickling client still open";
  dripper.join();
  EXPECT_EQ(call_once(port(), to_host("erp.example.test")).status, 200);
}

// A keep-alive connection waits for its next request under the idle timeout, with its timer set
// for it; once a request starts, the header timeout applies, whichever is earlier. A new
// connection's timer starts at the header deadline, so this is the one case where a timer set
// for the idle deadline has to be brought forward.
TEST_F(ServerTest, AKeepAliveConnectionThatStartsASlowRequestGetsTheHeaderTimeout) {
  start(config("server: {header_timeout: 300ms}\n"));  // idle_timeout stays at 60 s
  Conn c(port());
  ASSERT_TRUE(c.send(render(to_host("erp.example.test"))));
  ASSERT_EQ(c.read_response().status, 200);
  // Waiting between requests: the idle timeout, not the header one.
  EXPECT_TRUE(c.stays_open(600ms));
  ASSERT_TRUE(c.send("GET /auth HTTP/1.1\r\nX-Forwarded-Host: erp.example.test\r\n"));
  const auto sent = Clock::now();
  EXPECT_TRUE(c.wait_closed(5000ms)) << "a slow request on a kept connection got the idle timeout";
  EXPECT_GE(Clock::now() - sent, 250ms);
}

// A partial header waits for its end in a small buffer (session.h), but bytes the parser already
// refuses are answered at once, as they were when every connection had its full buffers: a TLS
// client or a broken request line learns why now, not at the header timeout.
TEST_F(ServerTest, RefusedFirstBytesAreAnsweredAtOnceNotAtTheHeaderTimeout) {
  start(config("server: {header_timeout: 60s}\n"));
  const std::pair<const char*, std::string> cases[] = {
      {"TLS client hello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)},
      {"HTTP/3.0", "GET /auth HTTP/3.0\r\nHost: edgeguard.internal\r\n"},
      {"header without a colon", "GET /auth HTTP/1.1\r\nNoColonHere\r\nX-Forwarded-"},
  };
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    Conn c(port());
    ASSERT_TRUE(c.send(bytes));
    EXPECT_EQ(c.read_response(5000ms).status, 400);
  }
  // A valid partial header is left to finish within the header timeout.
  Conn partial(port());
  ASSERT_TRUE(partial.send("GET /auth HTTP/1.1\r\nX-Forwarded-Host: erp.example.test\r\n"));
  EXPECT_TRUE(partial.stays_open(300ms));
  ASSERT_TRUE(partial.send(
      "X-Forwarded-Method: GET\r\nX-Forwarded-Uri: /\r\nX-Forwarded-For: 198.51.100.10\r\n\r\n"));
  EXPECT_EQ(partial.read_response().status, 200);
}

TEST_F(ServerTest, SlowBodyIsCutOffLikeSlowHeaders) {
  // The header block is complete, but the declared body drips in: the request as a whole must
  // arrive within header_timeout, or one client could hold a connection for ever.
  start(config("server: {header_timeout: 300ms}\n"));
  Conn slow(port());
  std::string req = render(to_host("erp.example.test"));
  req.insert(req.size() - 2, "Content-Length: 1000\r\n");
  ASSERT_TRUE(slow.send(req + "x"));
  const auto start_time = Clock::now();
  std::thread dripper([&] {
    while (Clock::now() - start_time < 6s && slow.send("x")) ::usleep(50'000);
  });
  EXPECT_EQ(call_once(port(), to_host("erp.example.test")).status, 200);
  EXPECT_TRUE(eventually([&] { return slow.wait_closed(50ms); }, 5000ms))
      << "a client sending its body a byte at a time is still connected";
  dripper.join();
}

TEST_F(ServerTest, IdleKeepAliveConnectionsAreClosedAfterTheIdleTimeout) {
  start(config("server: {idle_timeout: 400ms}\n"));
  Conn c(port());
  ASSERT_TRUE(c.send(render(to_host("erp.example.test"))));
  ASSERT_EQ(c.read_response().status, 200);
  EXPECT_TRUE(c.wait_closed(5000ms));
  // A connection that never sends anything is dropped too.
  Conn silent(port());
  EXPECT_TRUE(silent.wait_closed(5000ms));
  EXPECT_EQ(call_once(port(), to_host("erp.example.test")).status, 200);
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreClosedAndCounted) {
  // One loop: the limit is shared out among the loops, and the kernel spreads connections over
  // them by hash, so with several the 9th connection may still find room.
  start(config("server: {max_connections: 8}\n", "{rate_limited: 429, forbidden: 403}",
               "[127.0.0.0/8]", 1));
  std::vector<Conn> held;
  for (int i = 0; i < 8; ++i) {
    held.emplace_back(port());
    ASSERT_TRUE(held.back().send(render(to_host("erp.example.test"))));
    ASSERT_EQ(held.back().read_response().status, 200) << i;  // accepted and served
  }
  for (int i = 0; i < 3; ++i) {
    Conn extra(port());
    ASSERT_TRUE(extra.ok());
    extra.send(render(to_host("erp.example.test")));
    EXPECT_TRUE(extra.wait_closed(5000ms)) << "extra connection " << i << " not closed";
  }
  for (auto& c : held) {
    ASSERT_TRUE(c.send(render(to_host("erp.example.test"))));
    EXPECT_EQ(c.read_response().status, 200);
  }
  EXPECT_TRUE(eventually([&] {
    return server_->metric("edgeguard_connections_rejected_total") == 3.0;
  })) << server_->admin_get("/metrics");
  // A freed slot is usable again.
  held.pop_back();
  EXPECT_TRUE(
      eventually([&] { return call_once(port(), to_host("erp.example.test")).status == 200; }));
}

TEST_F(ServerTest, ABacklogOfConnectionsIsAcceptedInOneTurnWithinTheLimit) {
  // The loop drains the listener's backlog in one turn. Stopped, the server lets connections
  // (and their requests) queue up in the kernel; woken, it finds them all at once: the first 8
  // are served and stay open, the 3 beyond the limit are closed, and a connection that comes
  // after the drain emptied the backlog is still accepted (its readiness is not lost).
  start(config("server: {max_connections: 8}\n", "{rate_limited: 429, forbidden: 403}",
               "[127.0.0.0/8]", 1));
  server_->signal(SIGSTOP);
  std::vector<Conn> held;
  for (int i = 0; i < 8; ++i) {
    held.emplace_back(port());
    ASSERT_TRUE(held.back().send(render(to_host("erp.example.test")))) << i;
  }
  std::vector<Conn> extra;
  for (int i = 0; i < 3; ++i) {
    extra.emplace_back(port());
    ASSERT_TRUE(extra.back().send(render(to_host("erp.example.test")))) << i;
  }
  server_->signal(SIGCONT);
  for (std::size_t i = 0; i < held.size(); ++i) {
    EXPECT_EQ(held[i].read_response().status, 200) << "held connection " << i;
  }
  for (std::size_t i = 0; i < extra.size(); ++i) {
    EXPECT_TRUE(extra[i].wait_closed(5000ms)) << "extra connection " << i << " not closed";
  }
  EXPECT_TRUE(eventually([&] {
    return server_->metric("edgeguard_connections_rejected_total") == 3.0;
  })) << server_->admin_get("/metrics");

  held.pop_back();  // a slot frees up
  ASSERT_TRUE(eventually([&] { return server_->metric("edgeguard_open_connections") == 7.0; }))
      << server_->admin_get("/metrics");
  Conn late(port());  // one connection, one try: a lost readiness would leave it unanswered
  ASSERT_TRUE(late.send(render(to_host("erp.example.test"))));
  EXPECT_EQ(late.read_response().status, 200);
}

TEST_F(ServerTest, ABacklogLargerThanOneTurnTakesIsServedWhole) {
  // One turn accepts a bounded number of connections; the rest of the backlog, whose readiness
  // the loop has already seen, must be taken in the next turns without a new connection coming.
  start(config("", "{rate_limited: 429, forbidden: 403}", "[127.0.0.0/8]", 1));
  server_->signal(SIGSTOP);
  Call call = to_host("erp.example.test");
  call.extra = {{"Connection", "close"}};
  std::vector<Conn> queued;
  for (int i = 0; i < 40; ++i) {
    queued.emplace_back(port());
    ASSERT_TRUE(queued.back().send(render(call))) << i;
  }
  server_->signal(SIGCONT);
  for (std::size_t i = 0; i < queued.size(); ++i) {
    EXPECT_EQ(queued[i].read_response().status, 200) << "connection " << i;
  }
}

// ---- drain -------------------------------------------------------------------------------

TEST_F(ServerTest, SigtermAnswersTheInFlightRequestAndExitsCleanly) {
  // One loop: the test knows the server has read a connection's bytes, and that draining has
  // begun, only through another connection served by the same loop.
  start(config("", "{rate_limited: 429, forbidden: 403}", "[127.0.0.0/8]", 1));
  Conn idle(port());
  ASSERT_TRUE(idle.send(render(to_host("erp.example.test"))));
  ASSERT_EQ(idle.read_response().status, 200);
  // In flight: half a request is buffered when the signal arrives.
  Conn busy(port());
  const std::string req = render(to_host("erp.example.test"));
  const std::size_t half = req.size() / 2;
  ASSERT_TRUE(busy.send(req.substr(0, half)));
  // In flight too: the whole header block and half the declared body.
  Conn mid_body(port());
  std::string with_body = render(to_host("erp.example.test"));
  with_body.insert(with_body.size() - 2, "Content-Length: 10\r\n");
  ASSERT_TRUE(mid_body.send(with_body + "01234"));
  // The session has the bytes once the server no longer treats it as idle; there is no
  // external signal for that, so make sure by round-tripping another connection first.
  ASSERT_EQ(call_once(port(), to_host("erp.example.test")).status, 200);

  const auto signalled = Clock::now();
  int exit_code = -2;
  std::thread waiter([&] { exit_code = server_->terminate_and_wait(8000ms); });
  // Draining has begun when the idle connection is closed.
  EXPECT_TRUE(idle.wait_closed(5000ms)) << "idle keep-alive connection not closed on SIGTERM";
  ASSERT_TRUE(busy.send(req.substr(half)));
  const auto r = busy.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(busy.wait_closed(5000ms));
  ASSERT_TRUE(mid_body.send("56789"));
  const auto r2 = mid_body.read_response();
  EXPECT_EQ(r2.status, 200) << "a request whose body was arriving was dropped by the drain";
  EXPECT_EQ(r2.header("Connection"), "close");
  EXPECT_TRUE(mid_body.wait_closed(5000ms));
  // No new connection is taken once draining.
  EXPECT_FALSE(Conn(port()).ok());
  waiter.join();
  EXPECT_EQ(exit_code, 0);
  EXPECT_LT(Clock::now() - signalled, 8s);
  const auto out = server_->stdout_text();
  EXPECT_NE(out.find("\"event\":\"draining\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"event\":\"stopped\""), std::string::npos) << out;
}

TEST_F(ServerTest, SigtermWithSeveralLoopsClosesEveryIdleConnectionAndExits) {
  // Every loop drains: keep-alive connections spread over four loops by the kernel are all
  // closed, none is left waiting for the drain timeout, and the process exits cleanly.
  start(config("", "{rate_limited: 429, forbidden: 403}", "[127.0.0.0/8]", 4));
  std::vector<Conn> idle;
  for (int i = 0; i < 16; ++i) {
    idle.emplace_back(port());
    ASSERT_TRUE(idle.back().send(render(to_host("erp.example.test"))));
    ASSERT_EQ(idle.back().read_response().status, 200) << i;
  }
  int exit_code = -2;
  std::thread waiter([&] { exit_code = server_->terminate_and_wait(8000ms); });
  for (std::size_t i = 0; i < idle.size(); ++i) {
    EXPECT_TRUE(idle[i].wait_closed(5000ms)) << "connection " << i << " not closed on SIGTERM";
  }
  waiter.join();
  EXPECT_EQ(exit_code, 0);
  EXPECT_NE(server_->stdout_text().find("\"event\":\"stopped\""), std::string::npos);
}

}  // namespace
}  // namespace edgeguard::testing
