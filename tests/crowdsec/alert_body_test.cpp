#include "guard/crowdsec/alert_body.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "guard/text/rfc3339.h"

namespace edgeguard {
namespace {

namespace json = boost::json;

constexpr std::int64_t kS = 1'000'000'000;

TEST(CrowdsecAlert, BanSubjects) {
  struct Case {
    const char* text;
    const char* value;
    bool range;
  };
  const Case ok[] = {
      {"198.51.100.7", "198.51.100.7", false},
      {"ip:198.51.100.7", "198.51.100.7", false},
      {"::ffff:198.51.100.7", "198.51.100.7", false},
      {"2001:DB8::1", "2001:db8::1", false},
      {"ip:2001:db8:1::/64", "2001:db8:1::/64", true},
      {"2001:db8:1::5/64", "2001:db8:1::/64", true},  // the network is meant
      {"10.0.0.0/8", "10.0.0.0/8", true},
      {"10.0.0.1/32", "10.0.0.1", false},
  };
  for (const Case& c : ok) {
    const auto s = parse_ban_subject(c.text);
    ASSERT_TRUE(s) << c.text;
    EXPECT_EQ(s->value, c.value) << c.text;
    EXPECT_EQ(s->range, c.range) << c.text;
  }
  for (const char* bad : {"", "user:alice", "route:login", "1.2.3", "10.0.0.0/33", "ip:", "a/b"}) {
    EXPECT_FALSE(parse_ban_subject(bad)) << bad;
  }
}

TEST(CrowdsecAlert, AlertCarriesTheBanAsADecision) {
  const std::vector<BanReport> bans = {
      {{"198.51.100.7", false}, "authentik-login", "per-ip", 15 * 60 * kS, 1'796'060'358 * kS},
      // Half a second rounds up to a whole one; names are JSON-escaped.
      {{"2001:db8:1::/64", true}, R"(erp "quoted")", "l", kS / 2, 0},
      // A ban at 17:39:18.001 is reported at 17:39:19: it must not end before edgeguard's.
      {{"198.51.100.8", false}, "r", "l", 60 * kS, 1'796'060'358 * kS + 1'000'000},
  };
  const json::value v = json::parse(alerts_body(bans));
  ASSERT_TRUE(v.is_array());
  ASSERT_EQ(v.get_array().size(), 3u);
  const json::object& a = v.get_array()[0].get_object();
  // Every field LAPI's swagger requires of an alert.
  for (const char* field :
       {"scenario", "scenario_hash", "scenario_version", "message", "events_count", "start_at",
        "stop_at", "capacity", "leakspeed", "simulated", "events", "source"}) {
    EXPECT_TRUE(a.contains(field)) << field;
  }
  EXPECT_EQ(a.at("scenario"), "edgeguard/authentik-login/per-ip");
  EXPECT_EQ(a.at("start_at"), "2026-11-30T17:39:18Z");
  EXPECT_EQ(a.at("simulated"), false);
  EXPECT_EQ(a.at("source").at("scope"), "Ip");
  EXPECT_EQ(a.at("source").at("value"), "198.51.100.7");
  EXPECT_EQ(a.at("source").at("ip"), "198.51.100.7");
  const json::object& d = a.at("decisions").get_array().at(0).get_object();
  EXPECT_EQ(d.at("origin"), "edgeguard");
  EXPECT_EQ(d.at("type"), "ban");
  EXPECT_EQ(d.at("scope"), "Ip");
  EXPECT_EQ(d.at("value"), "198.51.100.7");
  EXPECT_EQ(d.at("duration"), "15m0s");
  EXPECT_EQ(d.at("scenario"), "edgeguard/authentik-login/per-ip");

  const json::object& b = v.get_array()[1].get_object();
  EXPECT_EQ(b.at("scenario"), "edgeguard/erp \"quoted\"/l");
  EXPECT_EQ(b.at("source").at("scope"), "Range");
  EXPECT_EQ(b.at("source").at("range"), "2001:db8:1::/64");
  EXPECT_EQ(b.at("decisions").get_array().at(0).at("duration"), "1s");
  EXPECT_EQ(b.at("start_at"), "1970-01-01T00:00:00Z");
  EXPECT_EQ(v.get_array()[2].at("stop_at"), "2026-11-30T17:39:19Z");
}

TEST(CrowdsecAlert, LoginBodyAndAnswer) {
  const std::vector<std::string> scenarios = {"edgeguard/a/b"};
  const json::value body = json::parse(login_body("edgeguard", "p\"w", scenarios));
  EXPECT_EQ(body.at("machine_id"), "edgeguard");
  EXPECT_EQ(body.at("password"), "p\"w");
  EXPECT_EQ(body.at("scenarios").at(0), "edgeguard/a/b");

  // Recorded from crowdsec 1.4.6.
  const auto answer = parse_login_answer(
      R"({"code":200,"expire":"2026-11-30T18:39:13Z","token":"eyJhbGciOiJIUzI1NiJ9.e30.x"})");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->token, "eyJhbGciOiJIUzI1NiJ9.e30.x");
  EXPECT_EQ(answer->expire_unix_s, 1'796'063'953);
  EXPECT_FALSE(parse_login_answer(R"({"code":401,"message":"incorrect Username or Password"})"));
  EXPECT_FALSE(parse_login_answer(R"({"token":"a b"})"));
  EXPECT_FALSE(parse_login_answer("garbage"));
  const auto no_expire = parse_login_answer(R"({"token":"t","expire":"soon"})");
  ASSERT_TRUE(no_expire);
  EXPECT_EQ(no_expire->expire_unix_s, 0);
}

TEST(CrowdsecAlert, Rfc3339) {
  EXPECT_EQ(parse_rfc3339_unix_s("2026-11-30T18:39:13Z"), 1'796'063'953);
  EXPECT_EQ(parse_rfc3339_unix_s("2026-11-30T18:39:13.123456Z"), 1'796'063'953);
  EXPECT_EQ(parse_rfc3339_unix_s("2026-11-30T19:39:13+01:00"), 1'796'063'953);
  EXPECT_EQ(parse_rfc3339_unix_s("2026-11-30T17:09:13-01:30"), 1'796'063'953);
  for (const char* bad : {"", "2026-11-30", "2026-11-30T18:39:13", "2026-13-30T18:39:13Z",
                          "2026-11-30T18:39:13Zjunk", "2026-11-30T18:39:13.Z"}) {
    EXPECT_FALSE(parse_rfc3339_unix_s(bad)) << bad;
  }
  EXPECT_EQ(format_rfc3339(1'796'063'953 * kS + 999), "2026-11-30T18:39:13Z");
}

}  // namespace
}  // namespace edgeguard
