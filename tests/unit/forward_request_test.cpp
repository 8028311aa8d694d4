#include "guard/request/forward_request.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace edgeguard {
namespace {

ForwardHeaders good_headers() {
  ForwardHeaders h;
  h.method = "post";
  h.host = "Auth.SecureNexus.net:443";
  h.uri = "/api/v3/flows/%2e%2e/flows/executor/login/?query=%2e%2e&next=/x";
  h.client_ip = "spoofed, 198.51.100.7";
  h.method_present = h.host_present = h.uri_present = h.client_ip_present = true;
  return h;
}

ParseOutcome parse(const ForwardHeaders& h, RequestScratch& scratch) {
  return parse_forward_request(h, "X-Real-Client", ClientIpStrategy{}, scratch);
}

TEST(ForwardRequest, ParsesAndNormalises) {
  RequestScratch scratch;
  const auto h = good_headers();
  const auto out = parse(h, scratch);
  ASSERT_TRUE(out.ok()) << out.bad.header << " " << out.bad.problem;
  EXPECT_EQ(out.request.method, "POST");
  EXPECT_EQ(out.request.host, "auth.securenexus.net");
  EXPECT_EQ(out.request.path, "/api/v3/flows/executor/login/");
  EXPECT_EQ(out.request.raw_uri, h.uri);
  EXPECT_EQ(out.request.client_ip.to_string(), "198.51.100.7");
}

TEST(ForwardRequest, KeyHeadersAreCarried) {
  RequestScratch scratch;
  auto h = good_headers();
  h.key_headers[1] = "tenant-7";
  const auto out = parse(h, scratch);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.request.key_headers[1], "tenant-7");
}

struct BadCase {
  const char* what;
  std::function<void(ForwardHeaders&)> mutate;
  const char* header;
  const char* problem;
};

TEST(ForwardRequest, EachBadHeaderGivesItsOwnProblem) {
  const std::string long_uri = "/" + std::string(kMaxUriBytes, 'a');
  const std::string long_host = std::string(kMaxHostBytes + 1, 'a');
  const BadCase cases[] = {
      {"no method",
       [](auto& h) {
         h.method_present = false;
         h.method = {};
       },
       "X-Forwarded-Method", "is missing"},
      {"empty method", [](auto& h) { h.method = ""; }, "X-Forwarded-Method", "is missing"},
      {"method with space", [](auto& h) { h.method = "PO ST"; }, "X-Forwarded-Method",
       "is not an HTTP method token"},
      {"method with slash", [](auto& h) { h.method = "GET/"; }, "X-Forwarded-Method",
       "is not an HTTP method token"},
      {"long method", [](auto& h) { h.method = "AVERYVERYLONGMETHODNAME"; }, "X-Forwarded-Method",
       "is too long"},
      {"no host",
       [](auto& h) {
         h.host_present = false;
         h.host = {};
       },
       "X-Forwarded-Host", "is missing"},
      {"empty host", [](auto& h) { h.host = ""; }, "X-Forwarded-Host", "is missing"},
      {"bad host", [](auto& h) { h.host = "user@evil"; }, "X-Forwarded-Host",
       "is not a host name or IP literal"},
      {"bad host port", [](auto& h) { h.host = "auth.net:99999999"; }, "X-Forwarded-Host",
       "is not a host name or IP literal"},
      {"long host", [&](auto& h) { h.host = long_host; }, "X-Forwarded-Host", "is too long"},
      {"no uri",
       [](auto& h) {
         h.uri_present = false;
         h.uri = {};
       },
       "X-Forwarded-Uri", "is missing"},
      {"empty uri", [](auto& h) { h.uri = ""; }, "X-Forwarded-Uri", "is empty"},
      {"only query", [](auto& h) { h.uri = "?a=b"; }, "X-Forwarded-Uri", "is empty"},
      {"relative uri", [](auto& h) { h.uri = "api/v3"; }, "X-Forwarded-Uri",
       "does not start with '/'"},
      {"absolute-form uri", [](auto& h) { h.uri = "http://evil/api"; }, "X-Forwarded-Uri",
       "does not start with '/'"},
      {"bad escape", [](auto& h) { h.uri = "/a%zz"; }, "X-Forwarded-Uri",
       "has a '%' not followed by two hex digits"},
      {"short escape", [](auto& h) { h.uri = "/a%4?x"; }, "X-Forwarded-Uri",
       "has a '%' not followed by two hex digits"},
      {"nul", [](auto& h) { h.uri = "/a%00"; }, "X-Forwarded-Uri", "contains an encoded NUL (%00)"},
      {"long uri", [&](auto& h) { h.uri = long_uri; }, "X-Forwarded-Uri", "is too long"},
      {"no client ip",
       [](auto& h) {
         h.client_ip_present = false;
         h.client_ip = {};
       },
       "X-Real-Client", "is missing"},
      {"empty client ip", [](auto& h) { h.client_ip = " "; }, "X-Real-Client",
       "is missing or empty"},
      {"garbage client ip", [](auto& h) { h.client_ip = "1.2.3.4, garbage"; }, "X-Real-Client",
       "has an entry that is not an IP address"},
  };
  for (const auto& c : cases) {
    RequestScratch scratch;
    auto h = good_headers();
    c.mutate(h);
    const auto out = parse(h, scratch);
    EXPECT_FALSE(out.ok()) << c.what;
    EXPECT_EQ(out.bad.header, c.header) << c.what;
    EXPECT_EQ(out.bad.problem, c.problem) << c.what;
  }
}

TEST(ForwardRequest, TooFewEntriesForDepth) {
  RequestScratch scratch;
  auto h = good_headers();
  h.client_ip = "198.51.100.7";
  const auto out =
      parse_forward_request(h, "X-Forwarded-For", ClientIpStrategy{2, nullptr}, scratch);
  EXPECT_EQ(out.bad.header, "X-Forwarded-For");
  EXPECT_EQ(out.bad.problem, "has fewer entries than client_ip.depth");
}

TEST(ForwardRequest, ScratchIsReusedWithoutLeaking) {
  RequestScratch scratch;
  auto h = good_headers();
  ASSERT_TRUE(parse(h, scratch).ok());
  h.uri = "/b";
  h.host = "x.io";
  h.method = "get";
  const auto out = parse(h, scratch);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.request.path, "/b");
  EXPECT_EQ(out.request.host, "x.io");
  EXPECT_EQ(out.request.method, "GET");
}

}  // namespace
}  // namespace edgeguard
