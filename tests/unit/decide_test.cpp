#include "guard/core/decide.h"

#include <gtest/gtest.h>

#include <string>

#include "guard/config/policy_loader.h"
#include "guard/store/local_store.h"

namespace edgeguard {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

constexpr const char* kPolicy = R"(
callers: [127.0.0.0/8]
geoip: {country_db: c.mmdb, asn_db: a.mmdb}
tailnet:
  nodes: {format: list, file: nodes.list}
ip_sets: {office: [203.0.113.0/24], bad: [192.0.2.0/24]}
routes:
  - name: login
    hosts: [auth.example.com]
    paths: [/api/v3/flows/executor/, "= /if/flow/login/"]
    methods: [POST]
    deny_ips: [bad]
    limits:
      - {name: per-ip, average: 10, period: 1m, burst: 5, key: client_ip}
      - {name: all, average: 600, period: 1m, burst: 100, key: route}
  - name: shadowed
    hosts: [shadow.example.com]
    mode: shadow
    allow_ips: [office]
    limits: [{name: l, average: 1, period: 1m, burst: 1}]
  - name: nginx
    hosts: [nginx.example.com]
    responses: {rate_limited: 403, forbidden: 401}
    deny_ips: [bad]
    limits: [{name: l, average: 1, period: 1m, burst: 2}]
  - name: admin
    hosts: ["*.admin.example.com"]
    tailnet: {require: enrolled, tags: ["tag:admin"]}
  - name: erp
    hosts: [erp.example.com]
    geo: {allow_countries: [GB, IE], unknown: deny, deny_asns: [64496]}
    bypass: [office]
    limits: [{name: l, average: 1, period: 1h, burst: 1}]
  - name: first
    hosts: [order.example.com]
    paths: [/a/]
  - name: second
    hosts: [order.example.com]
    paths: [/a/b/]
default: allow
)";

class Decide : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto load = parse_policy(kPolicy, "policy.yaml");
    ASSERT_TRUE(load.policy) << load.error;
    policy_ = load.policy;
  }

  Decision run(const char* host, const char* path, const char* ip, std::int64_t now,
               const char* method = "POST", GeoFacts geo = {}, const DirectoryEntry* node = nullptr,
               bool dry_run = false) {
    ForwardRequest r;
    r.method = method;
    r.host = host;
    r.path = path;
    r.raw_uri = path;
    r.client_ip = *IpAddress::parse(ip);
    Facts f;
    f.client_ip = r.client_ip;
    f.geo = geo;
    f.node = node;
    return decide(*policy_, r, f, store_, now, dry_run);
  }

  static GeoFacts geo(const char* country, std::uint32_t asn = 0) {
    GeoFacts g;
    if (country != nullptr) {
      g.country[0] = country[0];
      g.country[1] = country[1];
    }
    g.asn = asn;
    return g;
  }

  std::shared_ptr<const Policy> policy_;
  LocalLimitStore store_{100'000};
};

TEST_F(Decide, RouteSelectionIsFirstMatchInFileOrder) {
  EXPECT_EQ(run("order.example.com", "/a/b/c", "198.51.100.7", 0).route->name, "first");
  EXPECT_EQ(run("order.example.com", "/b/", "198.51.100.7", 0).route->name, "default");
  EXPECT_EQ(run("auth.example.com", "/api/v3/flows/executor/x", "198.51.100.7", 0).route->name,
            "login");
  EXPECT_EQ(
      run("auth.example.com", "/api/v3/flows/executor/x", "198.51.100.7", 0, "GET").route->name,
      "default");
  EXPECT_EQ(run("auth.example.com", "/if/flow/login/", "198.51.100.7", 0).route->name, "login");
  EXPECT_EQ(run("auth.example.com", "/if/flow/login/x", "198.51.100.7", 0).route->name, "default");
  EXPECT_EQ(run("x.admin.example.com", "/", "198.51.100.7", 0, "GET").route->name, "admin");
  EXPECT_EQ(run("admin.example.com", "/", "198.51.100.7", 0, "GET").route->name, "default");
}

