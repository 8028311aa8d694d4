// Every config field, through the real binary: a reload either applies it (observed in the
// answers, the connections or the log) or refuses it naming the field (the `reload_refused`
// line, edgeguard_config_reloads_total{result="failure"}, and nothing else from that file
// applied). A reload never reports success for a change it did not make.
//
// Each case starts `edgeguard serve` on its own config, rewrites the file by rename and sends
// SIGHUP, then waits on the reload counters: the reload itself is the synchronisation point.
#include <signal.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/harness.h"
#include "tests/support/mmdb_writer.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

// The data files a config may name, written into every test's directory: two country and two
// ASN databases (198.51.100.0/24 is GB and AS64496, 203.0.113.0/24 is FR and AS64497), two node
// lists and a Redis password file.
void write_data(const ScratchDir& dir) {
  for (const char* name : {"country.mmdb", "country2.mmdb"}) {
    MmdbWriter w(6, "GeoLite2-Country");
    w.insert("198.51.100.0/24", maxmind_country("GB"));
    w.insert("203.0.113.0/24", maxmind_country("FR"));
    ASSERT_TRUE(w.write_file(dir.file(name).string()));
  }
  for (const char* name : {"asn.mmdb", "asn2.mmdb"}) {
    MmdbWriter w(6, "GeoLite2-ASN");
    w.insert("198.51.100.0/24", asn_record(64496, "Example GB"));
    w.insert("203.0.113.0/24", asn_record(64497, "Example FR"));
    ASSERT_TRUE(w.write_file(dir.file(name).string()));
  }
  dir.write("nodes.txt", "100.100.1.1 tag:admin\n100.100.2.2 tag:ops\n");
  dir.write("nodes2.txt", "100.100.1.1 tag:admin\n");
  dir.write("redis.pass", "s3cret\n");
}

Call from(const std::string& ip, const std::string& host = "app.test") {
  Call c;
  c.host = host;
  c.xff = ip;
  return c;
}

class Reloading : public ::testing::Test {
 protected:
  void SetUp() override { write_data(dir_); }

  void start(const std::string& yaml) {
    server_ = std::make_unique<Server>(dir_, yaml);
    ASSERT_TRUE(server_->started()) << server_->stdout_text() << server_->stderr_text();
  }
  int port() const { return server_->port(); }
  int status(const Call& c) const { return call_once(port(), c).status; }
  std::string header(const Call& c, const std::string& name) const {
    return call_once(port(), c).header(name).value_or("");
  }
  double reloads(const char* result) const {
    return server_->metric(std::string("edgeguard_config_reloads_total{result=\"") + result + "\"}")
        .value_or(-1);
  }

  // Replaces the config and sends SIGHUP; returns once a reload is counted. (The 1 s file poll
  // may see the new file first; either way the new file is what was reloaded.)
  void reload(const std::string& yaml) {
    const double before = reloads("success") + reloads("failure");
    server_->rewrite_config(yaml);
    server_->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return reloads("success") + reloads("failure") > before; }))
        << server_->stdout_text();
  }
  void expect_applied() {
    EXPECT_GE(reloads("success"), 1);
    EXPECT_EQ(reloads("failure"), 0) << server_->stdout_text();
  }

  ScratchDir dir_;
  std::unique_ptr<Server> server_;  // destroyed (child killed) before dir_
};

const char* kHead = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 1
)";

// ---------------------------------------------------------------------------------------------
// Refused: the restart-only settings. Each case changes one of them *and* a route rule; the
// refusal must name the setting and apply nothing (the route rule stays as it was).

struct Refused {
  const char* setting;
  std::string before;  // the settings part of the config (a route is appended)
  std::string after;
  bool redis = false;    // needs a redis-server (address substituted for REDIS)
  bool cluster = false;  // needs a Redis Cluster (node addresses for NODES)
};
void PrintTo(const Refused& r, std::ostream* os) {
  *os << r.setting;
}

const char* kRouteBefore = "routes:\n  - name: app\n    hosts: [app.test]\n";
const char* kRouteAfter =
    "routes:\n  - name: app\n    hosts: [app.test]\n    deny_ips: [203.0.113.0/24]\n";

std::string redis_store(const std::string& field_override = "") {
  std::string fields =
      "address: REDIS, username: default, password_file: redis.pass, db: 0, timeout: 50ms, "
      "on_error: local, connections: 1";
  if (!field_override.empty()) {
    const std::string key = field_override.substr(0, field_override.find(':') + 1);
    const auto at = fields.find(key);
    const auto end = fields.find(',', at);
    fields.replace(at, (end == std::string::npos ? fields.size() : end) - at, field_override);
  }
  return "store:\n  type: redis\n  redis: {" + fields + "}\n";
}

