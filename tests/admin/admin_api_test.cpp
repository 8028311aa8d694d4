// The admin API through the edgeguard binary over real sockets: who may call (no token:
// loopback only, tested from a real non-loopback address of this machine; token: Bearer), the
// statuses of every refusal, bad bodies changing nothing, a ban's round trip, and a reload
// that rotates the token.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "guard/accesslog/access_log.h"
#include "tests/support/harness.h"

namespace edgeguard::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr const char* kToken = "5b0c3e2f9d8a7b6c5d4e3f2a1b0c9d8e";
constexpr const char* kOtherToken = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

std::string policy(const std::string& extra = "") {
  return "listen: 127.0.0.1:0\n"
         "admin_listen: 127.0.0.1:0\n"
         "threads: 1\n" +
         extra +
         "routes:\n"
         "  - name: login\n"
         "    hosts: [auth.example.com]\n"
         "default: allow\n";
}

// Writes aside and renames, so the server's config poll never reads half a file.
void write_atomically(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  std::ofstream(tmp, std::ios::binary) << text;
  fs::rename(tmp, p);
}

struct Request {
  std::string method = "GET";
  std::string target = "/v1/bans";
  std::string body;
  std::string content_type = "application/json";
  std::string authorization;
  std::string extra_headers;
};

std::string render(const Request& r) {
  std::string s = r.method + " " + r.target + " HTTP/1.1\r\nHost: admin\r\n";
  if (!r.authorization.empty()) s += "Authorization: " + r.authorization + "\r\n";
  if (!r.body.empty()) {
    s += "Content-Type: " + r.content_type +
         "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
  }
  s += r.extra_headers + "\r\n" + r.body;
  return s;
}

HttpResponse send(int port, const Request& r) {
  Conn c(port);
  if (!c.ok() || !c.send(render(r))) return {};
  return c.read_response();
}

std::string bearer(const char* token) {
  return std::string("Bearer ") + token;
}

json::value parse(const std::string& body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  return v;
}

// --- no token: loopback callers only -----------------------------------------------------

TEST(AdminApi, WithoutATokenLoopbackCallersMayUseIt) {
  ScratchDir dir;
  Server server(dir, policy());
  ASSERT_TRUE(server.started()) << server.stdout_text() << server.stderr_text();
  const auto r = send(server.admin_port(), {});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.body, R"({"bans":[]})");
}

// A non-loopback IPv4 address of this machine (a connection from it to itself has it as the
// peer address), if there is one.
std::optional<std::string> non_loopback_address() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN];
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text)) found = text;
  }
  ::freeifaddrs(list);
  return found;
}