TEST_F(Decide, LoginBurstFromOneIp) {
  for (int i = 0; i < 5; ++i) {
    const auto d = run("auth.example.com", "/api/v3/flows/executor/default/", "198.51.100.7", 0);
    ASSERT_EQ(d.verdict, Verdict::allow) << i;
    EXPECT_EQ(d.status(), 200);
    EXPECT_EQ(d.remaining, 4 - i);
  }
  for (int i = 0; i < 20; ++i) {
    const auto d =
        run("auth.example.com", "/api/v3/flows/executor/default/", "198.51.100.7", kSecond);
    ASSERT_EQ(d.verdict, Verdict::deny) << i;
    EXPECT_EQ(d.reason, Reason::rate_limit);
    EXPECT_STREQ(d.rule, "limit");
    EXPECT_EQ(d.status(), 429);
    EXPECT_EQ(d.limit_index, 0);
    // The 6th token is due at 6 s; Traefik's maxDelay (500 ms below 1/s) admits 500 ms early.
    EXPECT_EQ(d.retry_after_ns, 4'500'000'000);
    EXPECT_EQ(retry_after_seconds(d.retry_after_ns), 5);
  }
  // Other clients, and the same client on other routes, are unaffected.
  EXPECT_EQ(
      run("auth.example.com", "/api/v3/flows/executor/default/", "198.51.100.8", kSecond).verdict,
      Verdict::allow);
  EXPECT_EQ(run("auth.example.com", "/if/flow/login/", "198.51.100.7", kSecond, "GET").verdict,
            Verdict::allow);
  EXPECT_EQ(run("nginx.example.com", "/", "198.51.100.7", kSecond).verdict, Verdict::allow);
  // One token back after 6 s.
  EXPECT_EQ(run("auth.example.com", "/if/flow/login/", "198.51.100.7", 6 * kSecond).verdict,
            Verdict::allow);
  EXPECT_EQ(run("auth.example.com", "/if/flow/login/", "198.51.100.7", 6 * kSecond).verdict,
            Verdict::deny);
}

TEST_F(Decide, RouteWideLimitCountsEveryClient) {
  // 100 distinct clients drain the route bucket ("all", burst 100); the 101st is refused by it.
  for (int i = 0; i < 100; ++i) {
    const std::string ip = "198.51.100." + std::to_string(i);
    ASSERT_EQ(run("auth.example.com", "/api/v3/flows/executor/", ip.c_str(), 0).verdict,
              Verdict::allow)
        << i;
  }
  const auto d = run("auth.example.com", "/api/v3/flows/executor/", "203.0.113.200", 0);
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.limit_index, 1);
  EXPECT_EQ(d.retry_after_ns, 50'000'000);  // token due in 100 ms, less maxDelay (10/s: 50 ms)
}

TEST_F(Decide, Ipv6ClientsShareABucketPerSlash64) {
  for (int i = 0; i < 5; ++i) {
    const std::string ip = "2001:db8:1:2::" + std::to_string(i + 1);
    ASSERT_EQ(run("auth.example.com", "/api/v3/flows/executor/", ip.c_str(), 0).verdict,
              Verdict::allow);
  }
  EXPECT_EQ(
      run("auth.example.com", "/api/v3/flows/executor/", "2001:db8:1:2:ffff:ffff:ffff:ffff", 0)
          .verdict,
      Verdict::deny);
  EXPECT_EQ(run("auth.example.com", "/api/v3/flows/executor/", "2001:db8:1:3::1", 0).verdict,
            Verdict::allow);
}

