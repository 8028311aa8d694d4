// `edgeguard explain` beside a running server that shares its limits through Redis: explain
// reads the policy and the data sources, never the shared buckets. Asked about a client many
// times, it must leave Redis untouched, so the server still admits that client's whole burst:
// an operator's question must never lock out the user asked about. (In local mode explain's
// buckets die with its process, so charging them would be invisible: Redis is where the risk
// is.)
//
// `explain --admin` reads a running instance's active bans (GET /v1/bans) and explains the
// request against them: a ban made by real requests shows as the refusal, with its subject,
// scope, end and rank, for that client only. Without --admin the answer says bans were not
// consulted, so nobody reads "allow" as "not banned".
#include <boost/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "guard/accesslog/access_log.h"
#include "tests/e2e/e2e_support.h"
#include "tests/support/harness.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

TEST(ExplainE2e, ExplainingAClientLeavesTheSharedBucketsAlone) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  ScratchDir dir;
  const std::string yaml =
      "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: 1\n"
      "store: {type: redis, redis: {address: " +
      redis.address() +
      ", timeout: 1s}}\n"
      "routes:\n"
      "  - name: login\n"
      "    hosts: [auth.test]\n"
      "    limits:\n"
      "      - {name: per-ip, average: 1, period: 1h, burst: 2, key: client_ip}\n"
      "default: allow\n";
  Server server(dir, yaml);
  ASSERT_TRUE(server.started()) << server.stderr_text();
  // The server itself runs the bans' resync script once subscribed (its next is 30 s away):
  // what explain would run comes after.
  ASSERT_TRUE(eventually(
      [&] { return server.metric(R"(edgeguard_redis_ban_resyncs_total{result="ok"})") >= 1; }));
  const std::string server_scripts = redis.info_field("commandstats", "cmdstat_evalsha");

  for (int i = 0; i < 5; ++i) {
    const RunResult r =
        run_edgeguard({"explain", "--config", server.config_path().string(), "--method", "POST",
                       "--host", "auth.test", "--uri", "/login", "--ip", "198.51.100.7", "--json"},
                      dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    const auto v = boost::json::parse(r.out, ec);
    ASSERT_FALSE(ec) << r.out;
    EXPECT_EQ(v.at("verdict"), "allow") << i;
    EXPECT_EQ(v.at("route"), "login");
  }
  Reply keys = redis.command({"DBSIZE"});
  ASSERT_NE(keys, nullptr);
  EXPECT_EQ(keys->integer, 0) << "explain wrote to the shared store";
  EXPECT_EQ(redis.info_field("commandstats", "cmdstat_evalsha"), server_scripts);
  EXPECT_EQ(redis.info_field("commandstats", "cmdstat_eval"), "");

  // The client still has its whole burst on the server.
  const Call login = call_from("auth.test", "198.51.100.7", "POST", "/login");
  EXPECT_EQ(call_once(server.port(), login).status, 200);
  EXPECT_EQ(call_once(server.port(), login).status, 200);
  const HttpResponse third = call_once(server.port(), login);
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(reason_of(third), "rate_limit");
}

constexpr const char* kToken = "5d1f0c9b8a7e6d5c4b3a29180716253a";

const char* kBanPolicy = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 1
admin: {token_file: admin-token}
routes:
  - name: login
    hosts: [auth.test]
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 2, key: client_ip, ban: {for: 10m}}
  - name: other
    hosts: [other.test]
default: allow
)";

std::int64_t now_unix_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ExplainBansE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("admin-token", std::string(kToken) + "\n");
    dir_.write("wrong-token", "0000000000000000000000000000000000\n");
    server_ = std::make_unique<Server>(dir_, kBanPolicy);
    ASSERT_TRUE(server_->started()) << server_->stderr_text();
    admin_ = "http://127.0.0.1:" + std::to_string(server_->admin_port());
  }
  // Bans `ip` on the login route the way an attacker gets banned: through the limit.
  void ban_by_requests(const std::string& ip) {
    const Call login = call_from("auth.test", ip, "POST", "/login");
    EXPECT_EQ(call_once(server_->port(), login).status, 200);
    EXPECT_EQ(call_once(server_->port(), login).status, 200);
    const HttpResponse banned = call_once(server_->port(), login);
    ASSERT_EQ(banned.status, 403);
    ASSERT_EQ(reason_of(banned), "ban");
  }
  RunResult explain(const std::string& host, const std::string& ip,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"explain",  "--config", server_->config_path().string(),
                                     "--method", "POST",     "--host",
                                     host,       "--uri",    "/login",
                                     "--ip",     ip};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_edgeguard(args, dir_);
  }
  std::vector<std::string> admin(const char* token_file = "admin-token") const {
    return {"--admin", admin_, "--token-file", dir_.file(token_file).string()};
  }
  static boost::json::object json_of(const RunResult& r) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out;
    return ec || !v.is_object() ? boost::json::object{} : v.as_object();
  }

  ScratchDir dir_;
  std::unique_ptr<Server> server_;
  std::string admin_;
};

