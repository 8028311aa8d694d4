// The admin API's request parsing: one flat JSON object (json_fields.h), the typed ban request
// against a policy (ban_request.h), and the %-decoding of a path's subject. Every refusal names
// the field at fault when there is one.
#include <gtest/gtest.h>

#include <string>

#include "guard/admin/admin_router.h"
#include "guard/admin/ban_request.h"
#include "guard/admin/json_fields.h"
#include "guard/config/policy_loader.h"

namespace edgeguard {
namespace {

TEST(JsonFields, ReadsScalarsInOrder) {
  FieldError error;
  const auto f = parse_json_fields(
      R"( {"s": "a\u00e9\"b", "n": -1.5e3, "t": true, "f": false, "z": null, "i": 7} )", &error);
  ASSERT_TRUE(f) << error.detail;
  ASSERT_EQ(f->size(), 6u);
  EXPECT_EQ((*f)[0].name, "s");
  EXPECT_EQ((*f)[0].value.kind, JsonScalar::Kind::string);
  EXPECT_EQ((*f)[0].value.text, "a\xc3\xa9\"b");
  EXPECT_EQ((*f)[1].value.kind, JsonScalar::Kind::number);
  EXPECT_EQ((*f)[1].value.text, "-1.5e3");
  EXPECT_EQ((*f)[2].value.kind, JsonScalar::Kind::boolean);
  EXPECT_EQ((*f)[3].value.text, "false");
  EXPECT_EQ((*f)[4].value.kind, JsonScalar::Kind::null);
  EXPECT_EQ((*f)[5].value.text, "7");
  EXPECT_TRUE(parse_json_fields("{}", &error));
}

TEST(JsonFields, RefusesAnythingButOneFlatObject) {
  struct Case {
    const char* body;
    const char* field;
    const char* detail;
  };
  std::string many = "{";
  for (int i = 0; i <= static_cast<int>(kMaxJsonFields); ++i) {
    many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  }
  many += "}";
  const Case cases[] = {
      {"", "", "the body is empty"},
      {" \r\n", "", "the body is empty"},
      {"subject=ip:1.2.3.4", "", "not JSON"},
      {"{\"a\": 1", "", "not JSON"},
      {"{\"a\": 1,}", "", "not JSON"},
      {"{'a': 1}", "", "not JSON"},
      {"{\"a\": 1} // c", "", "bytes after"},
      {"{\"a\": \"\xff\"}", "", "not JSON"},
      {"[{\"a\": 1}]", "", "not an array"},
      {"\"ip:1.2.3.4\"", "", "must be a JSON object"},
      {"42", "", "must be a JSON object"},
      {"null", "", "must be a JSON object"},
      {"{\"a\": 1}{\"b\": 2}", "", "bytes after its JSON object"},
      {"{\"a\": 1} x", "", "bytes after"},
      {"{\"a\": {\"b\": 1}}", "a", "not an object"},
      {"{\"a\": [1]}", "a", "not an array"},
      {"{\"a\": 1, \"a\": 2}", "a", "given twice"},
      {many.c_str(), "", "more than 32 fields"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    FieldError error;
    EXPECT_FALSE(parse_json_fields(c.body, &error));
    EXPECT_EQ(error.field, c.field);
    EXPECT_NE(error.detail.find(c.detail), std::string::npos) << error.detail;
  }
}

TEST(ClientText, IsPrintableAsciiAndBounded) {
  EXPECT_EQ(quote_client_text("ab\x01\xff"
                              "c"),
            "'ab??c'");
  EXPECT_EQ(quote_client_text(std::string(100, 'x'), 4), "'xxxx...'");
  EXPECT_TRUE(is_valid_utf8("user:\xc3\xa9l\xc3\xa8ve \xf0\x9f\x94\x91"));
  for (const char* bad :
       {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x80\xaf"}) {
    EXPECT_FALSE(is_valid_utf8(bad)) << bad;
  }
  EXPECT_EQ(to_valid_utf8("a\xff"
                          "b\xc3\xa9"),
            "a\xef\xbf\xbd"
            "b\xc3\xa9");
}

const Policy& policy() {
  static const auto load = parse_policy(
      "client_ip: {ipv6_prefix: 56}\n"
      "routes:\n"
      "  - name: login\n    hosts: [auth.example.com]\n"
      "  - name: erp\n    hosts: [erp.example.com]\n",
      "t.yaml");
  EXPECT_TRUE(load.policy) << load.error;
  return *load.policy;
}

TEST(BanRequest, ReadsAndCanonicalises) {
  struct Case {
    const char* body;
    const char* subject;
    const char* route;
    std::int64_t for_ns;
  };
  const Case cases[] = {
      {R"({"subject": "ip:203.0.113.9", "for": "1h"})", "ip:203.0.113.9", "*", 3'600'000'000'000},
      {R"({"for": "15m", "route": "login", "subject": "ip:203.0.113.9"})", "ip:203.0.113.9",
       "login", 900'000'000'000},
      {R"({"subject": "ip:2001:db8:0:1ff::7", "for": "30s", "route": "*"})",
       "ip:2001:db8:0:100::/56", "*", 30'000'000'000},
      {R"({"subject": "ip:::ffff:203.0.113.9", "for": "1s"})", "ip:203.0.113.9", "*",
       1'000'000'000},
      {R"({"subject": "user:alice", "for": "8760h", "route": "erp"})", "user:alice", "erp",
       kMaxBanNs},
      {R"({"subject": "key:erp/per-tenant/acme", "for": "2h30m", "route": "erp"})",
       "key:erp/per-tenant/acme", "erp", 9'000'000'000'000},
      {R"({"subject": "ip:203.0.113.9", "for": "600"})", "ip:203.0.113.9", "*", 600'000'000'000},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    FieldError error;
    const auto r = parse_ban_request(c.body, policy(), &error);
    ASSERT_TRUE(r) << error.field << ": " << error.detail;
    EXPECT_EQ(r->subject, c.subject);
    EXPECT_EQ(r->route, c.route);
    EXPECT_EQ(r->for_ns, c.for_ns);
  }
}

TEST(BanRequest, RefusesNamingTheField) {
  struct Case {
    const char* body;
    const char* field;
    const char* detail;
  };
  const Case cases[] = {
      {R"({"for": "1h"})", "subject", "subject is required"},
      {R"({"subject": "ip:203.0.113.9"})", "for", "for is required"},
      {R"({"subject": "ip:203.0.113.9", "for": "1h", "reason": "x"})", "reason",
       "unknown field 'reason'"},
      {R"({"Subject": "ip:203.0.113.9", "for": "1h"})", "Subject", "unknown field"},
      {R"({"subject": "mac:00:11:22:33:44:55", "for": "1h"})", "subject",
       "a subject is ip:<address>"},
      {R"({"subject": "ip:203.0.113.300", "for": "1h"})", "subject", "IPv4 or IPv6"},
      {R"({"subject": "ip:2001:db8::/64", "for": "1h"})", "subject", "ipv6_prefix"},
      {R"({"subject": "user:", "for": "1h"})", "subject", "login name"},
      {R"({"subject": "user:a\u0000b", "for": "1h"})", "subject", "control characters"},
      {R"({"subject": 203, "for": "1h"})", "subject", "must be a string, not a number"},
      {R"({"subject": null, "for": "1h"})", "subject", "not null"},
      {R"({"subject": "ip:203.0.113.9", "for": 3600})", "for", "must be a string, not a number"},
      {R"({"subject": "ip:203.0.113.9", "for": true})", "for", "not true or false"},
      {R"({"subject": "ip:203.0.113.9", "for": "-1s"})", "for", "not a duration"},
      {R"({"subject": "ip:203.0.113.9", "for": "10000d"})", "for", "'10000d'"},
      {R"({"subject": "ip:203.0.113.9", "for": "1 h"})", "for", "not a duration"},
      {R"({"subject": "ip:203.0.113.9", "for": ""})", "for", "not a duration"},
      {R"({"subject": "ip:203.0.113.9", "for": "0s"})", "for", "out of range"},
      {R"({"subject": "ip:203.0.113.9", "for": "999ms"})", "for", "out of range"},
      // Requests that match no route are never refused by a ban: no ban names that route.
      {R"({"subject": "ip:203.0.113.9", "for": "1h", "route": "default"})", "route",
       "is not a route of the policy"},
      {R"({"subject": "ip:203.0.113.9", "for": "8760h1s"})", "for", "out of range"},
      {R"({"subject": "ip:203.0.113.9", "for": "10000h"})", "for", "out of range"},
      {R"({"subject": "ip:203.0.113.9", "for": "1e30h"})", "for", "not a duration"},
      {R"({"subject": "ip:203.0.113.9", "for": "1h", "route": "nope"})", "route",
       "not a route of the policy"},
      {R"({"subject": "ip:203.0.113.9", "for": "1h", "route": ""})", "route", "not a route"},
      {R"({"subject": "ip:203.0.113.9", "for": "1h", "route": "all"})", "route", "not a route"},
      {R"({"subject": "ip:203.0.113.9", "for": "1h", "route": ["login"]})", "route",
       "not an array"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    FieldError error;
    EXPECT_FALSE(parse_ban_request(c.body, policy(), &error));
    EXPECT_EQ(error.field, c.field);
    EXPECT_NE(error.detail.find(c.detail), std::string::npos) << error.detail;
  }
}

TEST(UnbanSubject, IsCanonicalAndUtf8) {
  FieldError error;
  EXPECT_EQ(parse_unban_subject("ip:2001:db8::1", policy(), &error), "ip:2001:db8::/56");
  EXPECT_EQ(parse_unban_subject("user:\xc3\xa9lise", policy(), &error), "user:\xc3\xa9lise");
  EXPECT_FALSE(parse_unban_subject("user:\xff", policy(), &error));
  EXPECT_EQ(error.field, "subject");
  EXPECT_FALSE(parse_unban_subject("", policy(), &error));
  EXPECT_FALSE(parse_unban_subject("203.0.113.9", policy(), &error));
}

TEST(PercentCoding, DecodesAPathSegmentAndRoundTrips) {
  EXPECT_EQ(percent_decode("ip%3A2001%3adb8%3A%3A%2F64"), "ip:2001:db8::/64");
  EXPECT_EQ(percent_decode("user:a+b"), "user:a+b");
  EXPECT_EQ(percent_decode("key:erp/t/a%20b"), "key:erp/t/a b");
  for (const char* bad : {"%", "%4", "%zz", "a%g1", "%%"}) {
    EXPECT_FALSE(percent_decode(bad)) << bad;
  }
  const std::string odd = "key:r/l/a b?c#d%e/\xc3\xa9\x01";
  EXPECT_EQ(percent_decode(percent_encode(odd)), odd);
  EXPECT_EQ(percent_encode("ip:2001:db8::/64"), "ip:2001:db8::%2F64");
}

}  // namespace
}  // namespace edgeguard