// One request with Connection: close to `address`, the raw answer read until the server closes.
std::string exchange(const std::string& address, int port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST(AdminApi, WithoutATokenOtherCallersAreRefused) {
  const auto address = non_loopback_address();
  if (!address) GTEST_SKIP() << "this machine has no non-loopback IPv4 address to call from";
  ScratchDir dir;
  Server server(
      dir, "listen: 127.0.0.1:0\nadmin_listen: " + *address + ":0\nthreads: 1\ndefault: allow\n");
  ASSERT_TRUE(server.started()) << server.stdout_text() << server.stderr_text();
  const std::string get = "GET /v1/bans HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  const std::string answer = exchange(*address, server.admin_port(), get);
  EXPECT_EQ(answer.rfind("HTTP/1.1 403 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("application/problem+json"), std::string::npos) << answer;
  EXPECT_NE(answer.find("only loopback callers"), std::string::npos) << answer;
  // A ban attempt from there changes nothing (checked from there too, as metrics stay open).
  const std::string body = R"({"subject":"ip:192.0.2.99","for":"1h"})";
  const std::string post =
      "POST /v1/bans HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_EQ(exchange(*address, server.admin_port(), post).rfind("HTTP/1.1 403 ", 0), 0u);
  const std::string metrics =
      exchange(*address, server.admin_port(),
               "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(metrics.rfind("HTTP/1.1 200 ", 0), 0u) << metrics.substr(0, 200);
}

// --- with a token ---------------------------------------------------------------------------

class TokenApi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("admin-token", std::string(kToken) + "\n");
    server_.emplace(dir_, policy("admin: {token_file: admin-token}\n"));
    ASSERT_TRUE(server_->started()) << server_->stdout_text() << server_->stderr_text();
    port_ = server_->admin_port();
  }
  HttpResponse call(Request r, const char* token = kToken) {
    if (r.authorization.empty() && token != nullptr) r.authorization = bearer(token);
    return send(port_, r);
  }
  std::string list() { return call({}).body; }

  ScratchDir dir_;
  std::optional<Server> server_;
  int port_ = 0;
};

TEST_F(TokenApi, OnlyTheRightBearerTokenIsAccepted) {
  struct Case {
    const char* what;
    std::string authorization;
    int status;
    bool invalid_token;
  };
  const Case cases[] = {
      {"missing", "", 401, false},
      {"wrong", bearer(kOtherToken), 401, true},
      {"a prefix of it", std::string("Bearer ") + std::string(kToken).substr(0, 16), 401, true},
      {"other scheme", std::string("Basic ") + kToken, 401, false},
      {"no scheme", kToken, 401, false},
      {"right", bearer(kToken), 200, false},
      {"right, scheme in lower case", std::string("bearer ") + kToken, 200, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Request r;
    r.authorization = c.authorization;
    const auto res = send(port_, r);
    EXPECT_EQ(res.status, c.status) << res.body;
    if (c.status == 401) {
      const auto challenge = res.header("WWW-Authenticate");
      ASSERT_TRUE(challenge);
      EXPECT_EQ(challenge->rfind("Bearer realm=\"edgeguard\"", 0), 0u) << *challenge;
      EXPECT_EQ(challenge->find("invalid_token") != std::string::npos, c.invalid_token);
      EXPECT_EQ(res.header("Content-Type"), "application/problem+json");
      EXPECT_EQ(res.body.find(kToken), std::string::npos);
      EXPECT_EQ(res.body.find(kOtherToken), std::string::npos);
    }
  }
  // Two Authorization headers, one of them right: refused.
  Request twice;
  twice.extra_headers = "Authorization: " + bearer(kOtherToken) + "\r\n";
  EXPECT_EQ(call(twice).status, 400);
  // The token never reaches the logs.
  EXPECT_EQ(server_->stdout_text().find(kToken), std::string::npos);
  EXPECT_EQ(server_->stderr_text().find(kToken), std::string::npos);
}

TEST_F(TokenApi, EveryRefusalHasItsStatus) {
  Request unknown;
  unknown.target = "/v1/unknown";
  auto r = call(unknown);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");

  Request put;
  put.method = "PUT";
  r = call(put);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD, POST");
  Request post_metrics;
  post_metrics.method = "POST";
  post_metrics.target = "/metrics";
  r = call(post_metrics);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD");

  Request no_type;
  no_type.method = "POST";
  no_type.body = R"({"subject":"ip:203.0.113.9","for":"1h"})";
  no_type.content_type = "text/plain";
  r = call(no_type);
  EXPECT_EQ(r.status, 415);

  // Beyond 64 KiB: 413 from the Content-Length alone, and the answer arrives although the
  // client is still sending.
  Request huge;
  huge.method = "POST";
  huge.body = "{\"subject\":\"" + std::string(100 * 1024, 'a') + "\",\"for\":\"1h\"}";
  r = call(huge);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");

  // A chunked body that grows past the bound is refused the same way.
  Conn c(port_);
  const std::string chunk(32 * 1024, 'x');
  std::string chunked = "POST /v1/bans HTTP/1.1\r\nHost: a\r\nAuthorization: " + bearer(kToken) +
                        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "8000\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  ASSERT_TRUE(c.send(chunked));
  EXPECT_EQ(c.read_response().status, 413);

  // A request head beyond 8 KiB: 431.
  Request fat;
  fat.extra_headers = "X-Padding: " + std::string(9000, 'p') + "\r\n";
  EXPECT_EQ(call(fat).status, 431);

  EXPECT_EQ(list(), R"({"bans":[]})");
}

TEST_F(TokenApi, BadBodiesAre400NamingTheFieldAndChangeNothing) {
  Request seed;
  seed.method = "POST";
  seed.body = R"({"subject": "ip:203.0.113.9", "for": "1h"})";
  ASSERT_EQ(call(seed).status, 201);
  const std::string before = list();

  struct Case {
    const char* what;
    std::string body;
    const char* field;  // "" when the body as a whole is wrong
  };
  const Case cases[] = {
      {"not JSON", "subject=ip:203.0.113.10&for=1h", ""},
      {"an array", R"([{"subject": "ip:203.0.113.10", "for": "1h"}])", ""},
      {"unknown field", R"({"subject": "ip:203.0.113.10", "for": "1h", "note": "x"})", "note"},
      {"bad subject kind", R"({"subject": "mac:00:11:22:33:44:55", "for": "1h"})", "subject"},
      {"bare address", R"({"subject": "203.0.113.10", "for": "1h"})", "subject"},
      {"negative for", R"({"subject": "ip:203.0.113.10", "for": "-1s"})", "for"},
      {"10000 days", R"({"subject": "ip:203.0.113.10", "for": "10000d"})", "for"},
      {"10000 hours", R"({"subject": "ip:203.0.113.10", "for": "10000h"})", "for"},
      {"zero", R"({"subject": "ip:203.0.113.10", "for": "0s"})", "for"},
      {"for as a number", R"({"subject": "ip:203.0.113.10", "for": 3600})", "for"},
      {"unknown route", R"({"subject": "ip:203.0.113.10", "for": "1h", "route": "erp"})", "route"},
      {"duplicate field",
       R"({"subject": "ip:203.0.113.10", "subject": "ip:203.0.113.11", "for": "1h"})", "subject"},
      {"no for", R"({"subject": "ip:203.0.113.10"})", "for"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Request r;
    r.method = "POST";
    r.body = c.body;
    const auto res = call(r);
    EXPECT_EQ(res.status, 400) << res.body;
    EXPECT_EQ(res.header("Content-Type"), "application/problem+json");
    const auto problem = parse(res.body);
    EXPECT_EQ(problem.at("status").as_int64(), 400);
    EXPECT_FALSE(problem.at("detail").as_string().empty());
    if (*c.field) {
      EXPECT_EQ(problem.at("field").as_string(), c.field) << res.body;
    } else {
      EXPECT_FALSE(problem.as_object().contains("field")) << res.body;
    }
  }
  Request bad_delete;
  bad_delete.method = "DELETE";
  bad_delete.target = "/v1/bans/mac:1";
  EXPECT_EQ(call(bad_delete).status, 400);
  EXPECT_EQ(list(), before);
}

std::int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_F(TokenApi, BanListLiftRoundTrip) {
  Request post;
  post.method = "POST";
  post.body = R"({"subject": "ip:2001:db8:5::9", "for": "1h", "route": "login"})";
  const std::int64_t before = unix_now_ns();
  auto r = call(post);
  const std::int64_t after = unix_now_ns();
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("Location"), "/v1/bans/ip:2001:db8:5::%2F64");
  const auto made = parse(r.body).at("ban");
  EXPECT_EQ(made.at("subject").as_string(), "ip:2001:db8:5::/64");
  EXPECT_EQ(made.at("route").as_string(), "login");
  EXPECT_EQ(made.at("count").as_int64(), 1);
  EXPECT_EQ(made.at("reason").as_string(), "manual");
  EXPECT_EQ(made.at("source").as_string(), "manual");
  const auto until = parse_rfc3339_ns(std::string(made.at("until").as_string()));
  ASSERT_TRUE(until);
  EXPECT_GE(*until, before + 3'600'000'000'000 - 1'000'000'000);
  EXPECT_LE(*until, after + 3'600'000'000'000 + 1'000'000'000);

  post.body = R"({"subject": "user:alice", "for": "30m"})";
  ASSERT_EQ(call(post).status, 201);
  const auto listed = parse(list()).at("bans").as_array();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].at("subject").as_string(), "user:alice");  // soonest end first
  EXPECT_EQ(listed[0].at("route").as_string(), "*");
  EXPECT_EQ(listed[1].at("subject").as_string(), "ip:2001:db8:5::/64");
  EXPECT_EQ(listed[1].at("until"), made.at("until"));

  Request del;
  del.method = "DELETE";
  del.target = "/v1/bans/ip%3A2001%3Adb8%3A5%3A%3A1";  // another address of the same /64
  r = call(del);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r.body).at("lifted").as_int64(), 1);
  r = call(del);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("is not banned"), std::string::npos) << r.body;
  const auto left = parse(list()).at("bans").as_array();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].at("subject").as_string(), "user:alice");
}