std::vector<Refused> refused_cases() {
  const std::string geo = "geoip: {country_db: country.mmdb, asn_db: asn.mmdb}\n";
  const std::string nodes = "tailnet:\n  nodes: {format: list, file: nodes.txt}\n";
  const std::string command = "tailnet:\n  nodes: {format: list, command: [cat, nodes.txt]}\n";
  return {
      {"listen", "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: 1\n",
       "listen: 127.0.0.2:0\nadmin_listen: 127.0.0.1:0\nthreads: 1\n"},
      {"admin_listen", "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: 1\n",
       "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.2:0\nthreads: 1\n"},
      {"threads", std::string(kHead),
       "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: 2\n"},
      {"store.type", std::string(kHead) + "store: {type: local}\n",
       std::string(kHead) + redis_store(), true},
      {"store.local.max_buckets", std::string(kHead) + "store: {local: {max_buckets: 10000}}\n",
       std::string(kHead) + "store: {local: {max_buckets: 20000}}\n"},
      {"store.redis.address", std::string(kHead) + redis_store(),
       std::string(kHead) + redis_store("address: 127.0.0.1:1"), true},
      {"store.redis.nodes",
       std::string(kHead) + "store: {type: redis, redis: {nodes: [NODE0, NODE1, NODE2]}}\n",
       std::string(kHead) + "store: {type: redis, redis: {nodes: [NODE0, NODE1]}}\n", false, true},
      {"store.redis.username", std::string(kHead) + redis_store(),
       std::string(kHead) + redis_store("username: edgeguard"), true},
      {"store.redis.password_file", std::string(kHead) + redis_store(),
       std::string(kHead) + redis_store("password_file: other.pass"), true},
      {"store.redis.db", std::string(kHead) + redis_store(),
       std::string(kHead) + redis_store("db: 3"), true},
      {"store.redis.timeout", std::string(kHead) + redis_store(),
       std::string(kHead) + redis_store("timeout: 200ms"), true},
      {"store.redis.on_error", std::string(kHead) + redis_store(),
       std::string(kHead) + redis_store("on_error: deny"), true},
      {"store.redis.connections", std::string(kHead) + redis_store(),
       std::string(kHead) + redis_store("connections: 2"), true},
      {"geoip.country_db", std::string(kHead) + geo,
       std::string(kHead) + "geoip: {country_db: country2.mmdb, asn_db: asn.mmdb}\n"},
      {"geoip.asn_db", std::string(kHead) + geo,
       std::string(kHead) + "geoip: {country_db: country.mmdb, asn_db: asn2.mmdb}\n"},
      {"geoip.country_field", std::string(kHead) + geo,
       std::string(kHead) +
           "geoip: {country_db: country.mmdb, asn_db: asn.mmdb, country_field: country_code}\n"},
      {"tailnet.nodes.format", std::string(kHead) + nodes,
       std::string(kHead) + "tailnet:\n  nodes: {format: tailscale-status, file: nodes.txt}\n"},
      {"tailnet.nodes.file", std::string(kHead) + nodes,
       std::string(kHead) + "tailnet:\n  nodes: {format: list, file: nodes2.txt}\n"},
      {"tailnet.nodes.command", std::string(kHead) + command,
       std::string(kHead) + "tailnet:\n  nodes: {format: list, command: [cat, nodes2.txt]}\n"},
      // The ban table is sized once; the follower opens its file once.
      {"bans.max_active", std::string(kHead) + "bans: {max_active: 1000}\n",
       std::string(kHead) + "bans: {max_active: 2000}\n"},
      {"failures.access_log.file", std::string(kHead) + "failures: {access_log: {file: a.log}}\n",
       std::string(kHead) + "failures: {access_log: {file: b.log}}\n"},
  };
}

class RefusedSetting : public Reloading, public ::testing::WithParamInterface<Refused> {};

