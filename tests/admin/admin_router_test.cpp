// The admin router without a socket: which endpoint a request head reaches or which refusal it
// gets (404, 405 + Allow, 401 + challenge, 403, 415), who may call (auth_test below), and the
// bans endpoints answering through a TableBanAuthority on an event loop with a fixed clock.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <optional>
#include <string>

#include "guard/admin/admin_router.h"
#include "guard/admin/ban_endpoints.h"
#include "guard/config/policy_loader.h"
#include "tests/admin/table_ban_authority.h"

namespace edgeguard {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";
const IpAddress kLoopback = *IpAddress::parse("127.0.0.1");
const IpAddress kRemote = *IpAddress::parse("198.51.100.7");

std::shared_ptr<Policy> make_policy(const std::string& token) {
  auto load = parse_policy("routes:\n  - name: login\n    hosts: [auth.example.com]\n", "t.yaml");
  EXPECT_TRUE(load.policy) << load.error;
  auto p = std::make_shared<Policy>(*load.policy);
  p->admin.token = token;
  return p;
}

// --- who may call ---------------------------------------------------------------------------

TEST(AdminAuth, LoopbackIs127Slash8AndColonColon1) {
  for (const char* ip : {"127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.2"}) {
    EXPECT_TRUE(is_loopback(*IpAddress::parse(ip))) << ip;
  }
  for (const char* ip : {"128.0.0.1", "10.0.0.1", "192.0.2.2", "::", "::2", "fe80::1", "0.0.0.0",
                         "::ffff:10.0.0.1", "2001:db8::1"}) {
    EXPECT_FALSE(is_loopback(*IpAddress::parse(ip))) << ip;
  }
}

TEST(AdminAuth, BearerTokenParsing) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("BEARER   abc  "), "abc");
  for (const char* bad : {"", "Bearer", "Bearer ", "Bearer  ", "Basic abc", "Bearerabc",
                          "Bearer a b", "Token abc", "Bearer\tabc"}) {
    EXPECT_FALSE(bearer_token(bad)) << bad;
  }
}

TEST(AdminAuth, ConstantTimeEqualIsEquality) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abd", "abc"));
  EXPECT_FALSE(constant_time_equal("ab", "abc"));
  EXPECT_FALSE(constant_time_equal("abcd", "abc"));
  EXPECT_FALSE(constant_time_equal("", "abc"));
  EXPECT_FALSE(constant_time_equal(std::string("abc\0", 4), "abc"));
}

TEST(AdminAuth, EachKindAgainstEachCaller) {
  const auto with_token = make_policy(kToken);
  const auto without = make_policy("");
  const std::string right = std::string("Bearer ") + kToken;
  struct Case {
    const char* what;
    AdminAuth auth;
    const Policy& policy;
    std::string authorization;
    int count;
    IpAddress peer;
    int status;  // 0: admitted
  };
  const AdminAuth own = AdminAuth::bearer([](const Policy& p) {
    return std::string_view(p.admin.token);  // stands in for an endpoint's own token
  });
  const Case cases[] = {
      {"open, remote", AdminAuth::open(), *with_token, "", 0, kRemote, 0},
      {"no token, loopback", AdminAuth::admin_token(), *without, "", 0, kLoopback, 0},
      {"no token, loopback, any header", AdminAuth::admin_token(), *without, "Basic x", 1,
       kLoopback, 0},
      {"no token, remote", AdminAuth::admin_token(), *without, "", 0, kRemote, 403},
      {"no token, remote with a bearer", AdminAuth::admin_token(), *without, right, 1, kRemote,
       403},
      {"token, remote, right", AdminAuth::admin_token(), *with_token, right, 1, kRemote, 0},
      {"token, loopback, missing", AdminAuth::admin_token(), *with_token, "", 0, kLoopback, 401},
      {"token, wrong", AdminAuth::admin_token(), *with_token, "Bearer 0123456789abcdef", 1,
       kLoopback, 401},
      {"token, longer", AdminAuth::admin_token(), *with_token, right + "0", 1, kLoopback, 401},
      {"token, Basic", AdminAuth::admin_token(), *with_token, std::string("Basic ") + kToken, 1,
       kLoopback, 401},
      {"token, two headers", AdminAuth::admin_token(), *with_token, right, 2, kLoopback, 400},
      {"own token, loopback, missing", own, *with_token, "", 0, kLoopback, 401},
      {"own token, right", own, *with_token, right, 1, kRemote, 0},
      {"own token not configured, loopback", own, *without, right, 1, kLoopback, 401},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto refusal = check_auth(c.auth, c.policy, {c.authorization, c.count, c.peer});
    EXPECT_EQ(refusal ? refusal->status : 0, c.status);
    if (refusal) {
      EXPECT_EQ(refusal->content_type, "application/problem+json");
      EXPECT_EQ(refusal->body.find(kToken), std::string::npos) << "echoes the token";
      EXPECT_EQ(refusal->body.find("0123456789abcdef"), std::string::npos);
    }
    if (refusal && refusal->status == 401) {
      ASSERT_EQ(refusal->headers.size(), 1u);
      EXPECT_EQ(refusal->headers[0].first, "WWW-Authenticate");
      EXPECT_EQ(refusal->headers[0].second.rfind("Bearer realm=\"edgeguard\"", 0), 0u);
      // RFC 6750: invalid_token only when a bearer token was presented and is wrong.
      const bool wrong_token = std::string(c.what).find("wrong") != std::string::npos ||
                               std::string(c.what).find("longer") != std::string::npos;
      EXPECT_EQ(refusal->headers[0].second.find("invalid_token") != std::string::npos, wrong_token);
    }
  }
}

