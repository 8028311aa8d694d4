// One table of requests through the three verbs that decide: `serve` (the binary, over
// loopback, as Traefik calls it), `explain` and `replay`. They run one decision pipeline
// (guard/pipeline), so they must agree on verdict, reason, route and limit for every request:
// a rule added to the pipeline shows up in all three or the test fails.
//
// explain checks limits against a fresh bucket and charges nothing, so it is compared on the
// rows no earlier row has charged; serve and replay keep state and are compared on every row
// (replay reports counts per route, reason and limit, which must equal serve's counts).
#include <boost/json.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"

namespace edgeguard::testing {
namespace {

namespace json = boost::json;

const char* kPolicy = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 1
callers: [127.0.0.0/8]
log: {allow: true}
geoip: {country_db: country.mmdb}
tailnet:
  ranges: [100.64.0.0/10]
  nodes: {format: list, file: nodes.list}
ip_sets: {office: [203.0.113.0/24]}
routes:
  - name: login
    hosts: [auth.example.net]
    paths: [/login]
    methods: [POST]
    geo: {deny_countries: [CN]}
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 3, key: client_ip}
      - {name: all, average: 1, period: 1h, burst: 6, key: route}
  - name: admin
    hosts: [grafana.example.net]
    tailnet: {require: enrolled, tags: ["tag:admin"]}
  - name: erp
    hosts: [erp.example.net]
    bypass: [office]
    deny_ips: [198.51.100.66/32]
    geo: {allow_countries: [GB], unknown: deny}
  - name: trial
    hosts: [trial.example.net]
    mode: shadow
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 1, key: client_ip}
  - name: closed
    hosts: [closed.example.net]
    allow_ips: [10.0.0.0/8]
default: deny
)";

struct Row {
  std::string method, host, uri, ip;
  bool fresh;  // no earlier row charged its buckets: explain must agree too
};

// GB: 81.2.69.142, 81.2.69.160, 2.125.160.216 (MaxMind's test database); CN: 175.16.199.1;
// SE: 89.160.20.112. The node list enrols 100.64.0.1 (tag:admin) and 100.64.0.2 (untagged).
const std::vector<Row> kTable = {
    {"POST", "auth.example.net", "/login", "81.2.69.142", true},            // allow
    {"POST", "auth.example.net", "/login?next=%2F", "175.16.199.1", true},  // geo
    {"GET", "auth.example.net", "/login", "81.2.69.142", true},             // default (method)
    {"GET", "grafana.example.net", "/d/x", "100.64.0.1", true},             // enrolled, tagged
    {"GET", "grafana.example.net", "/d/x", "100.64.0.2", true},             // untagged: tailnet
    {"GET", "grafana.example.net", "/d/x", "81.2.69.142", true},            // not a node
    {"GET", "erp.example.net", "/app", "203.0.113.5", true},                // bypass
    {"GET", "erp.example.net", "/app", "198.51.100.66", true},              // deny_ips
    {"GET", "erp.example.net", "/app", "89.160.20.112", true},              // geo: SE
    {"GET", "erp.example.net", "/app", "192.0.2.1", true},                  // geo: unknown
    {"GET", "erp.example.net", "/app", "81.2.69.142", true},                // GB: allow
    {"GET", "trial.example.net", "/", "81.2.69.160", true},                 // shadow, admitted
    {"GET", "closed.example.net", "/", "10.1.2.3", true},                   // allow_ips
    {"GET", "closed.example.net", "/", "81.2.69.142", true},                // ip
    {"GET", "nowhere.example.net", "/", "81.2.69.142", true},               // default deny
    // The limits: per-ip burst 3 (row 1 took one), then `all` (burst 6) for everyone.
    {"POST", "auth.example.net", "/login", "81.2.69.142", false},    // allow (2 of 3)
    {"POST", "auth.example.net", "/login", "81.2.69.142", false},    // allow (3 of 3)
    {"POST", "auth.example.net", "/login", "81.2.69.142", false},    // per-ip
    {"POST", "auth.example.net", "/login", "81.2.69.160", true},     // allow (all: 4 of 6)
    {"POST", "auth.example.net", "/login", "81.2.69.160", false},    // allow (5 of 6)
    {"POST", "auth.example.net", "/login", "81.2.69.160", false},    // allow (6 of 6)
    {"POST", "auth.example.net", "/login", "2.125.160.216", false},  // all
    {"GET", "trial.example.net", "/", "81.2.69.160", false},         // shadow_deny rate_limit
    {"GET", "trial.example.net", "/", "81.2.69.160", false},         // shadow_deny rate_limit
};

struct Verdict {
  std::string verdict, reason, route, limit;
  bool operator==(const Verdict&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Verdict& v) {
  return os << v.verdict << "/" << v.reason << " route " << v.route << " limit '" << v.limit << "'";
}

std::string str(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}

class SameVerdict : public ::testing::Test {
 protected:
  void SetUp() override {
    copy_in(dir_, "maxmind/GeoIP2-Country-Test.mmdb", "country.mmdb");
    dir_.write("nodes.list", "100.64.0.1 tag:admin\n100.64.0.2\n");
    dir_.write("edgeguard.yaml", kPolicy);
  }

