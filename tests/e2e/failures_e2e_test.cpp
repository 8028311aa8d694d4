// Failures that count (SPEC section 9, issue 13), through the binary: the webhook Authentik's
// notification transport calls (its own token, strict bodies, batches, a success that resets an
// account), the failure limits it charges and the bans they end in (an account attacked from
// many addresses; one address), and Traefik's access log followed across rotations.
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"

namespace edgeguard::testing {
namespace {

constexpr const char* kToken = "webhook-0123456789abcdef0123456789";

const char* kPolicy = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
callers: [127.0.0.0/8]
failures:
  webhook: {token_file: webhook-token}
  access_log: {file: access.log, status: [401, 403]}
routes:
  - name: authentik-login
    hosts: [auth.example.net]
    username: {field: uid_field}
    failure_limits:
      - {name: user, average: 5, period: 15m, burst: 5, key: username, ban: {for: 30m}}
      - {name: ip, average: 3, period: 1h, burst: 3, key: client_ip, ban: {for: 1h}}
  - name: erp
    hosts: [erp.example.net]
    failure_limits:
      - {name: ip, average: 3, period: 1h, burst: 3, key: client_ip, ban: {for: 10m}}
  - name: plain
    hosts: [plain.example.net]
default: allow
)";

class FailuresE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("webhook-token", std::string(kToken) + "\n");
    dir_.write("access.log", "");
    server_ = std::make_unique<Server>(dir_, kPolicy);
    ASSERT_TRUE(server_->started()) << server_->stderr_text() << server_->stdout_text();
  }

  HttpResponse webhook(const std::string& body, const std::string& token = kToken) {
    Conn c(server_->admin_port());
    std::string req = "POST /v1/failures HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n";
    if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
    EXPECT_TRUE(c.ok() && c.send(req));
    return c.read_response();
  }
  // A login attempt as Traefik forwards it (forwardBody), the account in Authentik's field.
  HttpResponse login(const std::string& ip, const std::string& user) {
    const std::string body =
        R"({"component":"ak-stage-identification","uid_field":")" + user + "\"}";
    Conn c(server_->port());
    EXPECT_TRUE(c.ok() &&
                c.send("GET / HTTP/1.1\r\nHost: edgeguard\r\nX-Forwarded-Method: POST\r\n"
                       "X-Forwarded-Host: auth.example.net\r\nX-Forwarded-Uri: /api/v3/flows/"
                       "executor/default-authentication-flow/\r\nX-Forwarded-For: " +
                       ip + "\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body));
    return c.read_response();
  }
  HttpResponse ask(const std::string& host, const std::string& ip) {
    return call_once(server_->port(), call_from(host, ip));
  }
  double failures(const std::string& route, const std::string& source) {
    return server_
        ->metric("edgeguard_failures_total{route=\"" + route + "\",source=\"" + source + "\"}")
        .value_or(0);
  }
  // Appends lines as Traefik does: one write(2) each, on a file opened for appending.
  void append(const std::string& file, const std::string& lines) {
    std::ofstream out(dir_.file(file), std::ios::app | std::ios::binary);
    out << lines;
  }
  static std::string line(const std::string& ip, const std::string& host, int status) {
    return R"({"ClientAddr":")" + ip + R"(:40000","ClientHost":")" + ip +
           R"(","DownstreamStatus":)" + std::to_string(status) + R"(,"RequestHost":")" + host +
           R"(","RequestMethod":"POST","RequestPath":"/api/method/login","RouterName":"erp@docker",)"
           R"("StartUTC":"2026-11-30T10:00:00Z"})"
           "\n";
  }

  ScratchDir dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(FailuresE2e, TheWebhookNeedsItsOwnToken) {
  const std::string body = R"({"route":"authentik-login","username":"mallory"})";
  for (const std::string& token : {std::string(), std::string("wrong-0123456789abcdef0123")}) {
    const HttpResponse r = webhook(body, token);
    EXPECT_EQ(r.status, 401) << token;
    EXPECT_TRUE(r.header("WWW-Authenticate").has_value());
    EXPECT_EQ(r.body.find(kToken), std::string::npos);
  }
  EXPECT_EQ(webhook(body).status, 202);
  EXPECT_EQ(failures("authentik-login", "webhook"), 1);
}

