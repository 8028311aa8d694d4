// `edgeguard bans` against a running edgeguard: list (table and --json), add, delete, what a
// wrong token and a refused request print, and the exit codes (0 done, 1 refused or
// unreachable, 2 usage).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "tests/support/harness.h"

namespace edgeguard::testing {
namespace {

namespace json = boost::json;

constexpr const char* kToken = "7c1e0d9b8a7f6e5d4c3b2a19081726354";
constexpr const char* kWrongToken = "00000000000000000000000000000000";

class BansCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("admin-token", std::string(kToken) + "\n");
    dir_.write("wrong-token", kWrongToken);
    server_.emplace(dir_,
                    "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: 1\n"
                    "admin: {token_file: admin-token}\n"
                    "routes:\n  - name: login\n    hosts: [auth.example.com]\n"
                    "default: allow\n");
    ASSERT_TRUE(server_->started()) << server_->stdout_text() << server_->stderr_text();
    url_ = "http://127.0.0.1:" + std::to_string(server_->admin_port());
  }
  // `edgeguard bans ARGS --admin URL --token-file admin-token`
  RunResult bans(std::vector<std::string> args, const char* token_file = "admin-token") {
    args.insert(args.begin(), "bans");
    args.insert(args.end(), {"--admin", url_});
    if (token_file != nullptr) args.insert(args.end(), {"--token-file", dir_.file(token_file)});
    return run_edgeguard(args, dir_);
  }

  ScratchDir dir_;
  std::optional<Server> server_;
  std::string url_;
};

TEST_F(BansCli, ListAddDelete) {
  auto r = bans({"list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "no active bans\n");

  r = bans({"add", "ip:203.0.113.9", "--for", "1h"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("banned ip:203.0.113.9 on every route until ", 0), 0u) << r.out;
  r = bans({"add", "ip:2001:db8::1", "--for", "90m", "--route", "login"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("banned ip:2001:db8::/64 on route login until ", 0), 0u) << r.out;

  r = bans({"list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto lines = [&] {
    std::vector<std::string> v;
    std::size_t start = 0;
    for (auto nl = r.out.find('\n'); nl != std::string::npos; nl = r.out.find('\n', start)) {
      v.push_back(r.out.substr(start, nl - start));
      start = nl + 1;
    }
    return v;
  }();
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0].rfind("SUBJECT", 0), 0u);
  for (const char* column : {"ROUTE", "UNTIL", "REMAINING", "COUNT", "REASON", "SOURCE"}) {
    EXPECT_NE(lines[0].find(column), std::string::npos) << column;
  }
  EXPECT_EQ(lines[1].rfind("ip:203.0.113.9 ", 0), 0u) << lines[1];  // soonest end first
  // 1h from now, shown as its two largest units: 59m59s or 1h0m depending on rounding.
  EXPECT_TRUE(lines[1].find(" 59m5") != std::string::npos ||
              lines[1].find(" 1h0m ") != std::string::npos)
      << lines[1];
  EXPECT_NE(lines[1].find(" manual"), std::string::npos);
  EXPECT_EQ(lines[2].rfind("ip:2001:db8::/64 ", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find(" login "), std::string::npos);
  EXPECT_EQ(lines[1].find("ROUTE"), lines[2].find("ROUTE"));  // columns line up
  EXPECT_EQ(lines[0].find("ROUTE"), lines[1].find('*'));

  r = bans({"list", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json::error_code ec;
  const auto v = json::parse(r.out, ec);
  ASSERT_FALSE(ec) << r.out;
  ASSERT_EQ(v.at("bans").as_array().size(), 2u);
  EXPECT_EQ(v.at("bans").at(1).at("subject").as_string(), "ip:2001:db8::/64");

  r = bans({"delete", "ip:2001:db8::77"});  // same /64
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "lifted 1 ban of ip:2001:db8::/64\n");
  r = bans({"delete", "ip:2001:db8::77"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("404 Not Found: ip:2001:db8::/64 is not banned"), std::string::npos)
      << r.err;

  r = bans({"delete", "ip:203.0.113.9", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"subject\":\"ip:203.0.113.9\",\"lifted\":1}\n");
  EXPECT_EQ(bans({"list"}).out, "no active bans\n");
}

TEST_F(BansCli, TheServersRefusalIsPrintedWithExit1) {
  auto r = bans({"add", "ip:203.0.113.9", "--for", "10000h"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("400 Bad Request: for '10000h' is out of range"), std::string::npos)
      << r.err;
  r = bans({"add", "mac:1", "--for", "1h"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("400 Bad Request: subject 'mac:1'"), std::string::npos) << r.err;
  r = bans({"add", "ip:203.0.113.9", "--for", "1h", "--route", "erp"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("route 'erp' is not a route"), std::string::npos) << r.err;
  EXPECT_EQ(bans({"list"}).out, "no active bans\n");
}

TEST_F(BansCli, AWrongOrMissingTokenSaysSoWithoutEchoingIt) {
  auto r = bans({"list"}, "wrong-token");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("401 Unauthorized: the token is not valid"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--token-file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kWrongToken), std::string::npos);
  EXPECT_EQ(r.out.find(kWrongToken), std::string::npos);
  r = bans({"add", "ip:203.0.113.9", "--for", "1h"}, nullptr);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("401 Unauthorized"), std::string::npos) << r.err;
  EXPECT_EQ(bans({"list"}).out, "no active bans\n");
}

TEST_F(BansCli, UsageErrorsExit2) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const Case cases[] = {
      {{}, "usage: edgeguard bans"},
      {{"show"}, "unknown action 'show'"},
      {{"add", "ip:203.0.113.9"}, "add needs --for"},
      {{"add", "--for", "1h"}, "add takes one SUBJECT"},
      {{"delete"}, "delete takes one SUBJECT"},
      {{"list", "extra"}, "list takes no SUBJECT"},
      {{"list", "--for", "1h"}, "--for and --route go with add"},
      {{"list", "--bogus"}, "unknown option --bogus"},
  };
  for (const auto& c : cases) {
    auto r = bans(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
  auto r = run_edgeguard({"bans", "list", "--admin", "https://127.0.0.1:9090"}, dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("plain HTTP"), std::string::npos) << r.err;
  r = run_edgeguard({"bans", "list", "--admin", "http://127.0.0.1:9090/v1"}, dir_);
  EXPECT_EQ(r.exit_code, 2);
  r = bans({"list"}, "no-such-file");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot read --token-file"), std::string::npos) << r.err;
}

TEST(BansCliUnreachable, AnAdminListenerThatIsNotThereIsExit1) {
  ScratchDir dir;
  // A port bound here and never listened on: connecting is refused, and no other test can
  // take the port while this socket holds it.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  const auto r = run_edgeguard({"bans", "list", "--admin", url}, dir);
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot connect"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(url), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edgeguard::testing
