// The access-log line parser: the fields it picks, what it skips, what it refuses.
#include "guard/accesslog/access_log.h"

#include <gtest/gtest.h>

namespace edgeguard {
namespace {

// A line as Traefik v3 writes it with `format: json` (field order is alphabetical there).
constexpr std::string_view kTraefikLine =
    R"({"ClientAddr":"203.0.113.7:51234","ClientHost":"203.0.113.7","ClientPort":"51234",)"
    R"("ClientUsername":"-","DownstreamContentSize":0,"DownstreamStatus":204,"Duration":1830475,)"
    R"("OriginContentSize":0,"OriginDuration":1700000,"OriginStatus":204,"Overhead":130475,)"
    R"("RequestAddr":"auth.example.net","RequestContentSize":0,"RequestCount":42,)"
    R"("RequestHost":"auth.example.net","RequestMethod":"POST",)"
    R"("RequestPath":"/api/v3/flows/executor/default/?query=next%3D%2F","RequestPort":"-",)"
    R"("RequestProtocol":"HTTP/2.0","RequestScheme":"https","RetryAttempts":0,)"
    R"("RouterName":"authentik@docker","ServiceAddr":"10.0.0.5:9000",)"
    R"("ServiceURL":{"Scheme":"http","Opaque":"","User":null,"Host":"10.0.0.5:9000"},)"
    R"("StartLocal":"2024-05-01T14:00:00.123456789+02:00","StartUTC":"2024-05-01T12:00:00.123456789Z",)"
    R"("TLSCipher":"TLS_AES_128_GCM_SHA256","entryPointName":"websecure","level":"info",)"
    R"("msg":"","request_X-Forwarded-For":"198.51.100.9","time":"2024-05-01T14:00:00+02:00"})";

TEST(AccessLogTest, PicksTheRequestFieldsOfATraefikLine) {
  AccessLogParser parser({"X-Forwarded-For"});
  AccessRecord r;
  ASSERT_EQ(parser.parse(kTraefikLine, r), nullptr);
  EXPECT_EQ(r.client_host, "203.0.113.7");
  EXPECT_EQ(r.request_host, "auth.example.net");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/v3/flows/executor/default/?query=next%3D%2F");
  // 2024-05-01T12:00:00Z is 1714564800 s after the epoch.
  EXPECT_EQ(r.start_ns, 1714564800LL * 1'000'000'000 + 123456789);
  EXPECT_TRUE(r.header_present[0]);
  EXPECT_EQ(r.headers[0], "198.51.100.9");
  // What failures read: the router (qualified by its provider) and the status the client got.
  EXPECT_EQ(r.router_name, "authentik@docker");
  EXPECT_EQ(r.downstream_status, 204);
  EXPECT_EQ(r.client_addr, "203.0.113.7:51234");
}

TEST(AccessLogTest, RouterAndStatusAreOptionalButNeverGuessed) {
  AccessLogParser parser;
  AccessRecord r;
  const std::string head =
      R"({"ClientHost":"198.51.100.7","RequestHost":"erp.example.net","RequestMethod":"POST",)"
      R"("RequestPath":"/api/method/login","StartUTC":"2024-05-01T12:00:00Z")";
  // The record's strings are views into the line: each line lives as long as its checks.
  // Traefik's own 404 (no router matched) has no RouterName; fields can be dropped in its config.
  const std::string bare = head + "}";
  ASSERT_EQ(parser.parse(bare, r), nullptr);
  EXPECT_EQ(r.router_name, "");
  EXPECT_EQ(r.downstream_status, 0);
  EXPECT_EQ(r.client_addr, "");
  const std::string full = head + R"(,"DownstreamStatus":401,"RouterName":"erp@docker"})";
  ASSERT_EQ(parser.parse(full, r), nullptr);
  EXPECT_EQ(r.downstream_status, 401);
  EXPECT_EQ(r.router_name, "erp@docker");
  // Escapes in the router name decode like every other string.
  const std::string escaped = head + R"(,"RouterName":"erp\u0040docker"})";
  ASSERT_EQ(parser.parse(escaped, r), nullptr);
  EXPECT_EQ(r.router_name, "erp@docker");
  // A record that parses after one that had them carries neither.
  ASSERT_EQ(parser.parse(bare, r), nullptr);
  EXPECT_EQ(r.downstream_status, 0);
  EXPECT_EQ(r.router_name, "");
  for (const char* bad : {R"("401")", "401.0", "-401", "4010", "4e2", "null", "true"}) {
    const std::string line = head + R"(,"DownstreamStatus":)" + bad + "}";
    const char* why = parser.parse(line, r);
    ASSERT_NE(why, nullptr) << line;
    EXPECT_EQ(std::string(why), "DownstreamStatus is not a status code") << line;
  }
  const std::string router_number = head + R"(,"RouterName":7})";
  const char* why = parser.parse(router_number, r);
  ASSERT_NE(why, nullptr);
  EXPECT_EQ(std::string(why), "a request field is not a string");
}

TEST(AccessLogTest, HeaderFieldsMatchCaseInsensitivelyAndOnlyWhenAsked) {
  AccessRecord r;
  AccessLogParser none;
  ASSERT_EQ(none.parse(kTraefikLine, r), nullptr);
  EXPECT_FALSE(r.header_present[0]);
  AccessLogParser lower({"x-forwarded-for", "X-Tenant"});
  const std::string line =
      R"({"ClientHost":"::1","RequestHost":"h","RequestMethod":"GET","RequestPath":"/",)"
      R"("StartUTC":"2024-05-01T12:00:00Z","request_X-Tenant":"acme"})";
  ASSERT_EQ(lower.parse(line, r), nullptr);
  EXPECT_FALSE(r.header_present[0]);
  EXPECT_TRUE(r.header_present[1]);
  EXPECT_EQ(r.headers[1], "acme");
}

TEST(AccessLogTest, DecodesEscapesAndSkipsNestedValues) {
  AccessLogParser parser;
  AccessRecord r;
  const std::string line =
      R"( { "x" : [1, {"a": "}\"]"}, [], null], "RequestPath" : "/a\u0026b\/c\"d\u00e9",)"
      R"( "ClientHost":"203.0.113.7", "y": -1.5e3, "z": true, "RequestHost":"h\\x",)"
      R"( "RequestMethod":"GET", "StartUTC":"2024-05-01T12:00:00Z" } )";
  ASSERT_EQ(parser.parse(line, r), nullptr);
  EXPECT_EQ(r.path, "/a&b/c\"d\xc3\xa9");
  EXPECT_EQ(r.request_host, "h\\x");
  EXPECT_EQ(r.client_host, "203.0.113.7");
}