TEST_F(ExplainBansE2e, ABanMadeByRequestsShowsForThatClientOnly) {
  const std::int64_t before = now_unix_s();
  ban_by_requests("198.51.100.7");

  std::vector<std::string> args = admin();
  args.push_back("--json");
  RunResult r = explain("auth.test", "198.51.100.7", args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::json::object o = json_of(r);
  EXPECT_EQ(o["verdict"], "deny") << r.out;
  EXPECT_EQ(o["reason"], "ban");
  EXPECT_EQ(o["status"], 403);
  EXPECT_EQ(o["bans"].at("consulted"), true);
  EXPECT_EQ(o["bans"].at("active"), 1);
  ASSERT_TRUE(o.contains("ban")) << r.out;
  const boost::json::object& ban = o["ban"].as_object();
  EXPECT_EQ(ban.at("subject"), "ip:198.51.100.7");
  EXPECT_EQ(ban.at("scope"), "route");
  EXPECT_EQ(ban.at("route"), "login");
  EXPECT_EQ(ban.at("count"), 1);
  EXPECT_EQ(ban.at("reason"), "per-ip");
  EXPECT_EQ(ban.at("source"), "limit");
  const auto until = parse_rfc3339_ns(std::string(ban.at("until").as_string()));
  ASSERT_TRUE(until) << r.out;
  EXPECT_GE(*until / 1'000'000'000, before + 600 - 1);
  EXPECT_LE(*until / 1'000'000'000, now_unix_s() + 600 + 1);
  // To the second, the end the instance itself lists.
  const RunResult listed = run_edgeguard(
      {"bans", "list", "--json", "--admin", admin_, "--token-file", dir_.file("admin-token")},
      dir_);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(ban.at("until"), json_of(listed)["bans"].at(0).at("until")) << listed.out;

  // Text: the refusal and the ban's line.
  r = explain("auth.test", "198.51.100.7", admin());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("verdict  deny (status 403, reason ban"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ban      ip:198.51.100.7 on route login (scope route) until "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(ban 1, reason per-ip, source limit)"), std::string::npos) << r.out;

  // Another address, and the banned one on a route the ban does not cover, pass.
  r = explain("auth.test", "198.51.100.8", args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  o = json_of(r);
  EXPECT_EQ(o["verdict"], "allow") << r.out;
  EXPECT_EQ(o["bans"].at("consulted"), true);
  EXPECT_FALSE(o.contains("ban")) << r.out;
  r = explain("other.test", "198.51.100.7", args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_of(r)["verdict"], "allow") << r.out;
}

TEST_F(ExplainBansE2e, AManualBanOnEveryRouteShowsItsScope) {
  const RunResult added = run_edgeguard({"bans", "add", "ip:203.0.113.9", "--for", "1h", "--admin",
                                         admin_, "--token-file", dir_.file("admin-token").string()},
                                        dir_);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  std::vector<std::string> args = admin();
  args.push_back("--json");
  const RunResult r = explain("other.test", "203.0.113.9", args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::json::object o = json_of(r);
  EXPECT_EQ(o["reason"], "ban") << r.out;
  ASSERT_TRUE(o.contains("ban")) << r.out;
  EXPECT_EQ(o["ban"].at("scope"), "all");
  EXPECT_EQ(o["ban"].at("route"), "*");
  EXPECT_EQ(o["ban"].at("source"), "manual");
}

TEST_F(ExplainBansE2e, WithoutAdminTheAnswerSaysBansWereNotConsulted) {
  ban_by_requests("198.51.100.7");
  RunResult r = explain("auth.test", "198.51.100.7");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bans     not consulted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--admin"), std::string::npos) << r.out;
  r = explain("auth.test", "198.51.100.7", {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::json::object o = json_of(r);
  EXPECT_EQ(o["bans"].at("consulted"), false) << r.out;
  EXPECT_FALSE(o.contains("ban"));
}

TEST_F(ExplainBansE2e, AWrongTokenIsAClearErrorAndNoVerdict) {
  ban_by_requests("198.51.100.7");
  const RunResult r = explain("auth.test", "198.51.100.7", admin("wrong-token"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "") << "a verdict printed without the bans it was asked to read";
  EXPECT_NE(r.err.find("cannot read the bans: the admin API answered 401"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--token-file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kToken), std::string::npos);

  // No token at all for an instance that has one: the same refusal.
  const RunResult none = explain("auth.test", "198.51.100.7", {"--admin", admin_});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("401"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace edgeguard::testing