std::string substitute(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST_P(RefusedSetting, IsRefusedNamingItAndNothingElseInTheFileApplies) {
  const Refused& c = GetParam();
  std::unique_ptr<RedisServer> redis;
  std::unique_ptr<RedisCluster> cluster;
  std::string before = c.before, after = c.after;
  // `after` may name Redis even when `before` runs local (store.type), so it runs either way.
  if (c.redis || before.find("REDIS") != std::string::npos) {
    std::filesystem::create_directories(dir_.file("redis"));
    redis = std::make_unique<RedisServer>(dir_.file("redis"),
                                          std::vector<std::string>{"--requirepass", "s3cret"});
    ASSERT_TRUE(redis->running());
    before = substitute(before, "REDIS", redis->address());
    after = substitute(after, "REDIS", redis->address());
  }
  if (c.cluster) {
    std::filesystem::create_directories(dir_.file("cluster"));
    cluster = std::make_unique<RedisCluster>(dir_.file("cluster"));
    ASSERT_TRUE(cluster->ok());
    const auto nodes = cluster->addresses();
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      before = substitute(before, "NODE" + std::to_string(i), nodes[i]);
      after = substitute(after, "NODE" + std::to_string(i), nodes[i]);
    }
  }
  start(before + kRouteBefore);
  EXPECT_EQ(status(from("203.0.113.7")), 200);

  reload(after + kRouteAfter);
  EXPECT_GE(reloads("failure"), 1);
  EXPECT_EQ(reloads("success"), 0);
  const std::string log = server_->stdout_text();
  EXPECT_NE(log.find("\"event\":\"reload_refused\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"setting\":\"" + std::string(c.setting) + "\""), std::string::npos) << log;
  EXPECT_NE(log.find("changing " + std::string(c.setting) + " needs a restart"), std::string::npos)
      << log;
  EXPECT_NE(log.find(server_->config_path().string() + ":"), std::string::npos) << log;
  // The whole file was refused: the route's new deny_ips is not in force.
  EXPECT_EQ(status(from("203.0.113.7")), 200);
}

INSTANTIATE_TEST_SUITE_P(Settings, RefusedSetting, ::testing::ValuesIn(refused_cases()),
                         [](const ::testing::TestParamInfo<Refused>& info) {
                           std::string name = info.param.setting;
                           for (char& ch : name) {
                             if (ch == '.') ch = '_';
                           }
                           return name;
                         });

// ---------------------------------------------------------------------------------------------
// Applied: everything else. One test per top-level field, then a table over the route fields.

TEST_F(Reloading, CallersAreApplied) {
  start(std::string(kHead) + "callers: [127.0.0.0/8]\n" + kRouteBefore);
  EXPECT_EQ(status(from("198.51.100.7")), 200);
  reload(std::string(kHead) + "callers: [10.0.0.0/8]\n" + kRouteBefore);
  expect_applied();
  const auto r = call_once(port(), from("198.51.100.7"));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("\"reason\":\"caller\""), std::string::npos) << r.body;
}

TEST_F(Reloading, ClientIpHeaderIsApplied) {
  Call c = from("198.51.100.7");
  c.extra = {{"X-Real-IP", "203.0.113.7"}};
  start(std::string(kHead) + kRouteAfter);
  EXPECT_EQ(status(c), 200);  // X-Forwarded-For names the client
  reload(std::string(kHead) + "client_ip: {header: X-Real-IP}\n" + kRouteAfter);
  expect_applied();
  EXPECT_EQ(status(c), 403);  // now X-Real-IP does
}

TEST_F(Reloading, ClientIpDepthIsApplied) {
  const Call c = from("203.0.113.7, 198.51.100.1");
  start(std::string(kHead) + "client_ip: {depth: 1}\n" + kRouteAfter);
  EXPECT_EQ(status(c), 200);
  reload(std::string(kHead) + "client_ip: {depth: 2}\n" + kRouteAfter);
  expect_applied();
  EXPECT_EQ(status(c), 403);
}

TEST_F(Reloading, ClientIpTrustedHopsAreApplied) {
  const Call c = from("203.0.113.7, 10.0.0.5");
  start(std::string(kHead) + kRouteAfter);
  EXPECT_EQ(status(c), 200);
  reload(std::string(kHead) + "client_ip: {trusted_hops: [10.0.0.0/8]}\n" + kRouteAfter);
  expect_applied();
  EXPECT_EQ(status(c), 403);
}

TEST_F(Reloading, ClientIpIpv6PrefixIsApplied) {
  const std::string route =
      "routes:\n  - name: app\n    hosts: [app.test]\n"
      "    limits: [{name: once, average: 1, period: 1h, burst: 1}]\n";
  start(std::string(kHead) + "client_ip: {ipv6_prefix: 64}\n" + route);
  EXPECT_EQ(status(from("2001:db8::1")), 200);
  EXPECT_EQ(status(from("2001:db8::2")), 429);  // one /64, one bucket
  reload(std::string(kHead) + "client_ip: {ipv6_prefix: 128}\n" + route);
  expect_applied();
  EXPECT_EQ(status(from("2001:db8::3")), 200);  // each address its own bucket now
  EXPECT_EQ(status(from("2001:db8::3")), 429);
}

TEST_F(Reloading, ResponsesRateLimitedIsApplied) {
  const std::string route =
      "routes:\n  - name: app\n    hosts: [app.test]\n"
      "    limits: [{name: once, average: 1, period: 1h, burst: 1}]\n";
  start(std::string(kHead) + route);
  EXPECT_EQ(status(from("198.51.100.7")), 200);
  EXPECT_EQ(status(from("198.51.100.7")), 429);
  reload(std::string(kHead) + "responses: {rate_limited: 503}\n" + route);
  expect_applied();
  EXPECT_EQ(status(from("198.51.100.7")), 503);
}