TEST_F(Decide, DenyIpsAndConfiguredStatuses) {
  auto d = run("auth.example.com", "/api/v3/flows/executor/", "192.0.2.44", 0);
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, Reason::ip);
  EXPECT_STREQ(d.rule, "deny_ips");
  EXPECT_EQ(d.status(), 403);
  d = run("nginx.example.com", "/", "192.0.2.44", 0);
  EXPECT_EQ(d.status(), 401);  // the route's forbidden status
  EXPECT_EQ(run("nginx.example.com", "/", "198.51.100.7", 0).verdict, Verdict::allow);
  EXPECT_EQ(run("nginx.example.com", "/", "198.51.100.7", 0).verdict, Verdict::allow);
  d = run("nginx.example.com", "/", "198.51.100.7", 0);
  EXPECT_EQ(d.reason, Reason::rate_limit);
  EXPECT_EQ(d.status(), 403);  // rate_limited: 403 for nginx auth_request
}

TEST_F(Decide, ShadowModeAllowsButKeepsTheReason) {
  auto d = run("shadow.example.com", "/", "198.51.100.7", 0);  // not in allow_ips
  EXPECT_EQ(d.verdict, Verdict::shadow_deny);
  EXPECT_EQ(d.reason, Reason::ip);
  EXPECT_STREQ(d.rule, "allow_ips");
  EXPECT_EQ(d.status(), 200);
  EXPECT_TRUE(d.allowed());
  // From the office: the first passes, the second would be rate limited.
  EXPECT_EQ(run("shadow.example.com", "/", "203.0.113.9", 0).verdict, Verdict::allow);
  d = run("shadow.example.com", "/", "203.0.113.9", 0);
  EXPECT_EQ(d.verdict, Verdict::shadow_deny);
  EXPECT_EQ(d.reason, Reason::rate_limit);
  EXPECT_EQ(d.status(), 200);
  EXPECT_EQ(d.retry_after_ns, 59'500'000'000);  // token due in 60 s, less maxDelay (500 ms)
}

TEST_F(Decide, BypassSkipsEverything) {
  for (int i = 0; i < 10; ++i) {
    const auto d = run("erp.example.com", "/", "203.0.113.77", 0, "GET", geo("KP"));
    ASSERT_EQ(d.verdict, Verdict::allow);
    EXPECT_STREQ(d.rule, "bypass");
  }
}

TEST_F(Decide, GeoRules) {
  struct Case {
    const char* ip;
    GeoFacts geo;
    Verdict verdict;
  };
  const Case cases[] = {
      {"81.2.69.142", geo("GB", 64500), Verdict::allow},
      {"81.2.69.143", geo("IE", 64500), Verdict::allow},
      {"81.2.69.144", geo("FR"), Verdict::deny},
      {"81.2.69.145", geo(nullptr), Verdict::deny},      // unknown: deny
      {"81.2.69.146", geo("GB", 64496), Verdict::deny},  // denied ASN
      {"10.1.2.3", geo(nullptr), Verdict::allow},        // private: not judged
      {"192.168.7.7", geo("FR"), Verdict::allow},        // even with a country
      {"100.100.1.1", geo(nullptr), Verdict::allow},     // tailnet range
      {"fd7a:115c:a1e0::5", geo(nullptr), Verdict::allow},
      {"::1", geo(nullptr), Verdict::allow},
      {"2001:db8::5", geo(nullptr), Verdict::deny},
  };
  for (const auto& c : cases) {
    const auto d = run("erp.example.com", "/", c.ip, 0, "GET", c.geo);
    EXPECT_EQ(d.verdict, c.verdict) << c.ip;
    if (c.verdict == Verdict::deny) {
      EXPECT_EQ(d.reason, Reason::geo) << c.ip;
      EXPECT_EQ(d.status(), 403) << c.ip;
    }
  }
  // The geo pass still leaves the limit (1 per hour) in force.
  EXPECT_EQ(run("erp.example.com", "/", "81.2.69.142", 0, "GET", geo("GB", 64500)).reason,
            Reason::rate_limit);
}

TEST_F(Decide, TailnetRules) {
  DirectoryEntry admin{{"n1", "laptop", "alice@example.com", "Alice", {"tag:admin"}, {}}, ""};
  DirectoryEntry other{{"n2", "phone", "bob@example.com", "Bob", {"tag:phone"}, {}}, ""};
  auto d = run("x.admin.example.com", "/", "100.100.1.1", 0, "GET", {}, &admin);
  EXPECT_EQ(d.verdict, Verdict::allow);
  d = run("x.admin.example.com", "/", "100.100.1.2", 0, "GET", {}, &other);
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, Reason::tailnet);
  d = run("x.admin.example.com", "/", "100.100.1.3", 0, "GET", {}, nullptr);
  EXPECT_EQ(d.reason, Reason::tailnet);
  d = run("x.admin.example.com", "/", "198.51.100.7", 0, "GET", {}, nullptr);
  EXPECT_EQ(d.reason, Reason::tailnet);  // outside the ranges is refused too
}