  // Every `decision` line serve logged, in order (one thread: the order of the requests).
  std::vector<Verdict> served(const Server& server) {
    std::vector<Verdict> out;
    std::istringstream lines(server.stdout_text());
    for (std::string line; std::getline(lines, line);) {
      boost::system::error_code ec;
      const json::value v = json::parse(line, ec);
      if (ec || !v.is_object() || str(v.as_object(), "event") != "decision") continue;
      const json::object& o = v.as_object();
      out.push_back({str(o, "verdict"), str(o, "reason"), str(o, "route"), str(o, "limit")});
    }
    return out;
  }

  Verdict explained(const Row& row) {
    const RunResult r =
        run_edgeguard({"explain", "--config", dir_.file("edgeguard.yaml").string(), "--method",
                       row.method, "--host", row.host, "--uri", row.uri, "--ip", row.ip, "--json"},
                      dir_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    const json::value v = json::parse(r.out, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "explain printed no JSON: " << r.out << r.err;
      return {};
    }
    const json::object& o = v.as_object();
    const std::string reason = str(o, "reason");
    // The log names a limit only for a rate-limit verdict; explain also names the nearest one.
    return {str(o, "verdict"), reason, str(o, "route"),
            reason == "rate_limit" ? str(o, "limit") : ""};
  }

  ScratchDir dir_;
};

TEST_F(SameVerdict, ServeExplainAndReplayAgreeOnEveryRequest) {
  Server server(dir_, kPolicy);
  ASSERT_TRUE(server.started()) << server.stderr_text();
  std::string access_log;
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    const Row& row = kTable[i];
    Call call = call_from(row.host, row.ip, row.method, row.uri);
    const HttpResponse r = call_once(server.port(), call);
    ASSERT_NE(r.status, 0) << "row " << i;
    // The access-log line Traefik writes for that request (replay's input), a second apart.
    const auto q = row.uri.find('?');
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "2026-11-30T10:00:%02zuZ", i);
    access_log += R"({"ClientAddr":")" + row.ip + R"(:4711","ClientHost":")" + row.ip +
                  R"(","DownstreamStatus":)" + std::to_string(r.status) + R"(,"RequestHost":")" +
                  row.host + R"(","RequestMethod":")" + row.method + R"(","RequestPath":")" +
                  row.uri.substr(0, q) + (q == std::string::npos ? "" : row.uri.substr(q)) +
                  R"(","StartUTC":")" + stamp + "\"}\n";
  }
  std::vector<Verdict> serve;
  ASSERT_TRUE(eventually([&] {
    serve = served(server);
    return serve.size() >= kTable.size();
  })) << server.stdout_text();
  ASSERT_EQ(serve.size(), kTable.size());

  // The table is meant to reach every rule: check it still does.
  std::map<std::string, int> reasons;
  for (const Verdict& v : serve) ++reasons[v.verdict + "/" + v.reason];
  for (const char* expected : {"allow/none", "deny/geo", "deny/default", "deny/tailnet", "deny/ip",
                               "deny/rate_limit", "shadow_deny/rate_limit"}) {
    EXPECT_GT(reasons[expected], 0) << expected << " never decided";
  }

  // explain: every row no earlier row charged.
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    if (!kTable[i].fresh) continue;
    EXPECT_EQ(explained(kTable[i]), serve[i])
        << "row " << i << ": " << kTable[i].host << kTable[i].uri << " from " << kTable[i].ip;
  }

  // replay: the same counts per route, verdict, reason and limit.
  dir_.write("access.log", access_log);
  const RunResult r = run_edgeguard({"replay", "--config", dir_.file("edgeguard.yaml").string(),
                                     "--json", dir_.file("access.log").string()},
                                    dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::system::error_code ec;
  const json::value report = json::parse(r.out, ec);
  ASSERT_FALSE(ec) << r.out;
  std::map<std::string, std::int64_t> from_serve, from_replay;
  for (const Verdict& v : serve) {
    ++from_serve[v.route + " requests"];
    ++from_serve[v.route + " " + v.verdict];
    if (v.verdict != "allow") ++from_serve[v.route + " would_deny " + v.reason];
    if (!v.limit.empty()) ++from_serve[v.route + " limit " + v.limit];
  }
  for (const auto& rv : report.at("routes").as_array()) {
    const json::object& route = rv.as_object();
    const std::string name = str(route, "route");
    for (const char* field : {"requests", "allow", "deny", "shadow_deny"}) {
      const auto n = json::value_to<std::int64_t>(route.at(field));
      if (n != 0) from_replay[name + " " + field] = n;
    }
    for (const auto& [reason, n] : route.at("would_deny_by_reason").as_object()) {
      from_replay[name + " would_deny " + std::string(reason)] = json::value_to<std::int64_t>(n);
    }
    for (const auto& lv : route.at("limits").as_array()) {
      const auto n = json::value_to<std::int64_t>(lv.as_object().at("would_deny"));
      if (n != 0) from_replay[name + " limit " + str(lv.as_object(), "limit")] = n;
    }
  }
  EXPECT_EQ(from_replay, from_serve) << r.out;
}

}  // namespace
}  // namespace edgeguard::testing
