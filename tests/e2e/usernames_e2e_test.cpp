// Usernames read from the forwarded body (SPEC section 9, issue 13), through the binary: a limit
// keyed on `username` counts login attempts per account across addresses (distributed
// credential stuffing), for JSON (Authentik's flow executor) and form (ERPNext) bodies, plain
// and chunked; no name means a username-only limit does not apply; a body over
// server.max_body_bytes is refused (413); and the password in a body never reaches a log line,
// a metric or an answer.
#include <string>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"

namespace edgeguard::testing {
namespace {

constexpr const char* kPassword = "hunter2-Very-Secret-p4ss";

const char* kPolicy = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
callers: [127.0.0.0/8]
log: {allow: true}
server: {max_body_bytes: 2048}
routes:
  - name: authentik-login
    hosts: [auth.example.net]
    paths: [/api/v3/flows/executor/]
    methods: [POST]
    username: {field: uid_field}
    limits:
      - {name: per-user, average: 1, period: 1h, burst: 2, key: username}
  - name: erp-login
    hosts: [erp.example.net]
    paths: [/api/method/login]
    username: {field: usr}
    limits:
      - {name: per-user, average: 1, period: 1h, burst: 2, key: username, ban: {for: 1m}}
default: allow
)";

// A ForwardAuth call as Traefik >= 3.3 sends it with forwardBody: true: GET on the request line,
// the original method in X-Forwarded-Method, the client's Content-Type and the body.
std::string forwarded(const std::string& host, const std::string& uri, const std::string& ip,
                      const std::string& content_type, const std::string& body,
                      bool chunked = false) {
  std::string s = "GET / HTTP/1.1\r\nHost: edgeguard\r\nX-Forwarded-Method: POST\r\n";
  s += "X-Forwarded-Proto: https\r\nX-Forwarded-Host: " + host + "\r\nX-Forwarded-Uri: " + uri +
       "\r\nX-Forwarded-For: " + ip + "\r\n";
  if (!content_type.empty()) s += "Content-Type: " + content_type + "\r\n";
  if (chunked) {
    s += "Transfer-Encoding: chunked\r\n\r\n";
    // Split mid-field, as a proxy streaming a body may.
    const std::size_t half = body.size() / 2;
    char len[32];
    std::snprintf(len, sizeof len, "%zx\r\n", half);
    s += len + body.substr(0, half) + "\r\n";
    std::snprintf(len, sizeof len, "%zx\r\n", body.size() - half);
    s += len + body.substr(half) + "\r\n0\r\n\r\n";
  } else {
    s += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  return s;
}

class UsernamesE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(dir_, kPolicy);
    ASSERT_TRUE(server_->started()) << server_->stderr_text();
  }
  HttpResponse send(const std::string& bytes) {
    Conn c(server_->port());
    EXPECT_TRUE(c.ok() && c.send(bytes));
    return c.read_response();
  }
  HttpResponse authentik(const std::string& ip, const std::string& user, bool chunked = false) {
    return send(forwarded("auth.example.net", "/api/v3/flows/executor/default-authentication-flow/",
                          ip, "application/json",
                          R"({"component":"ak-stage-identification","uid_field":")" + user +
                              R"(","password":")" + kPassword + R"("})",
                          chunked));
  }
  HttpResponse erp(const std::string& ip, const std::string& body, bool chunked = false) {
    return send(forwarded("erp.example.net", "/api/method/login", ip,
                          "application/x-www-form-urlencoded; charset=UTF-8", body, chunked));
  }

  ScratchDir dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(UsernamesE2e, AJsonLoginIsLimitedPerAccountAcrossAddresses) {
  // alice from three addresses: the account's burst of 2, then refused whatever the address.
  EXPECT_EQ(authentik("198.51.100.1", "alice").status, 200);
  EXPECT_EQ(authentik("198.51.100.2", "Alice ").status, 200);  // one account: case, spaces
  const HttpResponse third = authentik("198.51.100.3", "ALICE");
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(reason_of(third), "rate_limit");
  // Other accounts are not affected, from the same addresses.
  EXPECT_EQ(authentik("198.51.100.3", "bob").status, 200);
  EXPECT_EQ(authentik("198.51.100.1", "carol", /*chunked=*/true).status, 200);
  EXPECT_EQ(authentik("198.51.100.2", "carol", /*chunked=*/true).status, 200);
  EXPECT_EQ(authentik("198.51.100.4", "carol", /*chunked=*/true).status, 429);
}