TEST_F(TokenApi, AnExpect100ContinueClientGetsTheGoAheadOnlyWhenAdmitted) {
  const std::string body = R"({"subject": "ip:203.0.113.77", "for": "1h"})";
  const std::string head =
      "POST /v1/bans HTTP/1.1\r\nHost: a\r\nContent-Type: "
      "application/json\r\nExpect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n";
  Conn refused(port_);
  ASSERT_TRUE(refused.send(head + "\r\n"));  // no token
  EXPECT_EQ(refused.read_response().status, 401);

  Conn c(port_);
  ASSERT_TRUE(c.send(head + "Authorization: " + bearer(kToken) + "\r\n\r\n"));
  EXPECT_EQ(c.read_response().status, 100);
  ASSERT_TRUE(c.send(body));
  EXPECT_EQ(c.read_response().status, 201);
}

TEST_F(TokenApi, KeepAliveServesOneRequestAfterAnother) {
  Conn c(port_);
  Request r;
  r.authorization = bearer(kToken);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(render(r)));
    const auto res = c.read_response();
    EXPECT_EQ(res.status, 200);
    EXPECT_FALSE(res.header("Connection"));
  }
  // HEAD: the headers GET would send, and nothing after them.
  const std::string raw = exchange(
      "127.0.0.1", port_, "HEAD /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw.rfind("HTTP/1.1 200 ", 0), 0u) << raw;
  EXPECT_NE(raw.find("Content-Length: 3\r\n"), std::string::npos) << raw;
  EXPECT_TRUE(raw.ends_with("\r\n\r\n")) << raw;
}

