// Bans through the binary, local mode (SPEC section 9, issue 12): a limit that bans turns its
// denial into a timed ban (403 reason ban, exact Retry-After, an `until`), refused before every
// other rule on its route or on every route, escalated on a repeat offence up to the cap; an
// exempt client is never banned and a shadow route bans nobody.
#include <boost/json.hpp>

#include <signal.h>

#include <chrono>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "guard/accesslog/access_log.h"
#include "tests/e2e/e2e_support.h"

namespace edgeguard::testing {
namespace {

namespace json = boost::json;

const char* kPolicy = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
callers: [127.0.0.0/8]
ip_sets: {office: [203.0.113.0/24]}
bans: {exempt: [office], escalation: {factor: 2, max: 1h, memory: 1h}}
routes:
  - name: login
    hosts: [auth.example.net]
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 3, key: client_ip, ban: {for: 2m}}
  - name: api
    hosts: [api.example.net]
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 2, key: client_ip, ban: {for: 1m, scope: all}}
  - name: quick
    hosts: [quick.example.net]
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 1, key: client_ip, ban: {for: 1m}}
  - name: other
    hosts: [other.example.net]
  - name: trial
    hosts: [trial.example.net]
    mode: shadow
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 1, key: client_ip, ban: {for: 1m}}
default: allow
)";

json::object body_of(const HttpResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  return ec || !v.is_object() ? json::object{} : v.as_object();
}

std::int64_t now_unix_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The `ban` log lines the server wrote, as JSON objects.
std::vector<json::object> ban_lines(const Server& server) {
  std::vector<json::object> out;
  std::istringstream lines(server.stdout_text());
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (!ec && v.is_object() && v.as_object().contains("event") &&
        v.as_object().at("event").as_string() == "ban") {
      out.push_back(v.as_object());
    }
  }
  return out;
}

class BansE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(dir_, kPolicy);
    ASSERT_TRUE(server_->started()) << server_->stderr_text();
  }
  HttpResponse ask(const std::string& host, const std::string& ip) {
    return call_once(server_->port(), call_from(host, ip));
  }
  double metric(const std::string& series) { return server_->metric(series).value_or(-1); }

  ScratchDir dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(BansE2e, TheDenialThatExhaustsTheLimitBansForTheConfiguredTime) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ask("auth.example.net", "198.51.100.1").status, 200);
  const std::int64_t before = now_unix_s();
  const HttpResponse banned = ask("auth.example.net", "198.51.100.1");
  EXPECT_EQ(banned.status, 403);
  EXPECT_EQ(reason_of(banned), "ban");
  EXPECT_EQ(banned.header("Retry-After"), "120");
  const json::object body = body_of(banned);
  ASSERT_TRUE(body.contains("until")) << banned.body;
  const auto until = parse_rfc3339_ns(std::string(body.at("until").as_string()));
  ASSERT_TRUE(until);
  EXPECT_GE(*until / 1'000'000'000, before + 119);
  EXPECT_LE(*until / 1'000'000'000, now_unix_s() + 120);
  EXPECT_EQ(body.at("limit").as_string(), "per-ip");

  // Every later request of that address on the route is refused as banned, and only there.
  const HttpResponse again = ask("auth.example.net", "198.51.100.1");
  EXPECT_EQ(again.status, 403);
  EXPECT_EQ(reason_of(again), "ban");
  EXPECT_LE(std::stoi(again.header("Retry-After").value_or("0")), 120);
  EXPECT_EQ(ask("other.example.net", "198.51.100.1").status, 200);
  EXPECT_EQ(ask("auth.example.net", "198.51.100.2").status, 200);

  ASSERT_TRUE(eventually([&] { return ban_lines(*server_).size() == 1; }))
      << server_->stdout_text();
  const json::object line = ban_lines(*server_)[0];
  EXPECT_EQ(line.at("subject").as_string(), "ip:198.51.100.1");
  EXPECT_EQ(line.at("route").as_string(), "login");
  EXPECT_EQ(line.at("count").as_int64(), 1);
  EXPECT_EQ(line.at("seconds").as_int64(), 120);
  EXPECT_EQ(line.at("reason").as_string(), "per-ip");
  EXPECT_EQ(metric("edgeguard_bans_active"), 1);
  EXPECT_EQ(metric(R"(edgeguard_bans_total{route="login",source="limit"})"), 1);
  EXPECT_EQ(metric(R"(edgeguard_decisions_total{route="login",verdict="deny",reason="ban"})"), 2);
}

TEST(BansEscalationE2e, ARepeatOffenceEscalatesByTheFactorUpToTheCap) {
  ScratchDir dir;
  Server server(dir, R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
callers: [127.0.0.0/8]
bans: {escalation: {factor: 2, max: 3s, memory: 1h}}
routes:
  - name: quick
    hosts: [quick.example.net]
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 1, key: client_ip, ban: {for: 1s}}
)");
  ASSERT_TRUE(server.started()) << server.stderr_text();
  auto ask = [&](const std::string& host, const std::string& ip) {
    return call_once(server.port(), call_from(host, ip));
  };
  EXPECT_EQ(ask("quick.example.net", "198.51.100.3").status, 200);
  // 1s, then 2s, then 4s capped at 3s, then 3s: each ban starts when the last has ended and
  // the bucket (1 per hour) is still empty, so the next request exhausts it again.
  const std::int64_t expected[] = {1, 2, 3, 3};
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    HttpResponse r;
    ASSERT_TRUE(eventually(
        [&] {
          r = ask("quick.example.net", "198.51.100.3");
          return ban_lines(server).size() == i + 1;
        },
        6000ms))
        << "no ban number " << i + 1 << "; last answer " << r.status << " " << r.body;
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(reason_of(r), "ban");
    EXPECT_EQ(r.header("Retry-After"), std::to_string(expected[i]));  // the request that banned
    const json::object line = ban_lines(server)[i];
    EXPECT_EQ(line.at("count").as_int64(), static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(line.at("seconds").as_int64(), expected[i]);
  }
}