TEST_F(FailuresE2e, ABadBodyIsRefusedNamingTheFieldAndNothingIsApplied) {
  struct Case {
    std::string body;
    std::string field;
  };
  const Case cases[] = {
      {"not json", ""},
      {R"({"route":"authentik-login","username":"a","password":"x"})", "password"},
      {R"({"route":"nowhere","username":"a"})", "route"},
      {R"({"route":"plain","username":"a"})", "route"},
      {R"({"username":"a"})", "route"},
      {R"({"route":"authentik-login"})", ""},
      {R"({"route":"authentik-login","client_ip":"300.1.1.1"})", "client_ip"},
      {R"({"route":"authentik-login","username":"a","event":"logout"})", "event"},
      {R"({"route":"authentik-login","username":7})", "username"},
      {R"({"route":"authentik-login","event":"login","client_ip":"192.0.2.1"})", "username"},
      {R"([{"route":"authentik-login","username":"a"},{"route":"erp","client_ip":"x"}])",
       "[1].client_ip"},
      {"[]", ""},
  };
  for (const Case& c : cases) {
    const HttpResponse r = webhook(c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    if (c.field.empty()) {  // the body as a whole: no field is named
      EXPECT_EQ(r.body.find("\"field\""), std::string::npos) << c.body << " -> " << r.body;
    } else {
      EXPECT_NE(r.body.find("\"field\":\"" + c.field + "\""), std::string::npos)
          << c.body << " -> " << r.body;
    }
  }
  EXPECT_EQ(failures("authentik-login", "webhook"), 0);  // not even the batch's good first one
  const HttpResponse too_big = webhook(std::string(70 * 1024, ' '));
  EXPECT_EQ(too_big.status, 413);
}

TEST_F(FailuresE2e, AnAccountAttackedFromManyAddressesIsBannedFromAnyAddress) {
  EXPECT_EQ(login("198.51.100.1", "alice").status, 200);
  for (int i = 1; i <= 5; ++i) {
    const HttpResponse r =
        webhook(R"({"route":"authentik-login","username":"Alice","client_ip":")" +
                std::string("198.51.100.") + std::to_string(i) + R"(","event":"login_failed"})");
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(r.body, R"({"applied":1})");
    // The fifth failure empties the account's bucket (burst 5) and bans it; no address was seen
    // more than once, so no address is banned.
    if (i < 5) {
      EXPECT_EQ(login("203.0.113.77", "alice").status, 200) << i;
    }
  }
  const HttpResponse banned = login("203.0.113.77", "alice");
  EXPECT_EQ(banned.status, 403);
  EXPECT_EQ(reason_of(banned), "ban");
  EXPECT_EQ(banned.header("Retry-After"), "1800");
  EXPECT_EQ(login("198.51.100.1", "bob").status, 200);  // other accounts, same addresses
  EXPECT_EQ(server_->metric(R"(edgeguard_bans_total{route="authentik-login",source="failure"})"),
            1);
  EXPECT_EQ(failures("authentik-login", "webhook"), 5);
}

TEST_F(FailuresE2e, AnAddressThatFailsTooOftenIsBanned) {
  const std::string batch = R"([{"route":"authentik-login","client_ip":"198.51.100.50"},)"
                            R"({"route":"authentik-login","client_ip":"198.51.100.50"},)"
                            R"({"route":"authentik-login","client_ip":"198.51.100.50"}])";
  const HttpResponse r = webhook(batch);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"applied":3})");
  EXPECT_EQ(reason_of(login("198.51.100.50", "anyone")), "ban");
  EXPECT_EQ(login("198.51.100.51", "anyone").status, 200);
}

TEST_F(FailuresE2e, ALoginThatWorksForgetsTheAccountsFailures) {
  auto fail = [&](const std::string& user) {
    ASSERT_EQ(webhook(R"({"route":"authentik-login","username":")" + user + "\"}").status, 202);
  };
  for (int i = 0; i < 4; ++i) fail("carol");
  ASSERT_EQ(webhook(R"({"route":"authentik-login","username":"carol","event":"login"})").status,
            202);
  for (int i = 0; i < 4; ++i) fail("carol");  // four again: a fresh bucket holds five
  EXPECT_EQ(login("198.51.100.60", "carol").status, 200);
  fail("carol");  // the fifth in a row
  EXPECT_EQ(reason_of(login("198.51.100.60", "carol")), "ban");
}

TEST_F(FailuresE2e, TheAccessLogCountsFailuresAcrossRotations) {
  // Lines the follower reads: two 401s, a 200 (not a failure), then a rename rotation (logrotate's
  // default) with one more 401 written to the old file after the rename and one to the new file.
  append("access.log", line("203.0.113.9", "erp.example.net", 401));
  append("access.log", line("203.0.113.9", "erp.example.net", 200));
  ASSERT_TRUE(eventually([&] { return failures("erp", "access_log") == 1; }));
  std::filesystem::rename(dir_.file("access.log"), dir_.file("access.log.1"));
  append("access.log.1", line("203.0.113.9", "erp.example.net", 401));
  EXPECT_EQ(ask("erp.example.net", "203.0.113.9").status, 200);
  append("access.log", line("203.0.113.9", "erp.example.net", 403));
  ASSERT_TRUE(eventually([&] { return failures("erp", "access_log") == 3; }))
      << server_->stdout_text();
  const HttpResponse banned = ask("erp.example.net", "203.0.113.9");
  EXPECT_EQ(banned.status, 403);
  EXPECT_EQ(reason_of(banned), "ban");
  EXPECT_EQ(banned.header("Retry-After"), "600");

  // copytruncate: the file cut in place, then written again; nothing read twice or lost.
  append("access.log", line("203.0.113.10", "erp.example.net", 401));
  ASSERT_TRUE(eventually([&] { return failures("erp", "access_log") == 4; }));
  std::filesystem::resize_file(dir_.file("access.log"), 0);
  append("access.log", line("203.0.113.10", "erp.example.net", 401));
  append("access.log", line("203.0.113.11", "plain.example.net", 401));  // no failure limits
  ASSERT_TRUE(eventually([&] { return failures("erp", "access_log") == 5; }));
  EXPECT_EQ(ask("erp.example.net", "203.0.113.10").status, 200);  // two of its three
  EXPECT_EQ(server_->metric(R"(edgeguard_access_log_rotations_total{how="rename"})"), 1);
  EXPECT_EQ(server_->metric(R"(edgeguard_access_log_rotations_total{how="truncate"})"), 1);
}

}  // namespace
}  // namespace edgeguard::testing
