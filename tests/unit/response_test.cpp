// The response bytes (guard/http/response.cpp): header values that a node list controls lose
// their control bytes (no response splitting); a denial's problem body is framed by its
// Content-Length and parses; what was already in the output buffer stays as it was.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "guard/clock/clock.h"
#include "guard/http/response.h"
#include "guard/tailnet/node_directory.h"
#include "guard/text/rfc3339.h"

namespace edgeguard {
namespace {

// Splits one response into its head lines and its body, checking the framing on the way.
struct Parsed {
  std::vector<std::string> lines;
  std::string body;
};

Parsed parse_response(std::string_view out) {
  Parsed p;
  const auto end = out.find("\r\n\r\n");
  EXPECT_NE(end, std::string_view::npos);
  std::size_t pos = 0;
  long long length = -1;
  while (pos < end + 2) {
    const auto eol = out.find("\r\n", pos);
    const std::string line(out.substr(pos, eol - pos));
    for (const char c : line) {
      const auto u = static_cast<unsigned char>(c);
      EXPECT_TRUE(u >= 0x20 && u != 0x7f) << line;
    }
    if (line.starts_with("Content-Length: ")) length = std::stoll(line.substr(16));
    p.lines.push_back(line);
    pos = eol + 2;
  }
  p.body = std::string(out.substr(end + 4));
  EXPECT_EQ(length, static_cast<long long>(p.body.size()));
  return p;
}

bool has_line(const Parsed& p, std::string_view line) {
  return std::find(p.lines.begin(), p.lines.end(), line) != p.lines.end();
}

TEST(Response, AnEnrolledNodesIdentityCannotSplitTheResponse) {
  DirectoryEntry entry{{"n1\r", "laptop", "alice@example.com\r\nSet-Cookie: s=1", "", {}, {}},
                       "tag:admin,\ntag:ops"};
  Facts facts;
  facts.node = &entry;
  facts.geo.asn = 64496;
  std::string out = "HTTP/1.1 200 OK\r\n\r\n";  // the answer before, on a kept-alive connection
  write_decision(out, Decision{}, facts, true);
  ASSERT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK\r\n"));
  const Parsed p = parse_response(std::string_view(out).substr(19));
  EXPECT_TRUE(has_line(p, "X-Edgeguard-Route: default"));
  EXPECT_TRUE(has_line(p, "X-Edgeguard-Asn: 64496"));
  EXPECT_TRUE(has_line(p, "Tailscale-User: alice@example.comSet-Cookie: s=1"));  // login, no name
  EXPECT_TRUE(has_line(p, "Tailscale-Login: alice@example.comSet-Cookie: s=1"));
  EXPECT_TRUE(has_line(p, "Tailscale-Node: n1"));
  EXPECT_TRUE(has_line(p, "Tailscale-Tags: tag:admin,tag:ops"));
  EXPECT_FALSE(has_line(p, "Set-Cookie: s=1"));
  EXPECT_FALSE(has_line(p, "Connection: close"));
  EXPECT_EQ(p.body, "");
}

TEST(Response, ARateLimitedCallGetsItsRetryAndAProblemBody) {
  Route route;
  route.name = "authentik-login";
  LimitPolicy limit;
  limit.name = "per-ip\"x";
  limit.rate_limit_policy = "\"per-ip\";q=10;w=60";
  route.limits.push_back(limit);
  Decision d;
  d.verdict = Verdict::deny;
  d.reason = Reason::rate_limit;
  d.route = &route;
  d.limit_index = 0;
  d.retry_after_ns = 2'500'000'000;
  std::string out;
  write_decision(out, d, Facts{}, false);
  const Parsed p = parse_response(out);
  EXPECT_EQ(p.lines.front(), "HTTP/1.1 429 Too Many Requests");
  EXPECT_TRUE(has_line(p, "Retry-After: 3"));
  EXPECT_TRUE(has_line(p, "RateLimit-Policy: \"per-ip\";q=10;w=60"));
  EXPECT_TRUE(has_line(p, "RateLimit: \"per-ip\"x\";r=0;t=3"));
  EXPECT_TRUE(has_line(p, "Content-Type: application/problem+json"));
  EXPECT_TRUE(has_line(p, "Connection: close"));
  const boost::json::object body = boost::json::parse(p.body).as_object();
  EXPECT_EQ(body.at("status").as_int64(), 429);
  EXPECT_EQ(body.at("title").as_string(), "Too Many Requests");
  EXPECT_EQ(body.at("reason").as_string(), "rate_limit");
  EXPECT_EQ(body.at("route").as_string(), "authentik-login");
  EXPECT_EQ(body.at("limit").as_string(), "per-ip\"x");
  EXPECT_EQ(body.at("retry_after").as_int64(), 3);
}

TEST(Response, ABanSaysUntilWhen) {
  Route route;
  route.name = "grafana";
  Decision d;
  d.verdict = Verdict::deny;
  d.reason = Reason::ban;
  d.route = &route;
  d.retry_after_ns = 900'000'000'000;
  std::string out;
  const std::int64_t before = unix_ns();
  write_decision(out, d, Facts{}, true);
  const Parsed p = parse_response(out);
  EXPECT_EQ(p.lines.front(), "HTTP/1.1 403 Forbidden");
  EXPECT_TRUE(has_line(p, "Retry-After: 900"));
  const boost::json::object body = boost::json::parse(p.body).as_object();
  EXPECT_EQ(body.at("reason").as_string(), "ban");
  // Now plus the ban's 900 s, as RFC 3339 (the clock may tick a second while writing).
  const std::string until(body.at("until").as_string());
  EXPECT_TRUE(until == format_rfc3339(before + 900'000'000'000) ||
              until == format_rfc3339(unix_ns() + 900'000'000'000))
      << until;
  EXPECT_FALSE(body.contains("limit"));
}

TEST(Response, ProtocolErrorsAndBadRequestsAreFramedProblems) {
  std::string out;
  write_protocol_error(out, 431, "header fields too large: \"X\"\r\n");
  Parsed p = parse_response(out);
  EXPECT_EQ(p.lines.front(), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_TRUE(has_line(p, "Connection: close"));
  EXPECT_EQ(boost::json::parse(p.body).at("detail").as_string(),
            "header fields too large: \"X\"\r\n");

  out.clear();
  write_bad_request(out, BadRequest{"X-Forwarded-Uri", "is not a path"}, true);
  p = parse_response(out);
  EXPECT_EQ(p.lines.front(), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(boost::json::parse(p.body).at("detail").as_string(), "X-Forwarded-Uri is not a path");
}

}  // namespace
}  // namespace edgeguard