TEST_F(BansE2e, AnExemptClientIsRateLimitedButNeverBanned) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ask("auth.example.net", "203.0.113.5").status, 200);
  for (int i = 0; i < 3; ++i) {
    const HttpResponse r = ask("auth.example.net", "203.0.113.5");
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(reason_of(r), "rate_limit");
  }
  EXPECT_EQ(metric("edgeguard_bans_active"), 0);
  EXPECT_TRUE(ban_lines(*server_).empty());
}

TEST_F(BansE2e, ScopeAllBansOnEveryRoute) {
  for (int i = 0; i < 2; ++i) EXPECT_EQ(ask("api.example.net", "198.51.100.4").status, 200);
  const HttpResponse r = ask("api.example.net", "198.51.100.4");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.header("Retry-After"), "60");
  for (const char* host : {"auth.example.net", "other.example.net", "quick.example.net"}) {
    const HttpResponse elsewhere = ask(host, "198.51.100.4");
    EXPECT_EQ(elsewhere.status, 403) << host;
    EXPECT_EQ(reason_of(elsewhere), "ban") << host;
  }
  EXPECT_EQ(ask("other.example.net", "198.51.100.5").status, 200);
  ASSERT_TRUE(eventually([&] { return ban_lines(*server_).size() == 1; }));
  EXPECT_EQ(ban_lines(*server_)[0].at("route").as_string(), "*");
}

TEST_F(BansE2e, AShadowRouteRecordsTheWouldBeBanAndBansNobody) {
  EXPECT_EQ(ask("trial.example.net", "198.51.100.6").status, 200);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ask("trial.example.net", "198.51.100.6").status, 200);
  EXPECT_EQ(
      metric(R"(edgeguard_decisions_total{route="trial",verdict="shadow_deny",reason="ban"})"), 3);
  EXPECT_EQ(metric("edgeguard_bans_active"), 0);
  EXPECT_TRUE(ban_lines(*server_).empty());
}

TEST_F(BansE2e, BansSurviveAReload) {
  for (int i = 0; i < 4; ++i) ask("auth.example.net", "198.51.100.7");
  ASSERT_EQ(reason_of(ask("auth.example.net", "198.51.100.7")), "ban");
  std::string changed = kPolicy;
  changed += "# reloaded\n";
  dir_.write("edgeguard.yaml", changed);
  ::kill(server_->pid(), SIGHUP);
  ASSERT_TRUE(eventually(
      [&] { return metric(R"(edgeguard_config_reloads_total{result="success"})") >= 1; }));
  EXPECT_EQ(reason_of(ask("auth.example.net", "198.51.100.7")), "ban");
}

// The admin API's bans are the ones the request path enforces: a ban by hand refuses at once,
// escalates like any other, and an unban lets the next request through.
TEST_F(BansE2e, AManualBanIsEnforcedAndAnUnbanLiftsIt) {
  auto admin = [&](const std::string& method, const std::string& target,
                   const std::string& body = "") {
    Conn c(server_->admin_port());
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n";
    if (!body.empty()) {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    EXPECT_TRUE(c.ok() && c.send(req + "\r\n" + body));
    return c.read_response();
  };
  EXPECT_EQ(ask("other.example.net", "198.51.100.20").status, 200);
  const HttpResponse made =
      admin("POST", "/v1/bans", R"({"subject": "ip:198.51.100.20", "for": "10m", "route": "*"})");
  ASSERT_EQ(made.status, 201) << made.body;
  const HttpResponse refused = ask("other.example.net", "198.51.100.20");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(reason_of(refused), "ban");
  EXPECT_EQ(refused.header("Retry-After"), "600");
  EXPECT_EQ(reason_of(ask("auth.example.net", "198.51.100.20")), "ban");
  EXPECT_EQ(ask("other.example.net", "198.51.100.21").status, 200);
  const HttpResponse listed = admin("GET", "/v1/bans");
  EXPECT_NE(listed.body.find("\"ip:198.51.100.20\""), std::string::npos) << listed.body;
  EXPECT_EQ(metric(R"(edgeguard_bans_total{route="*",source="manual"})"), 1);

  const HttpResponse lifted = admin("DELETE", "/v1/bans/ip:198.51.100.20");
  EXPECT_EQ(lifted.status, 200) << lifted.body;
  EXPECT_EQ(ask("other.example.net", "198.51.100.20").status, 200);
  EXPECT_EQ(admin("DELETE", "/v1/bans/ip:198.51.100.20").status, 404);
  EXPECT_EQ(metric("edgeguard_bans_active"), 0);
  ASSERT_TRUE(eventually(
      [&] { return server_->stdout_text().find("\"event\":\"unban\"") != std::string::npos; }));
}

}  // namespace
}  // namespace edgeguard::testing