TEST(AccessLogTest, RefusesWhatIsNotARecord) {
  AccessLogParser parser;
  AccessRecord r;
  const std::string ok_tail =
      R"("RequestHost":"h","RequestMethod":"GET","RequestPath":"/","StartUTC":"2024-05-01T12:00:00Z")";
  const struct {
    std::string line;
    std::string error;
  } cases[] = {
      {"127.0.0.1 - - [01/May/2024:12:00:00 +0000] \"GET / HTTP/1.1\" 200", "not a JSON object"},
      {"{\"ClientHost\":\"1.2.3.4\"", "malformed JSON"},
      {"{\"ClientHost\":\"1.2.3.4\"," + ok_tail + "} trailing", "text after the JSON object"},
      {"{" + ok_tail + "}", "missing ClientHost"},
      {R"({"ClientHost":7,)" + ok_tail + "}", "a request field is not a string"},
      {R"({"ClientHost":"1.2.3.4","RequestHost":"h","RequestMethod":"GET","RequestPath":"/",)"
       R"("StartUTC":"yesterday"})",
       "StartUTC is not an RFC 3339 time"},
      {R"({"ClientHost":"1.2\q","RequestHost":"h","RequestMethod":"GET","RequestPath":"/",)"
       R"("StartUTC":"2024-05-01T12:00:00Z"})",
       "bad escape in a string"},
  };
  for (const auto& c : cases) {
    const char* why = parser.parse(c.line, r);
    ASSERT_NE(why, nullptr) << c.line;
    EXPECT_EQ(std::string(why), c.error) << c.line;
  }
}

TEST(AccessLogTest, Rfc3339) {
  const std::int64_t base = 1714564800LL * 1'000'000'000;  // 2024-05-01T12:00:00Z
  EXPECT_EQ(parse_rfc3339_ns("2024-05-01T12:00:00Z"), base);
  EXPECT_EQ(parse_rfc3339_ns("2024-05-01T12:00:00.5Z"), base + 500'000'000);
  EXPECT_EQ(parse_rfc3339_ns("2024-05-01T14:30:00.000000001+02:30"), base + 1);
  EXPECT_EQ(parse_rfc3339_ns("2024-05-01T07:00:00-05:00"), base);
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ns("2000-02-29T00:00:00Z"), 951782400LL * 1'000'000'000);
  for (const char* bad :
       {"2024-05-01", "2024-05-01T12:00:00", "2024-13-01T12:00:00Z", "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00Zjunk", "2024-05-01T12:00:00+0200",
        // Beyond what int64 nanoseconds hold (computing them would overflow).
        "2262-04-12T00:00:00Z", "9999-12-31T23:59:59Z", "1677-09-21T00:00:00Z",
        "0000-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parse_rfc3339_ns(bad).has_value()) << bad;
  }
  EXPECT_EQ(parse_rfc3339_ns("2262-04-11T00:00:00Z"), 9223286400LL * 1'000'000'000);
  EXPECT_EQ(parse_rfc3339_ns("1677-09-22T00:00:00Z"), -9223286400LL * 1'000'000'000);
  EXPECT_EQ(format_rfc3339(base + 999'999'999), "2024-05-01T12:00:00Z");
  EXPECT_EQ(format_rfc3339(951782400LL * 1'000'000'000), "2000-02-29T00:00:00Z");
}

}  // namespace
}  // namespace edgeguard