TEST_F(Reloading, ResponsesForbiddenIsApplied) {
  start(std::string(kHead) + kRouteAfter);
  EXPECT_EQ(status(from("203.0.113.7")), 403);
  reload(std::string(kHead) + "responses: {forbidden: 401}\n" + kRouteAfter);
  expect_applied();
  EXPECT_EQ(status(from("203.0.113.7")), 401);
}

TEST_F(Reloading, IpSetsAreApplied) {
  const std::string route =
      "routes:\n  - name: app\n    hosts: [app.test]\n    deny_ips: [blocked]\n";
  start(std::string(kHead) + "ip_sets: {blocked: [198.51.100.0/24]}\n" + route);
  EXPECT_EQ(status(from("203.0.113.7")), 200);
  reload(std::string(kHead) + "ip_sets: {blocked: [203.0.113.0/24]}\n" + route);
  expect_applied();
  EXPECT_EQ(status(from("203.0.113.7")), 403);
}

TEST_F(Reloading, DefaultIsApplied) {
  start(std::string(kHead) + kRouteBefore + "default: allow\n");
  EXPECT_EQ(status(from("198.51.100.7", "unrouted.test")), 200);
  reload(std::string(kHead) + kRouteBefore + "default: deny\n");
  expect_applied();
  EXPECT_EQ(status(from("198.51.100.7", "unrouted.test")), 403);
}

// Allowed decisions reach the log only once log.allow (and its sample) says so. Decision lines
// are flushed per io thread in order, so once the line after the reload is there, any line
// from before it would be too.
TEST_F(Reloading, LogAllowIsApplied) {
  start(std::string(kHead) + "log: {allow: false}\n" + kRouteBefore);
  Call before = from("198.51.100.7");
  before.uri = "/before-reload";
  EXPECT_EQ(status(before), 200);
  reload(std::string(kHead) + "log: {allow: true}\n" + kRouteBefore);
  expect_applied();
  Call after = before;
  after.uri = "/after-reload";
  EXPECT_EQ(status(after), 200);
  EXPECT_TRUE(eventually([&] {
    return server_->stdout_text().find("/after-reload") != std::string::npos;
  })) << server_->stdout_text();
  EXPECT_EQ(server_->stdout_text().find("/before-reload"), std::string::npos);
}

TEST_F(Reloading, LogAllowSampleIsApplied) {
  start(std::string(kHead) + "log: {allow: true, allow_sample: 0}\n" + kRouteBefore);
  Call before = from("198.51.100.7");
  before.uri = "/before-reload";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(status(before), 200);
  reload(std::string(kHead) + "log: {allow: true, allow_sample: 1}\n" + kRouteBefore);
  expect_applied();
  Call after = before;
  after.uri = "/after-reload";
  EXPECT_EQ(status(after), 200);
  EXPECT_TRUE(eventually([&] {
    return server_->stdout_text().find("/after-reload") != std::string::npos;
  })) << server_->stdout_text();
  EXPECT_EQ(server_->stdout_text().find("/before-reload"), std::string::npos);
}

TEST_F(Reloading, ServerMaxConnectionsIsApplied) {
  start(std::string(kHead) + "server: {max_connections: 100}\n" + kRouteBefore);
  Conn held(port());
  ASSERT_TRUE(held.send(render(from("198.51.100.7"))));
  EXPECT_EQ(held.read_response().status, 200);  // keep-alive: it stays open
  reload(std::string(kHead) + "server: {max_connections: 1}\n" + kRouteBefore);
  expect_applied();
  Conn refused(port());
  EXPECT_TRUE(refused.wait_closed(5000ms));  // accepted and closed at once
  EXPECT_TRUE(eventually(
      [&] { return server_->metric("edgeguard_connections_rejected_total").value_or(0) >= 1; }));
  ASSERT_TRUE(held.send(render(from("198.51.100.7"))));
  EXPECT_EQ(held.read_response().status, 200);  // the connection already open is served
}

// Section 9's policy fields: who is never banned, how bans escalate, what counts as a
// failure, the body size a username is read from, the webhook's token.
const char* kBanningRoute =
    "routes:\n  - name: app\n    hosts: [app.test]\n"
    "    limits: [{name: once, average: 1, period: 1h, burst: 1, ban: {for: 1m}}]\n";

TEST_F(Reloading, BansExemptIsApplied) {
  start(std::string(kHead) + kBanningRoute);
  EXPECT_EQ(status(from("203.0.113.7")), 200);
  EXPECT_EQ(status(from("203.0.113.7")), 403);  // the denial bans
  reload(std::string(kHead) + "bans: {exempt: [203.0.113.0/24]}\n" + kBanningRoute);
  expect_applied();
  // Exempt: no ban refuses it any more; its exhausted limit still does.
  EXPECT_EQ(status(from("203.0.113.7")), 429);
}