TEST_F(Decide, DryRunChargesNothing) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(
        run("auth.example.com", "/if/flow/login/", "198.51.100.9", 0, "POST", {}, nullptr, true)
            .verdict,
        Verdict::allow);
  }
  int admitted = 0;
  for (int i = 0; i < 10; ++i) {
    admitted +=
        run("auth.example.com", "/if/flow/login/", "198.51.100.9", 0).verdict == Verdict::allow;
  }
  EXPECT_EQ(admitted, 5);
}

TEST(DecideDefault, DefaultDenyAndAllow) {
  LocalLimitStore store(1000);
  for (const auto& [yaml, verdict] :
       {std::pair{"default: deny\n", Verdict::deny}, std::pair{"default: allow\n", Verdict::allow},
        std::pair{"listen: 127.0.0.1:1\n", Verdict::allow}}) {
    const auto load = parse_policy(yaml, "p.yaml");
    ASSERT_TRUE(load.policy) << load.error;
    ForwardRequest r;
    r.method = "GET";
    r.host = "anything.example";
    r.path = "/";
    Facts f;
    f.client_ip = *IpAddress::parse("198.51.100.7");
    const auto d = decide(*load.policy, r, f, store, 0);
    EXPECT_EQ(d.verdict, verdict) << yaml;
    EXPECT_EQ(d.route->name, "default");
    if (verdict == Verdict::deny) {
      EXPECT_EQ(d.reason, Reason::default_deny);
      EXPECT_EQ(d.status(), 403);
    }
  }
}

TEST(DecideCallers, OnlyListedPeersMayAsk) {
  const auto load = parse_policy("callers: [127.0.0.0/8, 10.0.0.0/8]\n", "p.yaml");
  ASSERT_TRUE(load.policy);
  EXPECT_TRUE(caller_allowed(*load.policy, *IpAddress::parse("127.0.0.1")));
  EXPECT_TRUE(caller_allowed(*load.policy, *IpAddress::parse("::ffff:10.1.1.1")));
  EXPECT_FALSE(caller_allowed(*load.policy, *IpAddress::parse("198.51.100.7")));
  const auto d = caller_denied(*load.policy);
  EXPECT_EQ(d.reason, Reason::caller);
  EXPECT_EQ(d.status(), 403);
}

}  // namespace
}  // namespace edgeguard

// Regex paths use RE2 (linear time): a pattern that makes a backtracking engine explode on a
// crafted path must still answer. With std::regex this test would not finish (ctest's timeout
// fails it); with RE2 it returns at once.
TEST(RegexPaths, CannotBeMadeToBacktrack) {
  const auto load = edgeguard::parse_policy(R"(
routes:
  - name: evil
    paths: ["~ ^/(a+)+$"]
)",
                                            "t.yaml");
  ASSERT_TRUE(load.policy) << load.error;
  const std::string path = "/" + std::string(8000, 'a') + "b";
  EXPECT_EQ(load.policy->match("x.example", path, "GET").name, "default");
  EXPECT_EQ(load.policy->match("x.example", "/aaaa", "GET").name, "evil");
}