// --- routing and the bans endpoints ----------------------------------------------------------

constexpr std::int64_t kNow = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z

class Router : public ::testing::Test {
 protected:
  Router() : bans_(io_.get_executor(), 100, [this] { return now_; }) {
    add_ban_endpoints(router_, &bans_);
  }

  // One request through admit and call, the event loop run until it answered.
  AdminResponse request(http::verb method, std::string target, std::string body = {},
                        std::string content_type = "application/json",
                        std::string authorization = {}, IpAddress peer = kLoopback) {
    AdminRequestHead head;
    head.method = method;
    head.target = target;
    head.content_type = content_type;
    head.credentials = {authorization, authorization.empty() ? 0 : 1, peer};
    AdminAdmission a = router_.admit(head);
    if (a.refusal) return *a.refusal;
    std::optional<AdminResponse> answer;
    router_.call(a, body, [&](AdminResponse r) { answer = std::move(r); });
    io_.restart();
    io_.run();
    EXPECT_TRUE(answer) << "the endpoint never answered";
    return answer.value_or(AdminResponse{});
  }
  AdminResponse post(const std::string& body) {
    return request(http::verb::post, "/v1/bans", body);
  }

  boost::asio::io_context io_;
  std::int64_t now_ = kNow;
  std::shared_ptr<Policy> policy_ = make_policy("");
  TableBanAuthority bans_;
  AdminRouter router_{[this] { return std::shared_ptr<const Policy>(policy_); }};
};

TEST_F(Router, UnknownPathsAre404AndWrongMethods405WithAllow) {
  auto r = request(http::verb::get, "/v1/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_NE(r.body.find("the admin listener serves /v1/bans, /v1/bans/..."), std::string::npos)
      << r.body;
  EXPECT_EQ(request(http::verb::get, "/v1/bansx").status, 404);
  EXPECT_EQ(request(http::verb::get, "/").status, 404);

  r = request(http::verb::put, "/v1/bans");
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Allow", "GET, HEAD, POST"}));
  r = request(http::verb::delete_, "/v1/bans");
  EXPECT_EQ(r.status, 405);
  r = request(http::verb::get, "/v1/bans/ip:203.0.113.9");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers[0].second, "DELETE");
}