TEST_F(Reloading, BansEscalationIsApplied) {
  start(std::string(kHead) + kBanningRoute);
  EXPECT_EQ(status(from("198.51.100.7")), 200);
  EXPECT_EQ(header(from("198.51.100.7"), "Retry-After"), "60");
  ASSERT_EQ(server_->admin_request("DELETE", "/v1/bans/ip:198.51.100.7").status, 200);
  reload(std::string(kHead) + "bans: {escalation: {factor: 3}}\n" + kBanningRoute);
  expect_applied();
  EXPECT_EQ(header(from("198.51.100.7"), "Retry-After"), "180");  // the second ban: 1m x 3
}

const char* kFailureRoute =
    "routes:\n  - name: erp\n    hosts: [erp.test]\n"
    "    failure_limits: [{name: ip, average: 5, period: 1h, burst: 5, key: client_ip}]\n";

TEST_F(Reloading, FailuresWebhookTokenFileIsReadAgain) {
  const auto post = [&](const std::string& token) {
    const std::string body = R"({"route":"erp","client_ip":"198.51.100.7"})";
    Conn c(server_->admin_port());
    EXPECT_TRUE(c.ok() && c.send("POST /v1/failures HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                                 "Authorization: Bearer " +
                                 token + "\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body));
    return c.read_response().status;
  };
  const std::string old_token = "old-token-0123456789abcdef",
                    new_token = "new-token-0123456789abcdef";
  dir_.write("webhook-token", old_token + "\n");
  const std::string yaml =
      std::string(kHead) + "failures: {webhook: {token_file: webhook-token}}\n" + kFailureRoute;
  start(yaml);
  EXPECT_EQ(post(old_token), 202);
  dir_.write("webhook-token", new_token + "\n");
  reload(yaml + "# rotated\n");
  expect_applied();
  EXPECT_EQ(post(old_token), 401);
  EXPECT_EQ(post(new_token), 202);
}

TEST_F(Reloading, FailuresAccessLogStatusIsApplied) {
  dir_.write("access.log", "");
  const auto line = [](int status) {
    return R"({"ClientAddr":"198.51.100.7:4000","ClientHost":"198.51.100.7","DownstreamStatus":)" +
           std::to_string(status) +
           R"(,"RequestHost":"erp.test","RequestMethod":"POST","RequestPath":"/login",)"
           R"("StartUTC":"2026-11-30T10:00:00Z"})"
           "\n";
  };
  const auto append = [&](int status) {
    std::ofstream(dir_.file("access.log"), std::ios::app | std::ios::binary) << line(status);
  };
  const auto counted = [&] {
    return server_->metric(R"(edgeguard_failures_total{route="erp",source="access_log"})")
        .value_or(0);
  };
  const auto read = [&] { return server_->metric("edgeguard_access_log_lines_total").value_or(0); };
  const std::string head = std::string(kHead) + "failures: {access_log: {file: access.log, ";
  start(head + "status: [401]}}\n" + kFailureRoute);
  append(403);
  ASSERT_TRUE(eventually([&] { return read() == 1; })) << server_->stdout_text();
  EXPECT_EQ(counted(), 0);
  reload(head + "status: [401, 403]}}\n" + kFailureRoute);
  expect_applied();
  append(403);
  ASSERT_TRUE(eventually([&] { return read() == 2; })) << server_->stdout_text();
  EXPECT_EQ(counted(), 1);
}

TEST_F(Reloading, ServerMaxBodyBytesIsApplied) {
  const std::string route =
      "routes:\n  - name: app\n    hosts: [app.test]\n    username: {field: user}\n";
  Call login = from("198.51.100.7");
  login.method = "POST";
  login.forward_body = true;
  login.extra = {{"Content-Type", "application/json"}};
  login.body = R"({"user":"alice","padding":")" + std::string(3000, 'p') + "\"}";
  start(std::string(kHead) + route);
  EXPECT_EQ(status(login), 200);
  reload(std::string(kHead) + "server: {max_body_bytes: 2048}\n" + route);
  expect_applied();
  EXPECT_EQ(status(login), 413);
}

TEST_F(Reloading, ServerMaxHeaderBytesIsApplied) {
  Call big = from("198.51.100.7");
  big.extra = {{"X-Padding", std::string(2000, 'p')}};
  start(std::string(kHead) + "server: {max_header_bytes: 8192}\n" + kRouteBefore);
  EXPECT_EQ(status(big), 200);
  reload(std::string(kHead) + "server: {max_header_bytes: 1024}\n" + kRouteBefore);
  expect_applied();
  EXPECT_EQ(status(big), 431);
}

TEST_F(Reloading, ServerHeaderTimeoutIsApplied) {
  start(std::string(kHead) + "server: {header_timeout: 60s}\n" + kRouteBefore);
  reload(std::string(kHead) + "server: {header_timeout: 300ms}\n" + kRouteBefore);
  expect_applied();
  Conn slow(port());
  ASSERT_TRUE(slow.send("GET /auth HTTP/1.1\r\nX-Forwarded-Host: app.test\r\n"));  // no end
  EXPECT_TRUE(slow.wait_closed(10000ms));  // cut off after 300 ms, not 60 s
}

TEST_F(Reloading, ServerIdleTimeoutIsApplied) {
  start(std::string(kHead) + "server: {idle_timeout: 60s}\n" + kRouteBefore);
  reload(std::string(kHead) + "server: {idle_timeout: 300ms}\n" + kRouteBefore);
  expect_applied();
  Conn idle(port());
  ASSERT_TRUE(idle.send(render(from("198.51.100.7"))));
  EXPECT_EQ(idle.read_response().status, 200);
  EXPECT_TRUE(idle.wait_closed(10000ms));  // closed after 300 ms idle, not 60 s
}

// tailnet.ranges: only nodes whose address lies in the ranges are enrolled.
TEST_F(Reloading, TailnetRangesNarrowWhoIsEnrolled) {
  const std::string route =
      "routes:\n  - name: app\n    hosts: [app.test]\n    tailnet: {require: enrolled}\n";
  const std::string nodes = "  nodes: {format: list, file: nodes.txt}\n";
  start(std::string(kHead) + "tailnet:\n" + nodes + route);
  EXPECT_EQ(status(from("100.100.1.1")), 200);
  EXPECT_EQ(status(from("100.100.2.2")), 200);
  EXPECT_EQ(server_->metric("edgeguard_tailnet_nodes"), 2);
  reload(std::string(kHead) + "tailnet:\n  ranges: [100.100.2.0/24]\n" + nodes + route);
  expect_applied();
  EXPECT_EQ(status(from("100.100.1.1")), 403);  // listed, but outside the ranges
  EXPECT_EQ(status(from("100.100.2.2")), 200);
  EXPECT_EQ(server_->metric("edgeguard_tailnet_nodes"), 1);
  EXPECT_NE(server_->stdout_text().find("\"event\":\"tailnet_addresses_outside_ranges\""),
            std::string::npos);
}

// tailnet.ranges: an address in the ranges is a tailnet address, never judged by country.
TEST_F(Reloading, TailnetRangesAreNotJudgedByCountry) {
  const std::string head = std::string(kHead) + "geoip: {country_db: country.mmdb}\n";
  const std::string route =
      "routes:\n  - name: app\n    hosts: [app.test]\n"
      "    geo: {allow_countries: [GB], unknown: deny}\n";
  start(head + route);
  EXPECT_EQ(status(from("198.51.100.7")), 200);  // GB
  EXPECT_EQ(status(from("203.0.113.7")), 403);   // FR
  reload(head + "tailnet:\n  ranges: [203.0.113.0/24]\n" + route);
  expect_applied();
  EXPECT_EQ(status(from("203.0.113.7")), 200);   // a tailnet address now
  EXPECT_EQ(status(from("198.51.100.7")), 200);  // still judged, still GB
}

// tailnet.nodes.refresh: the period of a command source is the one in force. Started with an
// hour, a node added to the command's output is only seen once a reload shortens it.
TEST_F(Reloading, TailnetRefreshIsApplied) {
  const std::string route =
      "routes:\n  - name: app\n    hosts: [app.test]\n    tailnet: {require: enrolled}\n";
  const auto config = [&](const char* refresh) {
    return std::string(kHead) + "tailnet:\n  nodes: {format: list, command: [cat, " +
           dir_.file("nodes2.txt").string() + "], refresh: " + refresh + "}\n" + route;
  };
  start(config("1h"));
  // The first maintenance pass runs the command once more (and finds the same nodes); wait for
  // it, so what follows can only come from a refresh the new period allows.
  ASSERT_TRUE(eventually([&] {
    return server_->metric("edgeguard_tailnet_unchanged_total").value_or(0) >= 1;
  })) << server_->stdout_text();
  dir_.write("nodes2.txt", "100.100.1.1 tag:admin\n100.100.3.3\n");
  EXPECT_EQ(status(from("100.100.3.3")), 403);
  reload(config("1s"));
  expect_applied();
  EXPECT_TRUE(eventually([&] { return status(from("100.100.3.3")) == 200; }, 10000ms))
      << server_->stdout_text();
}

// ---------------------------------------------------------------------------------------------
// The route fields: each changed on one route, then a request whose answer shows the change.

struct RouteCase {
  const char* field;
  std::string before;  // the routes, or the lines of one route named app
  std::string after;
  Call call;
  int status_before, status_after;
  // Limits: requests spent on the bucket before each check, and another client for the check
  // after the reload (a bucket keeps its state across a reload when the names stay).
  int spend_before = 0, spend_after = 0;
  std::optional<Call> call_after = std::nullopt;
};
void PrintTo(const RouteCase& c, std::ostream* os) {
  *os << c.field;
}

Call call(const std::string& ip, const std::string& method = "GET", const std::string& uri = "/") {
  Call c = from(ip);
  c.method = method;
  c.uri = uri;
  return c;
}

std::vector<RouteCase> route_cases() {
  const std::string deny = "    deny_ips: [203.0.113.0/24]\n";
  const std::string once = "    limits: [{name: once, average: 1, period: 1h, burst: 1}]\n";
  const std::string per_user =
      "    limits: [{name: user, average: 1, period: 1h, burst: 1, key: username}]\n";
  Call login = call("198.51.100.7", "POST");
  login.forward_body = true;
  login.extra = {{"Content-Type", "application/json"}};
  login.body = R"({"login":"alice"})";
  return {
      {"hosts", "    hosts: [app.test]\n" + deny, "    hosts: [other.test]\n" + deny,
       call("203.0.113.7"), 403, 200},
      {"paths", "    hosts: [app.test]\n    paths: [/admin/]\n" + deny,
       "    hosts: [app.test]\n    paths: [/]\n" + deny, call("203.0.113.7"), 200, 403},
      {"methods", "    hosts: [app.test]\n    methods: [POST]\n" + deny,
       "    hosts: [app.test]\n    methods: [GET]\n" + deny, call("203.0.113.7"), 200, 403},
      {"mode", "    hosts: [app.test]\n" + deny, "    hosts: [app.test]\n    mode: shadow\n" + deny,
       call("203.0.113.7"), 403, 200},
      {"bypass", "    hosts: [app.test]\n" + deny,
       "    hosts: [app.test]\n    bypass: [203.0.113.7/32]\n" + deny, call("203.0.113.7"), 403,
       200},
      {"deny_ips", "    hosts: [app.test]\n", "    hosts: [app.test]\n" + deny, call("203.0.113.7"),
       200, 403},
      {"allow_ips", "    hosts: [app.test]\n    allow_ips: [203.0.113.0/24]\n",
       "    hosts: [app.test]\n    allow_ips: [198.51.100.0/24]\n", call("203.0.113.7"), 200, 403},
      {"tailnet", "    hosts: [app.test]\n",
       "    hosts: [app.test]\n    tailnet: {require: enrolled}\n", call("198.51.100.7"), 200, 403},
      {"tailnet.tags", "    hosts: [app.test]\n    tailnet: {tags: [\"tag:ops\"]}\n",
       "    hosts: [app.test]\n    tailnet: {tags: [\"tag:admin\"]}\n", call("100.100.1.1"), 403,
       200},
      {"tailnet.users", "    hosts: [app.test]\n    tailnet: {}\n",
       "    hosts: [app.test]\n    tailnet: {users: [alice@example.com]}\n", call("100.100.1.1"),
       200, 403},
      {"tailnet.shadow", "    hosts: [app.test]\n    tailnet: {}\n",
       "    hosts: [app.test]\n    tailnet: {shadow: true}\n", call("198.51.100.7"), 403, 200},
      {"geo", "    hosts: [app.test]\n", "    hosts: [app.test]\n    geo: {deny_countries: [FR]}\n",
       call("203.0.113.7"), 200, 403},
      {"geo.allow_countries", "    hosts: [app.test]\n    geo: {allow_countries: [FR]}\n",
       "    hosts: [app.test]\n    geo: {allow_countries: [GB]}\n", call("203.0.113.7"), 200, 403},
      {"geo.deny_countries", "    hosts: [app.test]\n    geo: {deny_countries: [GB]}\n",
       "    hosts: [app.test]\n    geo: {deny_countries: [FR]}\n", call("203.0.113.7"), 200, 403},
      {"geo.allow_asns", "    hosts: [app.test]\n    geo: {allow_asns: [64497]}\n",
       "    hosts: [app.test]\n    geo: {allow_asns: [64496]}\n", call("203.0.113.7"), 200, 403},
      {"geo.deny_asns", "    hosts: [app.test]\n    geo: {deny_asns: [64496]}\n",
       "    hosts: [app.test]\n    geo: {deny_asns: [AS64497]}\n", call("203.0.113.7"), 200, 403},
      {"geo.unknown", "    hosts: [app.test]\n    geo: {allow_countries: [GB]}\n",
       "    hosts: [app.test]\n    geo: {allow_countries: [GB], unknown: deny}\n",
       call("192.0.2.7"), 200, 403},
      {"geo.shadow", "    hosts: [app.test]\n    geo: {deny_countries: [FR]}\n",
       "    hosts: [app.test]\n    geo: {deny_countries: [FR], shadow: true}\n",
       call("203.0.113.7"), 403, 200},
      {"limits", "    hosts: [app.test]\n", "    hosts: [app.test]\n" + once, call("198.51.100.7"),
       200, 429, 1, 1},
      {"limits.burst", "    hosts: [app.test]\n" + once,
       "    hosts: [app.test]\n    limits: [{name: once, average: 1, period: 1h, burst: 3}]\n",
       call("198.51.100.7"), 429, 200, 1},
      // One a microsecond: a fresh client's second request passes at once.
      {"limits.average", "    hosts: [app.test]\n" + once,
       "    hosts: [app.test]\n    limits: [{name: once, average: 1000, period: 1ms, burst: 1}]\n",
       call("198.51.100.7"), 429, 200, 1, 1, call("198.51.100.8")},
      {"limits.period", "    hosts: [app.test]\n" + once,
       "    hosts: [app.test]\n    limits: [{name: once, average: 1, period: 1us, burst: 1}]\n",
       call("198.51.100.7"), 429, 200, 1, 1, call("198.51.100.8")},
      {"limits.key", "    hosts: [app.test]\n" + once,
       "    hosts: [app.test]\n"
       "    limits: [{name: once, average: 1, period: 1h, burst: 1, key: host}]\n",
       call("198.51.100.7"), 429, 200, 1},
      {"limits.name", "    hosts: [app.test]\n" + once,
       "    hosts: [app.test]\n    limits: [{name: twice, average: 1, period: 1h, burst: 1}]\n",
       call("198.51.100.7"), 429, 200, 1},
      // The same exhausted bucket: its next denial bans once the limit has `ban:`.
      {"limits.ban", "    hosts: [app.test]\n" + once,
       "    hosts: [app.test]\n"
       "    limits: [{name: once, average: 1, period: 1h, burst: 1, ban: {for: 1m}}]\n",
       call("198.51.100.7"), 429, 403, 1},
      // The body field the login name is read from: before, the body has no such field and a
      // limit keyed on the username does not apply.
      {"username", "    hosts: [app.test]\n    username: {field: user}\n" + per_user,
       "    hosts: [app.test]\n    username: {field: login}\n" + per_user, login, 200, 429, 1, 1},
      // A route's name scopes its buckets: renamed, it starts with full ones.
      {"name", "  - name: app\n    hosts: [app.test]\n" + once,
       "  - name: web\n    hosts: [app.test]\n" + once, call("198.51.100.7"), 429, 200, 1},
      // Routes match in file order.
      {"order",
       "  - name: open\n    hosts: [app.test]\n  - name: app\n    hosts: [app.test]\n" + deny,
       "  - name: app\n    hosts: [app.test]\n" + deny + "  - name: open\n    hosts: [app.test]\n",
       call("203.0.113.7"), 200, 403},
      {"responses", "    hosts: [app.test]\n" + deny,
       "    hosts: [app.test]\n    responses: {forbidden: 404}\n" + deny, call("203.0.113.7"), 403,
       404},
  };
}

class RouteField : public Reloading, public ::testing::WithParamInterface<RouteCase> {};

TEST_P(RouteField, IsApplied) {
  const RouteCase& c = GetParam();
  const std::string head = std::string(kHead) +
                           "geoip: {country_db: country.mmdb, asn_db: asn.mmdb}\n"
                           "tailnet:\n  nodes: {format: list, file: nodes.txt}\n"
                           "routes:\n";
  // Most cases write only the lines of one route named app.
  const auto routes = [](const std::string& lines) {
    return lines.starts_with("  - ") ? lines : "  - name: app\n" + lines;
  };
  start(head + routes(c.before));
  for (int i = 0; i < c.spend_before; ++i) EXPECT_EQ(status(c.call), 200);
  EXPECT_EQ(status(c.call), c.status_before);
  reload(head + routes(c.after));
  expect_applied();
  const Call after = c.call_after.value_or(c.call);
  for (int i = 0; i < c.spend_after; ++i) EXPECT_EQ(status(after), 200);
  EXPECT_EQ(status(after), c.status_after);
}

INSTANTIATE_TEST_SUITE_P(Routes, RouteField, ::testing::ValuesIn(route_cases()),
                         [](const ::testing::TestParamInfo<RouteCase>& info) {
                           std::string name = info.param.field;
                           for (char& ch : name) {
                             if (ch == '.') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace edgeguard::testing
