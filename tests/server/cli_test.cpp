// `edgeguard check` and `edgeguard explain` run as a user runs them: the binary, its exit code,
// its stdout and stderr.
#include <boost/json.hpp>

#include <string>

#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace edgeguard::testing {
namespace {

namespace json = boost::json;

constexpr const char* kPolicy = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
callers: [127.0.0.0/8]
ip_sets:
  office: [203.0.113.0/24]
routes:
  - name: authentik-login
    hosts: [auth.securenexus.net]
    paths: [/api/v3/flows/executor/]
    methods: [POST]
    limits:
      - {name: per-ip, average: 10, period: 1m, burst: 5, key: client_ip}
  - name: admin
    hosts: [grafana.securenexus.net]
    allow_ips: [office]
default: allow
)";

class CliTest : public ::testing::Test {
 protected:
  ScratchDir dir_;
};

TEST_F(CliTest, CheckAcceptsAValidPolicyAndSummarisesItsRoutes) {
  const auto file = dir_.write("ok.yaml", kPolicy).string();
  const auto r = run_edgeguard({"check", "--config", file}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ok, 2 routes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("authentik-login"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("limit per-ip 10/60s burst 5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("admin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("allow_ips"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, CheckReportsFileLineColumnAndExits1) {
  struct Case {
    const char* name;
    std::string text;
    const char* location;  // ":LINE:COL: "
    const char* words;     // part of the message
  };
  const std::string policy = kPolicy;
  const Case cases[] = {
      {"unknown top-level key", "listen: 127.0.0.1:0\nbogus: 1\n", ":2:1: ", "bogus"},
      {"bad CIDR", "callers: [127.0.0.0/8, 300.1.2.3/8]\n", ":1:24: ", "300.1.2.3/8"},
      {"bad period",
       "routes:\n  - name: r\n    limits:\n      - {name: l, average: 1, period: 1 fortnight, "
       "burst: 1}\n",
       ":4:39: ", "period"},
      {"unknown route key", "routes:\n  - name: r\n    hostz: [a.example]\n", ":3:5: ", "hostz"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto file = dir_.write("bad.yaml", c.text).string();
    const auto r = run_edgeguard({"check", "--config", file}, dir_);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind(file + c.location, 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.words), std::string::npos) << r.err;
  }
}

TEST_F(CliTest, CheckUsageErrorsExit2) {
  EXPECT_EQ(run_edgeguard({"check"}, dir_).exit_code, 2);
  EXPECT_EQ(run_edgeguard({"check", "--config"}, dir_).exit_code, 2);
  const auto r = run_edgeguard({"check", "--conf", "x.yaml"}, dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage"), std::string::npos) << r.err;
}

TEST_F(CliTest, CheckOfAMissingFileExits1) {
  const auto file = dir_.file("absent.yaml").string();
  const auto r = run_edgeguard({"check", "--config", file}, dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("absent.yaml"), std::string::npos) << r.err;
}

TEST_F(CliTest, ExplainTextNamesRouteRuleAndVerdict) {
  const auto file = dir_.write("p.yaml", kPolicy).string();
  const auto allowed =
      run_edgeguard({"explain", "--config", file, "--method", "GET", "--host",
                     "grafana.securenexus.net", "--uri", "/d/home", "--ip", "203.0.113.7"},
                    dir_);
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_NE(allowed.out.find("verdict  allow"), std::string::npos) << allowed.out;
  EXPECT_NE(allowed.out.find("route admin"), std::string::npos) << allowed.out;

  const auto denied =
      run_edgeguard({"explain", "--config", file, "--method", "GET", "--host",
                     "grafana.securenexus.net", "--uri", "/d/home", "--ip", "198.51.100.7"},
                    dir_);
  EXPECT_EQ(denied.exit_code, 0) << denied.err;
  EXPECT_NE(denied.out.find("verdict  deny (status 403, reason ip, rule allow_ips, route admin)"),
            std::string::npos)
      << denied.out;
  EXPECT_NE(denied.out.find("allow_ips"), std::string::npos) << denied.out;
}

TEST_F(CliTest, ExplainJsonNamesRouteRuleAndVerdict) {
  const auto file = dir_.write("p.yaml", kPolicy).string();
  const auto run = [&](const std::string& ip) {
    const auto r =
        run_edgeguard({"explain", "--config", file, "--method", "GET", "--host",
                       "Grafana.SecureNexus.net.", "--uri", "/%64/home", "--ip", ip, "--json"},
                      dir_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    auto v = json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out;
    return ec || !v.is_object() ? json::object{} : v.as_object();
  };
  const auto allowed = run("203.0.113.7");
  EXPECT_EQ(allowed.at("verdict"), "allow");
  EXPECT_EQ(allowed.at("status"), 200);
  EXPECT_EQ(allowed.at("route"), "admin");
  EXPECT_EQ(allowed.at("host"), "grafana.securenexus.net");
  EXPECT_EQ(allowed.at("path"), "/d/home");
  EXPECT_TRUE(allowed.at("trace").is_array());

  const auto denied = run("::ffff:198.51.100.7");
  EXPECT_EQ(denied.at("verdict"), "deny");
  EXPECT_EQ(denied.at("status"), 403);
  EXPECT_EQ(denied.at("reason"), "ip");
  EXPECT_EQ(denied.at("rule"), "allow_ips");
  EXPECT_EQ(denied.at("route"), "admin");
  EXPECT_EQ(denied.at("client_ip"), "198.51.100.7");
}

TEST_F(CliTest, ExplainChargesNoToken) {
  const auto file = dir_.write("p.yaml", kPolicy).string();
  // The route admits 5 at once; 20 explanations of the same call all still say allow.
  for (int i = 0; i < 20; ++i) {
    const auto r = run_edgeguard(
        {"explain", "--config", file, "--method", "POST", "--host", "auth.securenexus.net", "--uri",
         "/api/v3/flows/executor/x", "--ip", "198.51.100.7", "--json"},
        dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    const auto v = json::parse(r.out, ec);
    ASSERT_FALSE(ec) << r.out;
    EXPECT_EQ(v.at("verdict"), "allow") << i;
    EXPECT_EQ(v.at("route"), "authentik-login") << i;
  }
}

TEST_F(CliTest, ExplainUsageErrorsExit2) {
  const auto file = dir_.write("p.yaml", kPolicy).string();
  EXPECT_EQ(run_edgeguard({"explain", "--config", file}, dir_).exit_code, 2);
  EXPECT_EQ(
      run_edgeguard(
          {"explain", "--config", file, "--host", "a.example", "--ip", "1.2.3.4", "--bogus"}, dir_)
          .exit_code,
      2);
}

}  // namespace
}  // namespace edgeguard::testing