// --- reload ---------------------------------------------------------------------------------

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// admin.token_file is applied by a reload: the file is read again, so rewriting it and
// reloading rotates the token; a token file that cannot be read refuses the reload at the
// setting's FILE:LINE:COL and the token in force stays; dropping the section leaves loopback
// callers only.
TEST(AdminApiReload, AReloadRereadsTheTokenFile) {
  ScratchDir dir;
  dir.write("admin-token", kToken);
  const std::string config = policy("admin: {token_file: admin-token}\n");
  Server server(dir, config);
  ASSERT_TRUE(server.started()) << server.stdout_text() << server.stderr_text();
  const int port = server.admin_port();
  auto status_with = [&](const char* token) {
    Request r;
    if (token != nullptr) r.authorization = bearer(token);
    return send(port, r).status;
  };
  auto log_count = [&](const char* event) { return count_of(server.stdout_text(), event); };
  ASSERT_EQ(status_with(kToken), 200);
  ASSERT_EQ(status_with(kOtherToken), 401);

  write_atomically(dir.file("admin-token"), std::string(kOtherToken) + "\n");
  write_atomically(dir.file("edgeguard.yaml"), config + "# rotated\n");
  ASSERT_TRUE(eventually([&] { return log_count("\"event\":\"reloaded\"") == 1; }, 10000ms))
      << server.stdout_text();
  EXPECT_EQ(status_with(kOtherToken), 200);
  EXPECT_EQ(status_with(kToken), 401);

  std::filesystem::remove(dir.file("admin-token"));
  write_atomically(dir.file("edgeguard.yaml"), config + "# token file gone\n");
  ASSERT_TRUE(eventually([&] { return log_count("\"event\":\"reload_refused\"") == 1; }, 10000ms))
      << server.stdout_text();
  EXPECT_NE(server.stdout_text().find("edgeguard.yaml:4:21: admin.token_file: cannot read"),
            std::string::npos)
      << server.stdout_text();
  EXPECT_EQ(status_with(kOtherToken), 200);

  write_atomically(dir.file("edgeguard.yaml"), policy() + "# no admin section\n");
  ASSERT_TRUE(eventually([&] { return log_count("\"event\":\"reloaded\"") == 2; }, 10000ms))
      << server.stdout_text();
  EXPECT_EQ(status_with(nullptr), 200);  // loopback, no token needed any more
  EXPECT_EQ(server.stdout_text().find(kToken), std::string::npos);
  EXPECT_EQ(server.stdout_text().find(kOtherToken), std::string::npos);
}

}  // namespace
}  // namespace edgeguard::testing