TEST_F(Router, PostNeedsJsonContentType) {
  for (const char* type : {"", "text/plain", "application/x-www-form-urlencoded",
                           "application/jsonx", "application/json-patch+json"}) {
    SCOPED_TRACE(type);
    EXPECT_EQ(request(http::verb::post, "/v1/bans", R"({"subject":"ip:1.2.3.4","for":"1h"})", type)
                  .status,
              415);
  }
  for (const char* type : {"application/json", "Application/JSON",
                           "application/json; charset=utf-8", "application/json ;charset=UTF-8"}) {
    SCOPED_TRACE(type);
    EXPECT_EQ(request(http::verb::post, "/v1/bans", R"({"subject":"ip:1.2.3.4","for":"1h"})", type)
                  .status,
              201);
  }
  EXPECT_TRUE(bans_.list().size() == 1);
}

TEST_F(Router, AuthComesAfterRoutingAndBeforeTheBody) {
  policy_ = make_policy(kToken);
  EXPECT_EQ(request(http::verb::get, "/v1/nope").status, 404);
  EXPECT_EQ(request(http::verb::put, "/v1/bans").status, 405);
  EXPECT_EQ(request(http::verb::get, "/v1/bans").status, 401);
  // A bad body from a caller without the token is refused for the token, not the body.
  EXPECT_EQ(request(http::verb::post, "/v1/bans", "junk", "text/plain").status, 401);
  EXPECT_EQ(request(http::verb::get, "/v1/bans", {}, {}, std::string("Bearer ") + kToken).status,
            200);
  // A reload that drops the token: loopback callers again, remote ones refused.
  policy_ = make_policy("");
  EXPECT_EQ(request(http::verb::get, "/v1/bans").status, 200);
  EXPECT_EQ(request(http::verb::get, "/v1/bans", {}, {}, {}, kRemote).status, 403);
}

TEST_F(Router, PostGetDeleteRoundTrip) {
  auto r = post(R"({"subject": "ip:2001:db8::7", "for": "90m", "route": "login"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(
      r.body,
      R"({"ban":{"subject":"ip:2001:db8::/64","route":"login","until":"2026-01-01T01:30:00Z",)"
      R"("count":1,"reason":"manual","source":"manual"}})");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0],
            (std::pair<std::string, std::string>{"Location", "/v1/bans/ip:2001:db8::%2F64"}));
  now_ += 500'000'000;  // ends at a fraction of a second: shown rounded up
  ASSERT_EQ(post(R"({"subject": "user:alice", "for": "1h"})").status, 201);

  r = request(http::verb::get, "/v1/bans");  // soonest end first
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"bans":[{"subject":"user:alice","route":"*","until":"2026-01-01T01:00:01Z",)"
            R"("count":1,"reason":"manual","source":"manual"},)"
            R"({"subject":"ip:2001:db8::/64","route":"login","until":"2026-01-01T01:30:00Z",)"
            R"("count":1,"reason":"manual","source":"manual"}]})");

  // Any address of the /64 names the subject; %-escapes are decoded.
  r = request(http::verb::delete_, "/v1/bans/ip%3A2001%3Adb8%3A%3A1234");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"subject":"ip:2001:db8::/64","lifted":1})");
  r = request(http::verb::delete_, "/v1/bans/ip:2001:db8::/64");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("ip:2001:db8::/64 is not banned"), std::string::npos) << r.body;

  now_ += 3'600'000'000'000;  // alice's ban is over
  r = request(http::verb::get, "/v1/bans");
  EXPECT_EQ(r.body, R"({"bans":[]})");
}

TEST_F(Router, BadRequestsChangeNothing) {
  ASSERT_EQ(post(R"({"subject": "ip:203.0.113.9", "for": "1h"})").status, 201);
  const std::string before = request(http::verb::get, "/v1/bans").body;
  const char* bodies[] = {
      "not json",
      R"({"subject": "ip:203.0.113.10", "for": "1h", "extra": 1})",
      R"({"subject": "mac:1", "for": "1h"})",
      R"({"subject": "ip:203.0.113.10", "for": "-1s"})",
      R"({"subject": "ip:203.0.113.10", "for": "10000d"})",
      R"({"subject": "ip:203.0.113.10", "for": "1h", "route": "nope"})",
      R"({"subject": "ip:203.0.113.10", "for": "1h"} {})",
  };
  for (const char* body : bodies) {
    SCOPED_TRACE(body);
    const auto r = post(body);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("\"status\":400"), std::string::npos);
  }
  EXPECT_EQ(request(http::verb::delete_, "/v1/bans/nobody").status, 400);
  EXPECT_EQ(request(http::verb::delete_, "/v1/bans/").status, 400);
  EXPECT_EQ(request(http::verb::delete_, "/v1/bans/ip%3").status, 400);
  EXPECT_EQ(request(http::verb::delete_, "/v1/bans/user:%FF").status, 400);
  EXPECT_EQ(request(http::verb::get, "/v1/bans").body, before);
}

