#include "guard/crowdsec/decision_stream.h"

#include <gtest/gtest.h>

#include <string>

namespace edgeguard {
namespace {

constexpr ScopeMask kAll = scope_bit(DecisionScope::ip) | scope_bit(DecisionScope::range) |
                           scope_bit(DecisionScope::country) | scope_bit(DecisionScope::as);

std::string entry(const std::string& scope, const std::string& value,
                  const std::string& duration = "4h", const std::string& type = "ban", int id = 1) {
  return R"({"duration":")" + duration + R"(","id":)" + std::to_string(id) +
         R"(,"origin":"cscli","scenario":"manual 'ban' from 'm'","scope":")" + scope +
         R"(","type":")" + type + R"(","value":")" + value + R"("})";
}

TEST(CrowdsecStream, ReadsLapisAnswer) {
  // Recorded from Debian's crowdsec 1.4.6 (cscli decisions add, then an expiry).
  const std::string body =
      R"({"deleted":[{"duration":"-88.943203ms","id":5,"origin":"cscli","scenario":"manual 'ban' from 'm'","scope":"Ip","type":"ban","value":"2001:db8::1"}],)"
      R"("new":[{"duration":"58.41162554s","id":2,"origin":"cscli","scenario":"manual 'captcha' from 'm'","scope":"Range","type":"captcha","value":"10.0.0.0/8"},)"
      R"({"duration":"3h59m58.411495037s","id":1,"origin":"cscli","scenario":"test1","scope":"Ip","type":"ban","value":"1.2.3.4"}]})";
  StreamUpdate u;
  std::string error;
  ASSERT_TRUE(parse_decision_stream(body, kDefaultScopes, u, &error)) << error;
  ASSERT_EQ(u.added.size(), 2u);
  ASSERT_EQ(u.deleted.size(), 1u);
  EXPECT_EQ(u.skipped, 0u);

  const StreamDecision& range = u.added[0];
  EXPECT_EQ(range.id, 2);
  EXPECT_EQ(range.scope, DecisionScope::range);
  EXPECT_EQ(range.type, DecisionType::captcha);
  EXPECT_EQ(range.type_name, "captcha");
  EXPECT_EQ(range.address, *IpAddress::parse("10.0.0.0"));
  EXPECT_EQ(range.prefix, 8);
  EXPECT_EQ(range.duration_ns, 58'411'625'540);
  EXPECT_EQ(range.scenario, "manual 'captcha' from 'm'");
  EXPECT_EQ(range.origin, "cscli");

  const StreamDecision& ip = u.added[1];
  EXPECT_EQ(ip.scope, DecisionScope::ip);
  EXPECT_EQ(ip.type, DecisionType::ban);
  EXPECT_EQ(ip.address, *IpAddress::parse("1.2.3.4"));
  EXPECT_EQ(ip.prefix, 32);
  EXPECT_EQ(ip.scenario, "test1");

  EXPECT_EQ(u.deleted[0].id, 5);
  EXPECT_EQ(u.deleted[0].address, *IpAddress::parse("2001:db8::1"));
  EXPECT_EQ(u.deleted[0].duration_ns, -88'943'203);
}

TEST(CrowdsecStream, NullAndEmptyAndAbsentListsAreNothing) {
  for (const char* body : {R"({"new":null,"deleted":null})", R"({"new":[],"deleted":[]})", "{}",
                           R"({"new":null,"deleted":null,"extra":1})"}) {
    StreamUpdate u;
    std::string error;
    EXPECT_TRUE(parse_decision_stream(body, kDefaultScopes, u, &error)) << body << ": " << error;
    EXPECT_TRUE(u.empty()) << body;
  }
}

TEST(CrowdsecStream, ABodyThatIsNotAStreamAnswerIsAnError) {
  for (const char* body :
       {"", "not json", "[]", "null", R"({"new":{}})", R"({"new":"x"})", R"({"deleted":5})",
        R"({"new":[)", "{\"new\":[]} trailing", R"({"new":[[[[[[[[[[]]]]]]]]]]})"}) {
    StreamUpdate u;
    std::string error;
    EXPECT_FALSE(parse_decision_stream(body, kDefaultScopes, u, &error)) << body;
    EXPECT_FALSE(error.empty()) << body;
  }
}

TEST(CrowdsecStream, ScopesAreReadInAnyCaseAndOnlyWhenConfigured) {
  const std::string body = "{\"new\":[" + entry("Ip", "192.0.2.1") + "," +
                           entry("ip", "192.0.2.2") + "," + entry("RANGE", "192.0.2.0/24") + "," +
                           entry("Country", "fr") + "," + entry("AS", "64496") + "," +
                           entry("as", "AS64497") + "," + entry("Username", "alice") + "]}";
  {
    StreamUpdate u;
    std::string error;
    ASSERT_TRUE(parse_decision_stream(body, kDefaultScopes, u, &error)) << error;
    EXPECT_EQ(u.added.size(), 3u);
    EXPECT_EQ(u.skipped, 4u);  // country, two AS, Username
  }
  StreamUpdate u;
  std::string error;
  ASSERT_TRUE(parse_decision_stream(body, kAll, u, &error)) << error;
  ASSERT_EQ(u.added.size(), 6u);
  EXPECT_EQ(u.skipped, 1u);
  EXPECT_EQ(u.first_skip, "a scope edgeguard does not match on");
  EXPECT_EQ(u.added[3].scope, DecisionScope::country);
  EXPECT_EQ(u.added[3].target, pack_country('F', 'R'));  // upper-cased
  EXPECT_EQ(u.added[4].scope, DecisionScope::as);
  EXPECT_EQ(u.added[4].target, 64496u);
  EXPECT_EQ(u.added[5].target, 64497u);
}

TEST(CrowdsecStream, RangesAreNormalised) {
  struct Case {
    const char* value;
    const char* address;
    int prefix;
  };
  const Case cases[] = {
      {"10.1.2.3/8", "10.0.0.0", 8},  // host bits cleared, not refused
      {"2001:db8::1/32", "2001:db8::", 32},
      {"::ffff:10.1.0.0/112", "10.1.0.0", 16},  // a mapped IPv4 range is that IPv4 range
      {"0.0.0.0/0", "0.0.0.0", 0},
      {"192.0.2.7/32", "192.0.2.7", 32},
  };
  for (const Case& c : cases) {
    StreamUpdate u;
    std::string error;
    ASSERT_TRUE(parse_decision_stream("{\"new\":[" + entry("Range", c.value) + "]}", kDefaultScopes,
                                      u, &error));
    ASSERT_EQ(u.added.size(), 1u) << c.value;
    EXPECT_EQ(u.added[0].address, *IpAddress::parse(c.address)) << c.value;
    EXPECT_EQ(u.added[0].prefix, c.prefix) << c.value;
  }
}

TEST(CrowdsecStream, UnusableEntriesAreSkippedNotFatal) {
  const std::string bad[] = {
      entry("Ip", "1.2.3"),
      entry("Ip", "1.2.3.4/32"),
      entry("Range", "10.0.0.0"),
      entry("Range", "10.0.0.0/33"),
      entry("Range", "::ffff:1.2.3.4/64"),
      entry("Country", "FRA"),
      entry("Country", "F1"),
      entry("AS", "0"),
      entry("AS", "4294967296"),
      entry("AS", "-1"),
      entry("Ip", "1.2.3.4", "4d"),
      entry("Ip", "1.2.3.4", ""),
      R"({"scope":"Ip","value":5,"duration":"1h"})",
      R"("a string")",
      R"({"scope":"Ip","value":"1.2.3.4"})",
  };
  std::string body = "{\"new\":[";
  for (const std::string& e : bad) body += e + ",";
  body += entry("Ip", "198.51.100.9") + "]}";
  StreamUpdate u;
  std::string error;
  ASSERT_TRUE(parse_decision_stream(body, kAll, u, &error)) << error;
  ASSERT_EQ(u.added.size(), 1u);
  EXPECT_EQ(u.added[0].address, *IpAddress::parse("198.51.100.9"));
  EXPECT_EQ(u.skipped, std::size(bad));
}

TEST(CrowdsecStream, DeletionsNeedNoDuration) {
  StreamUpdate u;
  std::string error;
  ASSERT_TRUE(
      parse_decision_stream(R"({"deleted":[{"id":9,"scope":"Ip","value":"1.2.3.4","type":"ban"}]})",
                            kDefaultScopes, u, &error));
  ASSERT_EQ(u.deleted.size(), 1u);
  EXPECT_EQ(u.deleted[0].key(), 9);
}

TEST(CrowdsecStream, TypesOtherThanBanAndCaptchaKeepTheirName) {
  StreamUpdate u;
  std::string error;
  ASSERT_TRUE(parse_decision_stream("{\"new\":[" + entry("Ip", "192.0.2.1", "1h", "throttle") +
                                        "," + entry("Ip", "192.0.2.2", "1h", "Captcha") + "]}",
                                    kDefaultScopes, u, &error));
  ASSERT_EQ(u.added.size(), 2u);
  EXPECT_EQ(u.added[0].type, DecisionType::other);
  EXPECT_EQ(u.added[0].type_name, "throttle");
  EXPECT_EQ(u.added[1].type, DecisionType::captcha);
}

TEST(CrowdsecStream, EntriesWithoutIdGetAStableKeyOfTheirOwn) {
  const char* body =
      R"({"new":[{"scope":"Ip","value":"1.2.3.4","type":"ban","duration":"1h","scenario":"a","origin":"o"},)"
      R"({"scope":"Ip","value":"1.2.3.4","type":"ban","duration":"2h","scenario":"b","origin":"o"}],)"
      R"("deleted":[{"scope":"Ip","value":"1.2.3.4","type":"ban","scenario":"a","origin":"o"}]})";
  StreamUpdate u;
  std::string error;
  ASSERT_TRUE(parse_decision_stream(body, kDefaultScopes, u, &error));
  ASSERT_EQ(u.added.size(), 2u);
  EXPECT_LT(u.added[0].key(), 0);  // never a real (positive) id
  EXPECT_NE(u.added[0].key(), u.added[1].key());
  EXPECT_EQ(u.added[0].key(), u.deleted[0].key());
}

}  // namespace
}  // namespace edgeguard
