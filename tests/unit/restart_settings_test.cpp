// Restart-only settings: each one a reload would have to refuse is named as the config writes
// it, and located at the line and column where the new file writes it; the settings a reload
// applies are not restart-only.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "guard/config/policy_loader.h"
#include "guard/policy/restart_settings.h"

namespace edgeguard {
namespace {

const char* kBase = R"(listen: 127.0.0.1:8080
admin_listen: 127.0.0.1:9090
threads: 2
store:
  type: redis
  local: {max_buckets: 10000}
  redis:
    address: 127.0.0.1:6379
    username: edge
    password_file: /run/secrets/redis
    db: 1
    timeout: 20ms
    on_error: deny
    connections: 1
geoip: {country_db: /data/c.mmdb, asn_db: /data/a.mmdb, country_field: country.iso_code}
tailnet:
  ranges: [100.64.0.0/10]
  nodes: {format: list, file: /data/nodes.txt, refresh: 30s}
bans: {max_active: 5000}
routes:
  - name: app
    hosts: [app.example.test]
)";

const char* kCluster = R"(store:
  type: redis
  redis: {nodes: [127.0.0.1:7000, 127.0.0.1:7001]}
tailnet:
  nodes: {format: tailscale-status, command: [tailscale, status, --json]}
)";

struct Case {
  const char* setting;  // the name the refusal must give
  const char* base;
  const char* from;  // text replaced in `base`…
  const char* to;    // …by this
  const char* at;    // where in the new text the refusal must point (first occurrence)
};

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// "t.yaml:LINE:COL" of the first occurrence of `what` in `text`.
std::string position_of(const std::string& text, const std::string& what) {
  const auto at = text.find(what);
  const auto line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
  const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(at), '\n');
  const auto column = at - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
  return "t.yaml:" + std::to_string(line) + ":" + std::to_string(column);
}

PolicyLoad load(const std::string& yaml) {
  PolicyLoad l = parse_policy(yaml, "t.yaml");
  EXPECT_TRUE(l.policy) << l.error;
  return l;
}

TEST(RestartSettings, EveryRestartOnlySettingIsNamedAndLocated) {
  const Case cases[] = {
      {"listen", kBase, "127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8081"},
      {"admin_listen", kBase, "127.0.0.1:9090", "0.0.0.0:9090", "0.0.0.0:9090"},
      {"threads", kBase, "threads: 2", "threads: 4", "4"},
      {"store.type", kBase, "type: redis", "type: local", "local"},
      {"store.local.max_buckets", kBase, "10000", "20000", "20000"},
      {"store.redis.address", kBase, "127.0.0.1:6379", "127.0.0.1:6380", "127.0.0.1:6380"},
      {"store.redis.nodes", kCluster, "7001]", "7002]", "[127.0.0.1:7000"},
      {"store.redis.username", kBase, "edge", "guard", "guard"},
      {"store.redis.password_file", kBase, "/run/secrets/redis", "/run/s/r", "/run/s/r"},
      {"store.redis.db", kBase, "db: 1", "db: 5", "5\n"},
      {"store.redis.timeout", kBase, "20ms", "50ms", "50ms"},
      {"store.redis.on_error", kBase, "on_error: deny", "on_error: allow", "allow"},
      {"store.redis.connections", kBase, "connections: 1", "connections: 3", "3\n"},
      {"geoip.country_db", kBase, "/data/c.mmdb", "/data/c2.mmdb", "/data/c2.mmdb"},
      {"geoip.asn_db", kBase, "/data/a.mmdb", "/data/a2.mmdb", "/data/a2.mmdb"},
      {"geoip.country_field", kBase, "country.iso_code", "country_code", "country_code"},
      {"tailnet.nodes.format", kBase, "format: list", "format: headscale", "headscale"},
      {"tailnet.nodes.file", kBase, "/data/nodes.txt", "/data/n2.txt", "/data/n2.txt"},
      {"tailnet.nodes.command", kCluster, "--json]", "--json, --peers]", "[tailscale"},
      {"bans.max_active", kBase, "max_active: 5000", "max_active: 9000", "9000"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.setting);
    const PolicyLoad before = load(c.base);
    const std::string text = replaced(c.base, c.from, c.to);
    const PolicyLoad after = load(text);
    ASSERT_TRUE(before.policy && after.policy);
    EXPECT_FALSE(before.policy->settings == after.policy->settings);
    EXPECT_EQ(restart_setting_change(before.policy->settings, after.policy->settings), c.setting);
    EXPECT_EQ(after.locate(c.setting), position_of(text, c.at));
  }
}

TEST(RestartSettings, ARemovedSettingIsLocatedAtItsSection) {
  const std::string text = replaced(kBase, "    on_error: deny\n", "");
  const PolicyLoad after = load(text);
  ASSERT_TRUE(after.policy);
  EXPECT_EQ(restart_setting_change(load(kBase).policy->settings, after.policy->settings),
            "store.redis.on_error");
  EXPECT_EQ(after.locate("store.redis.on_error"), position_of(text, "address: 127.0.0.1:6379"));
  const PolicyLoad bare = load("routes: []\n");
  EXPECT_EQ(bare.locate("store.redis.on_error"), "t.yaml:1:1");
}

TEST(RestartSettings, WhatAReloadAppliesIsNotRestartOnly) {
  const std::pair<const char*, const char*> applied[] = {
      {"ranges: [100.64.0.0/10]", "ranges: [100.100.0.0/16]"},
      {"refresh: 30s", "refresh: 5s"},
      {"hosts: [app.example.test]", "hosts: [other.example.test]"},
      {"routes:",
       "callers: [10.0.0.0/8]\nclient_ip: {header: X-Real-IP, ipv6_prefix: 56}\n"
       "responses: {rate_limited: 503}\nlog: {allow: true}\n"
       "server: {max_connections: 10, idle_timeout: 1s}\ndefault: deny\nroutes:"},
  };
  const PolicyLoad before = load(kBase);
  for (const auto& [from, to] : applied) {
    SCOPED_TRACE(to);
    const PolicyLoad after = load(replaced(kBase, from, to));
    ASSERT_TRUE(after.policy);
    EXPECT_EQ(restart_setting_change(before.policy->settings, after.policy->settings), "");
  }
}

}  // namespace
}  // namespace edgeguard