TEST_F(Router, AnyBanSubjectListsAsValidJson) {
  // Limit keys come from request headers, whatever bytes they hold: the list stays JSON.
  bool made = false;
  bans_.ban({"key:login/tenant/\xff\x01\"x", "*", 60'000'000'000},
            [&](std::optional<Ban> b, std::string) { made = b.has_value(); });
  io_.run();
  ASSERT_TRUE(made);
  const auto r = request(http::verb::get, "/v1/bans");
  json::error_code ec;
  const auto v = json::parse(r.body, ec);
  ASSERT_FALSE(ec) << r.body;
  EXPECT_EQ(v.at("bans").at(0).at("subject").as_string(), "key:login/tenant/\xef\xbf\xbd\x01\"x");
}

TEST(AdminRouterWithoutBans, Answers503) {
  AdminRouter router([] { return std::shared_ptr<const Policy>(make_policy("")); });
  add_ban_endpoints(router, nullptr);
  for (auto [method, target] :
       {std::pair{http::verb::get, "/v1/bans"}, std::pair{http::verb::post, "/v1/bans"},
        std::pair{http::verb::delete_, "/v1/bans/user:a"}}) {
    AdminRequestHead head;
    head.method = method;
    head.target = target;
    head.content_type = "application/json";
    head.credentials.peer = kLoopback;
    AdminAdmission a = router.admit(head);
    ASSERT_FALSE(a.refusal);
    std::optional<AdminResponse> answer;
    router.call(a, "{}", [&](AdminResponse r) { answer = std::move(r); });
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 503);
    EXPECT_NE(answer->body.find("bans are not available"), std::string::npos);
  }
}

// The failures webhook (issue 13) is another endpoint with a token of its own: a few lines.
TEST(AdminRouterExtension, AnEndpointWithItsOwnToken) {
  auto policy = make_policy("");
  AdminRouter router([&] { return std::shared_ptr<const Policy>(policy); });
  std::string seen;
  router.add({http::verb::post, "/v1/failures",
              AdminAuth::bearer([](const Policy&) { return std::string_view(kToken); }), true,
              [&](const AdminCall& call, AdminRespond respond) {
                seen = std::string(call.body);
                respond(json_response(202, R"({"applied":1})"));
              }});
  AdminRequestHead head;
  head.method = http::verb::post;
  head.target = "/v1/failures";
  head.content_type = "application/json";
  head.credentials.peer = kLoopback;
  EXPECT_EQ(router.admit(head).refusal->status, 401);  // loopback is not enough
  const std::string auth = std::string("Bearer ") + kToken;
  head.credentials = {auth, 1, kRemote};
  AdminAdmission a = router.admit(head);
  ASSERT_FALSE(a.refusal);
  router.call(a, R"({"route":"login"})", [](AdminResponse r) { EXPECT_EQ(r.status, 202); });
  EXPECT_EQ(seen, R"({"route":"login"})");
}

TEST(BanJson, UntilIsWholeSecondsRoundedUp) {
  EXPECT_EQ(format_utc_seconds(kNow), "2026-01-01T00:00:00Z");
  EXPECT_EQ(format_utc_seconds(kNow + 1), "2026-01-01T00:00:01Z");
  EXPECT_EQ(format_utc_seconds(kNow + 999'999'999), "2026-01-01T00:00:01Z");
  EXPECT_EQ(format_utc_seconds(kNow - 1), "2026-01-01T00:00:00Z");
}

}  // namespace
}  // namespace edgeguard
