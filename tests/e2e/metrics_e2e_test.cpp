// /metrics as an operator reads it: the names exposed are exactly those deploy/metrics.txt lists
// (which the dashboard and alert rules are checked against), in local and Redis mode together,
// and the values count what happened.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

// The families of a /metrics body, by their `# TYPE` lines.
std::set<std::string> families(const std::string& body) {
  std::set<std::string> names;
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("# TYPE ")) continue;
    std::istringstream words(line.substr(7));
    std::string name;
    words >> name;
    names.insert(name);
  }
  return names;
}

std::set<std::string> listed() {
  std::ifstream in(std::string(EDGEGUARD_SOURCE_DIR) + "/deploy/metrics.txt");
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() == '#') continue;
    names.insert(line);
  }
  return names;
}

constexpr const char* kLocal = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 2
callers: [127.0.0.0/8]
server: {max_header_bytes: 1024}
routes:
  - name: login
    hosts: [auth.example.net]
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 10, key: client_ip}
default: deny
)";

TEST(MetricsE2e, ExposedNamesAreExactlyTheListedOnes) {
  ScratchDir dir;
  Server local(dir, kLocal);
  ASSERT_TRUE(local.started()) << local.stderr_text();
  TempDir redis_dir;
  RedisServer redis(redis_dir.path());
  ASSERT_TRUE(redis.running());
  ScratchDir redis_scratch;
  std::string yaml = kLocal;
  yaml += "store: {type: redis, redis: {address: " + redis.address() + "}}\n";
  Server shared(redis_scratch, yaml);
  ASSERT_TRUE(shared.started()) << shared.stderr_text();

  std::set<std::string> exposed = families(local.admin_get("/metrics"));
  for (const auto& n : families(shared.admin_get("/metrics"))) exposed.insert(n);
  const std::set<std::string> list = listed();
  for (const auto& n : exposed) EXPECT_TRUE(list.count(n)) << n << " is exposed but not listed";
  for (const auto& n : list) EXPECT_TRUE(exposed.count(n)) << n << " is listed but not exposed";
}

TEST(MetricsE2e, ValuesCountWhatHappened) {
  ScratchDir dir;
  Server server(dir, kLocal);
  ASSERT_TRUE(server.started()) << server.stderr_text();
  const int port = server.port();
  // 12 logins from one address: burst 10 admits 10 (the last two with at most 10/5 = 2 tokens
  // left after them count as near: remaining 1 and 0, and remaining 2 as well), 2 denied.
  for (int i = 0; i < 12; ++i) {
    ASSERT_NE(call_once(port, call_from("auth.example.net", "198.51.100.7")).status, 0);
  }
  // 3 calls to no route (default deny), 2 without X-Forwarded-Host (400), 1 oversized (431).
  for (int i = 0; i < 3; ++i) call_once(port, call_from("other.example.net", "198.51.100.8"));
  for (int i = 0; i < 2; ++i) {
    Call c = call_from("auth.example.net", "198.51.100.9");
    c.include_host = false;
    EXPECT_EQ(call_once(port, c).status, 400);
  }
  Call big = call_from("auth.example.net", "198.51.100.9");
  big.extra.push_back({"X-Padding", std::string(2000, 'a')});
  EXPECT_EQ(call_once(port, big).status, 431);

  auto value = [&](const std::string& series) { return server.metric(series).value_or(-1); };
  EXPECT_EQ(value(R"(edgeguard_decisions_total{route="login",verdict="allow",reason="none"})"), 10);
  EXPECT_EQ(value(R"(edgeguard_decisions_total{route="login",verdict="deny",reason="rate_limit"})"),
            2);
  EXPECT_EQ(value(R"(edgeguard_decisions_total{route="default",verdict="deny",reason="default"})"),
            3);
  // Admitted with remaining 2, 1 and 0 of a burst of 10: 2 * 5 <= 10.
  EXPECT_EQ(value(R"(edgeguard_limit_near_total{route="login",limit="per-ip"})"), 3);
  EXPECT_EQ(value(R"(edgeguard_bad_requests_total{status="400"})"), 2);
  EXPECT_EQ(value(R"(edgeguard_bad_requests_total{status="431"})"), 1);
  EXPECT_EQ(value("edgeguard_decision_seconds_count"), 15);  // every decision, not 400/431
  EXPECT_EQ(value("edgeguard_local_buckets"), 1);
  EXPECT_EQ(value("edgeguard_open_connections"), 0);
}

}  // namespace
}  // namespace edgeguard::testing