TEST_F(UsernamesE2e, AFormLoginBansTheAccountEverywhere) {
  const std::string body = std::string("usr=dave%40example.org&pwd=") + kPassword;
  EXPECT_EQ(erp("198.51.100.5", body).status, 200);
  EXPECT_EQ(erp("198.51.100.6", body, /*chunked=*/true).status, 200);
  const HttpResponse banned = erp("198.51.100.7", body);
  EXPECT_EQ(banned.status, 403);
  EXPECT_EQ(reason_of(banned), "ban");
  // The account is banned on the route from any address, with a name spelled another way.
  EXPECT_EQ(reason_of(erp("203.0.113.50", "pwd=x&usr=Dave%40Example.ORG")), "ban");
  EXPECT_EQ(erp("203.0.113.50", "usr=erin&pwd=x").status, 200);
  ASSERT_TRUE(eventually([&] {
    return server_->stdout_text().find("\"subject\":\"user:dave@example.org\"") !=
           std::string::npos;
  })) << server_->stdout_text();
}

TEST_F(UsernamesE2e, NoNameMeansAUsernameLimitDoesNotApply) {
  for (int i = 0; i < 5; ++i) {
    // No body, another media type, not JSON, no such field, a field that is not a string.
    EXPECT_EQ(
        send(forwarded("auth.example.net", "/api/v3/flows/executor/x", "198.51.100.8", "", ""))
            .status,
        200);
    EXPECT_EQ(send(forwarded("auth.example.net", "/api/v3/flows/executor/x", "198.51.100.8",
                             "text/plain", R"({"uid_field":"mallory"})"))
                  .status,
              200);
    EXPECT_EQ(send(forwarded("auth.example.net", "/api/v3/flows/executor/x", "198.51.100.8",
                             "application/json", "uid_field=mallory"))
                  .status,
              200);
    EXPECT_EQ(send(forwarded("auth.example.net", "/api/v3/flows/executor/x", "198.51.100.8",
                             "application/json", R"({"component":"ak-stage-password"})"))
                  .status,
              200);
    EXPECT_EQ(send(forwarded("auth.example.net", "/api/v3/flows/executor/x", "198.51.100.8",
                             "application/json", R"({"uid_field":["mallory"]})"))
                  .status,
              200);
  }
}

TEST_F(UsernamesE2e, ABodyOverTheBoundIs413AndTheServerKeepsServing) {
  const std::string huge = R"({"uid_field":"frank","pad":")" + std::string(4000, 'x') + R"("})";
  Conn c(server_->port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(forwarded("auth.example.net", "/api/v3/flows/executor/x", "198.51.100.9",
                               "application/json", huge)));
  const HttpResponse r = c.read_response();
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("max_body_bytes"), std::string::npos) << r.body;
  EXPECT_TRUE(c.wait_closed(2000ms));
  // Nothing of it was counted: frank still has his whole burst.
  EXPECT_EQ(authentik("198.51.100.9", "frank").status, 200);
  EXPECT_EQ(authentik("198.51.100.9", "frank").status, 200);
  EXPECT_EQ(authentik("198.51.100.9", "frank").status, 429);
}

TEST_F(UsernamesE2e, ThePasswordNeverReachesALogLineAMetricOrAnAnswer) {
  std::string answers;
  for (int i = 0; i < 4; ++i) {
    const HttpResponse a = authentik("198.51.100.10", "grace");
    answers += a.body;
    for (const auto& [k, v] : a.headers) answers += k + v;
    const HttpResponse e = erp("198.51.100.10", std::string("usr=heidi&pwd=") + kPassword);
    answers += e.body;
    for (const auto& [k, v] : e.headers) answers += k + v;
  }
  const std::string metrics = server_->admin_get("/metrics");
  ASSERT_FALSE(metrics.empty());
  // Decision lines are flushed within a fraction of a second: wait for all 8, then stop the
  // server so everything it would ever write is on disk.
  ASSERT_TRUE(eventually([&] {
    const std::string out = server_->stdout_text();
    std::size_t n = 0;
    for (std::size_t at = out.find("\"event\":\"decision\""); at != std::string::npos;
         at = out.find("\"event\":\"decision\"", at + 1)) {
      ++n;
    }
    return n >= 8;
  }));
  EXPECT_EQ(server_->terminate_and_wait(10000ms), 0);
  for (const std::string& text :
       {server_->stdout_text(), server_->stderr_text(), metrics, answers}) {
    EXPECT_EQ(text.find(kPassword), std::string::npos) << text;
    EXPECT_EQ(text.find("hunter2"), std::string::npos);
  }
}

}  // namespace
}  // namespace edgeguard::testing
