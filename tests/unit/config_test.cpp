#include <gtest/gtest.h>

#include <string>

#include "example_policy.h"
#include "guard/config/duration.h"
#include "guard/config/policy_loader.h"

namespace edgeguard {
namespace {

struct ErrorCase {
  const char* what;
  const char* yaml;
  const char* at;       // the text the error must point at (its first occurrence)
  const char* message;  // a part of the message
};

// "t.yaml:LINE:COL: " for the first occurrence of `at` in `yaml`.
std::string location_of(std::string_view yaml, std::string_view at) {
  const auto pos = yaml.find(at);
  EXPECT_NE(pos, std::string_view::npos) << at;
  const auto line_start = yaml.rfind('\n', pos == 0 ? 0 : pos - 1);
  const std::size_t line = 1 + std::count(yaml.begin(), yaml.begin() + pos, '\n');
  const std::size_t col = pos - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
  return "t.yaml:" + std::to_string(line) + ":" + std::to_string(col) + ": ";
}

TEST(Config, EachErrorNamesItsLineAndColumn) {
  const ErrorCase cases[] = {
      {"unknown top-level key", "listen: 127.0.0.1:8080\nbogus: 1\n", "bogus",
       "unknown key 'bogus' in the top level"},
      {"unknown key in a route", "routes:\n  - name: r\n    hostz: [a.example]\n", "hostz",
       "unknown key 'hostz' in route r"},
      {"unknown key in a limit",
       "routes:\n  - name: r\n    limits:\n      - {name: l, average: 1, brust: 5}\n", "brust",
       "unknown key 'brust'"},
      {"unknown key in a block limit",
       "routes:\n  - name: r\n    limits:\n      - name: l\n        average: 1\n        periode: "
       "1m\n",
       "periode", "unknown key 'periode'"},
      {"bad CIDR", "callers: [127.0.0.0/8, 10.0.0.1/8]\n", "10.0.0.1/8", "host bits set"},
      {"bad CIDR in an ip set", "ip_sets:\n  office: [203.0.113.0/33]\n", "203.0.113.0/33",
       "bad prefix length"},
      {"bad duration", "routes:\n  - name: r\n    limits: [{name: l, average: 1, period: 1x}]\n",
       "1x", "must be a duration"},
      {"zero duration", "routes:\n  - name: r\n    limits: [{name: l, average: 1, period: 0s}]\n",
       "0s", "must be a duration"},
      {"bad status", "responses: {rate_limited: 999}\n", "999", "between 200 and 599"},
      {"bad route status", "routes:\n  - name: r\n    responses:\n      forbidden: nope\n", "nope",
       "whole number"},
      {"duplicate route name", "routes:\n  - name: r\n  - name: s\n  - name: r\n    hosts: [x]\n",
       "name: r\n    hosts", "route name 'r' is used twice"},
      {"duplicate limit name",
       "routes:\n  - name: r\n    limits:\n      - {name: l, average: 1}\n      - {name: l, "
       "average: 2}\n",
       "{name: l, average: 2}", "limit name 'l' is used twice"},
      {"bad regex", "routes:\n  - name: r\n    paths: [/ok/, \"~ ^/a([b\"]\n", "\"~ ^/a([b\"",
       "bad regular expression"},
      {"set name not found",
       "ip_sets: {office: [203.0.113.0/24]}\nroutes:\n  - name: r\n    allow_ips: [office, "
       "offcie]\n",
       "offcie", "neither an ip_sets name nor a CIDR"},
      {"geo rule without geoip db", "routes:\n  - name: r\n    geo: {deny_countries: [KP]}\n",
       "{deny_countries", "geoip.country_db is not set"},
      {"asn rule without asn db",
       "geoip: {country_db: c.mmdb}\nroutes:\n  - name: r\n    geo: {deny_asns: [AS64496]}\n",
       "{deny_asns", "geoip.asn_db is not set"},
      {"bad country code",
       "geoip: {country_db: c.mmdb}\nroutes:\n  - name: r\n    geo: {deny_countries: [KPX]}\n",
       "[KPX]", "not an ISO 3166 two-letter code"},
      {"tailnet rule without tailnet.nodes",
       "tailnet: {ranges: [100.64.0.0/10]}\nroutes:\n  - name: r\n    tailnet: {require: "
       "enrolled}\n",
       "{require", "tailnet.nodes is not set"},
      {"tailnet rule without tailnet", "routes:\n  - name: r\n    tailnet: {require: enrolled}\n",
       "{require", "tailnet.nodes is not set"},
      {"bad limit key",
       "routes:\n  - name: r\n    limits: [{name: l, average: 1, key: [client_ip, cookie]}]\n",
       "cookie", "must be client_ip, route, host, username or header:NAME"},
      {"bad default", "default: maybe\n", "maybe", "default must be allow or deny"},
      {"bad mode", "routes:\n  - name: r\n    mode: dry\n", "dry",
       "mode must be enforce or shadow"},
      {"bad method", "routes:\n  - name: r\n    methods: [GET, \"PO ST\"]\n", "\"PO ST\"",
       "is not an HTTP method"},
      {"average missing", "routes:\n  - name: r\n    limits:\n      - {name: l, burst: 5}\n",
       "{name: l", "needs an average"},
      {"negative average", "routes:\n  - name: r\n    limits: [{name: l, average: -1}]\n", "-1",
       "greater than 0"},
      {"route without a name", "routes:\n  - hosts: [a.example]\n", "hosts", "needs a name"},
      {"bad depth", "client_ip: {depth: 0}\n", "0}", "client_ip.depth must be between 1 and 32"},
      {"bad listen", "listen: localhost\n", "localhost", "must be HOST:PORT"},
      {"yaml syntax error", "listen: 127.0.0.1:8080\nroutes: [a, b\n", "", ""},
  };
  for (const auto& c : cases) {
    const auto load = parse_policy(c.yaml, "t.yaml");
    ASSERT_FALSE(load.policy) << c.what;
    if (std::string_view(c.at).empty()) {
      // yaml-cpp reports where it noticed the problem; it must still be a located message.
      EXPECT_TRUE(load.error.starts_with("t.yaml:")) << c.what << ": " << load.error;
      EXPECT_NE(load.error.find(": ", 7), std::string::npos) << load.error;
      continue;
    }
    const std::string prefix = location_of(c.yaml, c.at);
    EXPECT_TRUE(load.error.starts_with(prefix))
        << c.what << ": expected prefix '" << prefix << "', got '" << load.error << "'";
    EXPECT_NE(load.error.find(c.message), std::string::npos) << c.what << ": " << load.error;
  }
}

TEST(Config, YamlSyntaxErrorIsLocated) {
  const auto load =
      parse_policy("listen: 127.0.0.1:8080\nroutes:\n  - name: r\n   bad: [\n", "t.yaml");
  ASSERT_FALSE(load.policy);
  EXPECT_TRUE(load.error.starts_with("t.yaml:4:")) << load.error;
}

TEST(Config, EmptyFileAndMissingFile) {
  EXPECT_TRUE(parse_policy("", "t.yaml").error.starts_with("t.yaml:1:1: "))
      << parse_policy("", "t.yaml").error;
  const auto missing = load_policy_file("/nonexistent/edgeguard.yaml");
  EXPECT_FALSE(missing.policy);
  EXPECT_EQ(missing.error, "/nonexistent/edgeguard.yaml:1:1: cannot read the file");
}

TEST(Config, ExamplePolicyLoads) {
  const auto policy = testing::example_policy();
  ASSERT_TRUE(policy);
  ASSERT_EQ(policy->routes.size(), 4u);
  EXPECT_EQ(policy->routes[0].name, "authentik-outpost");
  EXPECT_EQ(policy->routes[1].name, "authentik-login");
  EXPECT_EQ(policy->routes[2].name, "admin");
  EXPECT_EQ(policy->routes[3].name, "erp");
  EXPECT_FALSE(policy->default_route.default_deny);
  const Route& login = policy->routes[1];
  ASSERT_EQ(login.limits.size(), 2u);
  EXPECT_EQ(login.limits[0].rate.emission_ns, 6'000'000'000);
  EXPECT_EQ(login.limits[0].rate.tolerance_ns, 30'500'000'000);  // T x burst + maxDelay
  EXPECT_EQ(login.limits[0].rate_limit_policy, "\"per-ip\";q=10;w=60");
  EXPECT_EQ(login.limits[1].rate.emission_ns, 100'000'000);
  EXPECT_EQ(login.limits[1].rate.tolerance_ns, 10'050'000'000);
  EXPECT_TRUE(policy->callers.contains(*IpAddress::parse("172.20.0.3")));
  EXPECT_FALSE(policy->callers.contains(*IpAddress::parse("198.51.100.7")));
  EXPECT_EQ(policy->client_ip.depth, 1);
  EXPECT_EQ(policy->client_ip.ipv6_prefix, 64);
  // The admin UIs admit enrolled tailnet nodes tagged tag:admin, not the whole 100.64.0.0/10.
  ASSERT_TRUE(policy->routes[2].tailnet.has_value());
  EXPECT_EQ(policy->routes[2].tailnet->tags, std::vector<std::string>{"tag:admin"});
  EXPECT_FALSE(policy->routes[2].has_allow_ips);
  ASSERT_TRUE(policy->routes[3].geo.has_value());
  EXPECT_EQ(policy->routes[3].geo->allow_countries, (std::vector<std::string>{"GB", "IE"}));
  EXPECT_FALSE(policy->routes[3].geo->unknown_allow);
  EXPECT_TRUE(policy->routes[3].bypass.contains(*IpAddress::parse("203.0.113.50")));
}

TEST(Config, TailnetRangesDefaultToTailscalesAndMayBeReplaced) {
  const auto ip = [](const char* text) { return *IpAddress::parse(text); };
  const auto defaults = parse_policy("routes: []\n", "t.yaml");
  ASSERT_TRUE(defaults.policy) << defaults.error;
  EXPECT_TRUE(defaults.policy->tailnet.ranges.contains(ip("100.100.1.1")));
  EXPECT_TRUE(defaults.policy->tailnet.ranges.contains(ip("fd7a:115c:a1e0::1")));
  EXPECT_FALSE(defaults.policy->tailnet.ranges.contains(ip("10.1.2.3")));
  EXPECT_FALSE(defaults.policy->tailnet.ranges.contains(ip("fd00::1")));

  const auto custom = parse_policy(
      "geoip: {country_db: c.mmdb}\n"
      "tailnet:\n  ranges: [10.99.0.0/16]\n"
      "  nodes: {format: list, file: nodes.txt, refresh: 5s}\n"
      "routes:\n  - name: r\n    geo: {allow_countries: [GB]}\n",
      "t.yaml");
  ASSERT_TRUE(custom.policy) << custom.error;
  const Policy& p = *custom.policy;
  EXPECT_TRUE(p.tailnet.ranges.contains(ip("10.99.1.1")));
  EXPECT_FALSE(p.tailnet.ranges.contains(ip("100.100.1.1")));
  EXPECT_EQ(p.tailnet.refresh_ns, 5'000'000'000);
  EXPECT_EQ(p.settings.tailnet_nodes.format, NodeListFormat::list);
  // A geo rule never judges a tailnet address: it carries the ranges.
  ASSERT_TRUE(p.routes[0].geo.has_value());
  EXPECT_TRUE(p.routes[0].geo->tailnet_ranges.contains(ip("10.99.1.1")));

  const std::string empty = "tailnet:\n  ranges: []\n";
  const auto refused = parse_policy(empty, "t.yaml");
  EXPECT_FALSE(refused.policy);
  EXPECT_EQ(refused.error,
            "t.yaml:2:11: tailnet.ranges must not be empty: no node could be enrolled");
}

TEST(Config, Durations) {
  const std::pair<const char*, std::int64_t> good[] = {
      {"1m", 60'000'000'000},       {"500ms", 500'000'000},
      {"30s", 30'000'000'000},      {"1h", 3'600'000'000'000},
      {"2h30m", 9'000'000'000'000}, {"20ms", 20'000'000},
      {"100us", 100'000},           {"1.5s", 1'500'000'000},
      {"60", 60'000'000'000},       {"250ns", 250},
      {"7d", 604'800'000'000'000},  {"1d12h", 129'600'000'000'000},
  };
  for (const auto& [text, ns] : good) EXPECT_EQ(parse_duration_ns(text), ns) << text;
  for (const char* bad : {"", "1x", "m", "1m30", "-1s", "1 m", "1M", "s1", "1D", "1w"}) {
    EXPECT_FALSE(parse_duration_ns(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace edgeguard
