// config/lockout.yaml, the lockout example users copy, served as shipped (only its listeners
// moved to free ports and its access log into the scratch directory): an account tried from
// many addresses is limited, an account Authentik reports failing is locked out everywhere, and
// an address ERPNext answers 401 is banned from its login, as the comments in the file promise.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"

namespace edgeguard::testing {
namespace {

constexpr const char* kWebhookToken = "webhook-0123456789abcdef0123456789abcdef";

// Replaces `from` by `to` exactly once: the test must notice when the example changes shape.
void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << "config/lockout.yaml no longer has: " << from;
  text.replace(at, from.size(), to);
  ASSERT_EQ(text.find(from), std::string::npos) << "config/lockout.yaml has twice: " << from;
}

class LockoutExample : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(std::string(EDGEGUARD_SOURCE_DIR) + "/config/lockout.yaml");
    std::stringstream text;
    text << in.rdbuf();
    std::string yaml = text.str();
    replace_once(yaml, "listen: 127.0.0.1:8080", "listen: 127.0.0.1:0");
    replace_once(yaml, "admin_listen: 127.0.0.1:9090", "admin_listen: 127.0.0.1:0");
    replace_once(yaml, "/var/log/traefik/access.log", "access.log");
    if (HasFatalFailure()) return;
    std::filesystem::create_directories(dir_.file("secrets"));
    dir_.write("secrets/admin-token", "admin-0123456789abcdef0123456789abcdef\n");
    dir_.write("secrets/webhook-token", std::string(kWebhookToken) + "\n");
    dir_.write("access.log", "");
    server_ = std::make_unique<Server>(dir_, yaml);
    ASSERT_TRUE(server_->started()) << server_->stderr_text() << server_->stdout_text();
  }

  // Authentik's identification stage as Traefik's `edgeguard-login` middleware forwards it.
  HttpResponse identify(const std::string& ip, const std::string& user) {
    Call c = call_from("auth.securenexus.net", ip, "POST",
                       "/api/v3/flows/executor/default-authentication-flow/?query=");
    c.forward_body = true;
    c.extra.emplace_back("Content-Type", "application/json");
    c.body = R"({"component":"ak-stage-identification","uid_field":")" + user + "\"}";
    return call_once(server_->port(), c);
  }
  // What the README's Authentik webhook mapping posts for a login_failed event.
  int report_failed_login(const std::string& ip, const std::string& user) {
    const std::string body = R"({"route":"authentik-login","event":"login_failed","client_ip":")" +
                             ip + R"(","username":")" + user + "\"}";
    Conn c(server_->admin_port());
    EXPECT_TRUE(c.ok() && c.send("POST /v1/failures HTTP/1.1\r\nHost: edgeguard:9090\r\n"
                                 "Connection: close\r\nAuthorization: Bearer " +
                                 std::string(kWebhookToken) +
                                 "\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body));
    return c.read_response().status;
  }

  ScratchDir dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(LockoutExample, AnAccountTriedFromManyAddressesIsLimitedPerAccount) {
  // per-user: 10 identifications per 15 min, whatever the address (each address stays far
  // below its own per-ip limit).
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(identify("198.51.100." + std::to_string(i), "alice").status, 200) << i;
  }
  const HttpResponse eleventh = identify("198.51.100.11", "alice");
  EXPECT_EQ(eleventh.status, 429);
  EXPECT_NE(eleventh.body.find("\"limit\":\"per-user\""), std::string::npos) << eleventh.body;
  // Another account from the same address is not affected, and names are case-blind.
  EXPECT_EQ(identify("198.51.100.11", "bob").status, 200);
  EXPECT_EQ(identify("198.51.100.12", "ALICE").status, 429);
}

TEST_F(LockoutExample, FiveFailedLoginsLockTheAccountFromEveryAddress) {
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(report_failed_login("192.0.2." + std::to_string(100 + i), "carol"), 202) << i;
  }
  const HttpResponse locked = identify("192.0.2.77", "carol");  // an address never seen
  EXPECT_EQ(locked.status, 403) << server_->stdout_text();
  EXPECT_EQ(reason_of(locked), "ban");
  EXPECT_EQ(locked.header("Retry-After"), "1800");        // the first ban: `for: 30m`
  EXPECT_EQ(identify("192.0.2.77", "dave").status, 200);  // the address itself is not banned
}

TEST_F(LockoutExample, FailuresFromTheOfficeNeverBan) {
  // bans.exempt: [office] is fail2ban's ignoreip: its failures make no ban, not even of the
  // account they name.
  for (int i = 1; i <= 6; ++i) {
    EXPECT_EQ(report_failed_login("203.0.113." + std::to_string(i), "erin"), 202) << i;
  }
  EXPECT_EQ(identify("192.0.2.78", "erin").status, 200);
  EXPECT_EQ(server_->metric("edgeguard_bans_active"), 0);
}

TEST_F(LockoutExample, TenErpnext401sBanTheAddressFromTheLogin) {
  {
    std::ofstream log(dir_.file("access.log"), std::ios::app | std::ios::binary);
    for (int i = 0; i < 10; ++i) {
      log << R"({"ClientAddr":"192.0.2.9:40000","ClientHost":"192.0.2.9","DownstreamStatus":401,)"
             R"("RequestHost":"erp.byrne-accounts.org","RequestMethod":"POST",)"
             R"("RequestPath":"/api/method/login","RouterName":"erpnext@file",)"
             R"("StartUTC":"2026-11-30T10:00:00Z"})"
          << "\n";
    }
  }
  const Call login = call_from("erp.byrne-accounts.org", "192.0.2.9", "POST", "/api/method/login");
  // The follower polls the file: wait until it has counted the ten lines.
  ASSERT_TRUE(eventually([&] {
    return server_->metric(R"(edgeguard_failures_total{route="erp-login",source="access_log"})") ==
           10;
  })) << server_->stdout_text();
  const HttpResponse banned = call_once(server_->port(), login);
  EXPECT_EQ(banned.status, 403);
  EXPECT_EQ(reason_of(banned), "ban");
  // scope: route (the default): the rest of ERPNext still answers that address.
  EXPECT_EQ(call_once(server_->port(), call_from("erp.byrne-accounts.org", "192.0.2.9")).status,
            200);
  EXPECT_EQ(call_once(server_->port(), call_from("erp.byrne-accounts.org", "192.0.2.10", "POST",
                                                 "/api/method/login"))
                .status,
            200);
}

}  // namespace
}  // namespace edgeguard::testing
