// Issue 4 through the real binary: tailnet identity headers, GeoIP country/ASN rules, reload of
// the node list and of the GeoIP database while serving, and `explain --json`. The client
// address comes from X-Forwarded-For (rightmost entry), so a test presents any address from
// 127.0.0.1.
#include <atomic>
#include <boost/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"
#include "tests/support/harness.h"
#include "tests/support/mmdb_writer.h"

namespace edgeguard::testing {
namespace {

// Routes: `admin` wants tag:admin, `node` any enrolled node, `erp` GB/US only (unknown denied),
// `shop` refuses SE, `asn` refuses AS29518.
const char* kPolicy = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 2
geoip: {country_db: country.mmdb, asn_db: asn.mmdb}
tailnet:
  ranges: [100.64.0.0/10, "fd7a:115c:a1e0::/48"]
  nodes: {format: tailscale-status, file: status.json, refresh: 1s}
routes:
  - name: admin
    hosts: [grafana.test]
    tailnet: {require: enrolled, tags: ["tag:admin"]}
  - name: node
    hosts: [node.test]
    tailnet: {require: enrolled}
  - name: erp
    hosts: [erp.test]
    geo: {allow_countries: [GB, US], unknown: deny}
  - name: shop
    hosts: [shop.test]
    geo: {deny_countries: [SE]}
  - name: asn
    hosts: [asn.test]
    geo: {deny_asns: [29518]}
default: allow
)";

class GeoTailnetE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    copy_in(dir_, "maxmind/GeoLite2-Country-Test.mmdb", "country.mmdb");
    copy_in(dir_, "maxmind/GeoLite2-ASN-Test.mmdb", "asn.mmdb");
    copy_in(dir_, "tailnet/tailscale_status.json", "status.json");
    server_ = std::make_unique<Server>(dir_, kPolicy);
    ASSERT_TRUE(server_->started()) << server_->stderr_text() << server_->stdout_text();
  }
  HttpResponse ask(const std::string& host, const std::string& ip,
                   std::vector<std::pair<std::string, std::string>> extra = {}) {
    Call c = call_from(host, ip);
    c.extra = std::move(extra);
    return call_once(server_->port(), c);
  }

  ScratchDir dir_;
  std::unique_ptr<Server> server_;
};

// Bob's admin box in tests/data/tailnet/tailscale_status.json.
void expect_bob_admin_box(const HttpResponse& r) {
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("X-Edgeguard-Route"), "admin");
  EXPECT_EQ(r.header("Tailscale-User"), "Bob Quinn");
  EXPECT_EQ(r.header("Tailscale-Login"), "bob@example.com");
  EXPECT_EQ(r.header("Tailscale-Name"), "admin-box.tail4f2c1.ts.net");
  EXPECT_EQ(r.header("Tailscale-Node"), "nAdm1n9CNTRL");
  EXPECT_EQ(r.header("Tailscale-Tags"), "tag:admin,tag:ops");
}

TEST_F(GeoTailnetE2e, EnrolledTaggedNodeGetsItsIdentityHeaders) {
  expect_bob_admin_box(ask("grafana.test", "100.64.0.9"));
  expect_bob_admin_box(ask("grafana.test", "fd7a:115c:a1e0::9"));
  // Traefik may hand over the v4-mapped form; it is the same node.
  expect_bob_admin_box(ask("grafana.test", "::ffff:100.64.0.9"));
  expect_bob_admin_box(ask("grafana.test", "198.51.100.1, ::ffff:100.64.0.9"));

  const HttpResponse alice = ask("node.test", "100.64.0.5");
  EXPECT_EQ(alice.status, 200);
  EXPECT_EQ(alice.header("Tailscale-User"), "Alice Byrne");
  EXPECT_EQ(alice.header("Tailscale-Login"), "alice@example.com");
  EXPECT_EQ(alice.header("Tailscale-Name"), "alice-macbook.tail4f2c1.ts.net");
  EXPECT_EQ(alice.header("Tailscale-Node"), "nAl1ce7CNTRL");
}

TEST_F(GeoTailnetE2e, ForgedIdentityAndGeoHeadersAreNeverEchoed) {
  const std::vector<std::pair<std::string, std::string>> forged = {
      {"Tailscale-User", "Mallory"},   {"Tailscale-Login", "mallory@evil.test"},
      {"Tailscale-Name", "evil"},      {"Tailscale-Node", "nEvil"},
      {"Tailscale-Tags", "tag:admin"}, {"X-Edgeguard-Country", "GB"},
      {"X-Edgeguard-Asn", "64496"},    {"X-Edgeguard-Route", "admin"}};

  const HttpResponse bob = ask("grafana.test", "100.64.0.9", forged);
  expect_bob_admin_box(bob);
  for (const char* h : {"Tailscale-User", "Tailscale-Login", "Tailscale-Name", "Tailscale-Node",
                        "Tailscale-Tags", "X-Edgeguard-Route"}) {
    EXPECT_EQ(bob.count(h), 1) << h;
  }
  // A tailnet address is never judged by country, so no country is computed and none echoed.
  EXPECT_EQ(bob.count("X-Edgeguard-Country"), 0);
  EXPECT_EQ(bob.count("X-Edgeguard-Asn"), 0);

  const HttpResponse us = ask("erp.test", "216.160.83.56", forged);
  EXPECT_EQ(us.status, 200) << us.body;
  EXPECT_EQ(us.header("X-Edgeguard-Country"), "US");
  EXPECT_EQ(us.count("X-Edgeguard-Country"), 1);
  EXPECT_EQ(us.header("X-Edgeguard-Asn"), "209");
  EXPECT_EQ(us.count("X-Edgeguard-Asn"), 1);
  EXPECT_EQ(us.count("Tailscale-User"), 0);
  EXPECT_EQ(us.count("Tailscale-Tags"), 0);
  EXPECT_EQ(us.header("X-Edgeguard-Route"), "erp");

  // Forged headers do not make an outsider a node either.
  const HttpResponse outsider = ask("grafana.test", "100.64.1.1", forged);
  EXPECT_EQ(outsider.status, 403);
  EXPECT_EQ(reason_of(outsider), "tailnet");
  EXPECT_EQ(outsider.count("Tailscale-User"), 0);
}

TEST_F(GeoTailnetE2e, OnlyEnrolledNodesWithTheTagPass) {
  for (const char* ip : {"100.64.1.1", "100.127.255.254", "fd7a:115c:a1e0::77", "198.51.100.7",
                         "127.0.0.1", "::ffff:100.64.1.1"}) {
    const HttpResponse r = ask("grafana.test", ip);
    EXPECT_EQ(r.status, 403) << ip;
    EXPECT_EQ(reason_of(r), "tailnet") << ip << " " << r.body;
    EXPECT_EQ(r.count("Tailscale-User"), 0) << ip;
  }
  // Enrolled but without tag:admin (Alice, Bob's phone, the gateway itself tagged tag:server).
  for (const char* ip : {"100.64.0.5", "::ffff:100.64.0.5", "100.88.1.2", "100.101.102.1"}) {
    const HttpResponse r = ask("grafana.test", ip);
    EXPECT_EQ(r.status, 403) << ip;
    EXPECT_EQ(reason_of(r), "tailnet") << ip;
    // The same addresses are enrolled: the plain `require: enrolled` route lets them in.
    EXPECT_EQ(ask("node.test", ip).status, 200) << ip;
  }
}

TEST_F(GeoTailnetE2e, CountryAndAsnRules) {
  const HttpResponse gb = ask("erp.test", "81.2.69.160");
  EXPECT_EQ(gb.status, 200) << gb.body;
  EXPECT_EQ(gb.header("X-Edgeguard-Country"), "GB");
  EXPECT_EQ(gb.count("X-Edgeguard-Asn"), 0);  // not in GeoLite2-ASN-Test

  const HttpResponse us = ask("erp.test", "::ffff:216.160.83.56");
  EXPECT_EQ(us.status, 200) << us.body;
  EXPECT_EQ(us.header("X-Edgeguard-Country"), "US");
  EXPECT_EQ(us.header("X-Edgeguard-Asn"), "209");

  const HttpResponse se = ask("erp.test", "89.160.20.112");
  EXPECT_EQ(se.status, 403);
  EXPECT_EQ(reason_of(se), "geo") << se.body;
  EXPECT_EQ(se.count("X-Edgeguard-Country"), 0);  // allow-only header

  const HttpResponse se_shop = ask("shop.test", "89.160.20.112");
  EXPECT_EQ(se_shop.status, 403);
  EXPECT_EQ(reason_of(se_shop), "geo");
  EXPECT_EQ(ask("shop.test", "81.2.69.160").status, 200);

  // unknown: deny for an address the database does not know; the default (allow) elsewhere.
  const HttpResponse unknown = ask("erp.test", "8.8.8.8");
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(reason_of(unknown), "geo");
  const HttpResponse unknown_shop = ask("shop.test", "8.8.8.8");
  EXPECT_EQ(unknown_shop.status, 200);
  EXPECT_EQ(unknown_shop.count("X-Edgeguard-Country"), 0);

  // Private, loopback, link-local and tailnet addresses are not judged by country.
  for (const char* ip : {"10.0.0.1", "192.168.1.40", "172.16.5.5", "127.0.0.1", "169.254.1.1",
                         "100.64.1.1", "fd7a:115c:a1e0::77", "::1"}) {
    const HttpResponse r = ask("erp.test", ip);
    EXPECT_EQ(r.status, 200) << ip << " " << r.body;
    EXPECT_EQ(r.count("X-Edgeguard-Country"), 0) << ip;
  }

  const HttpResponse bredband = ask("asn.test", "89.160.20.112");
  EXPECT_EQ(bredband.status, 403);
  EXPECT_EQ(reason_of(bredband), "geo");
  const HttpResponse other_asn = ask("asn.test", "216.160.83.56");
  EXPECT_EQ(other_asn.status, 200);
  EXPECT_EQ(other_asn.header("X-Edgeguard-Asn"), "209");
}

TEST_F(GeoTailnetE2e, ExplainJsonShowsCountryAsnAndNode) {
  auto explain = [&](const std::string& host, const std::string& ip) {
    const RunResult r =
        run_edgeguard({"explain", "--config", dir_.file("edgeguard.yaml").string(), "--method",
                       "GET", "--host", host, "--uri", "/", "--ip", ip, "--json"},
                      dir_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out;
    return ec || !v.is_object() ? boost::json::object{} : v.as_object();
  };
  const boost::json::object us = explain("erp.test", "216.160.83.56");
  ASSERT_TRUE(us.contains("country")) << boost::json::serialize(us);
  EXPECT_EQ(us.at("country").as_string(), "US");
  ASSERT_TRUE(us.contains("asn"));
  EXPECT_EQ(boost::json::value_to<std::int64_t>(us.at("asn")), 209);
  EXPECT_EQ(us.at("verdict").as_string(), "allow");

  const boost::json::object se = explain("asn.test", "89.160.20.112");
  ASSERT_TRUE(se.contains("asn")) << boost::json::serialize(se);
  EXPECT_EQ(boost::json::value_to<std::int64_t>(se.at("asn")), 29518);
  EXPECT_EQ(se.at("country").as_string(), "SE");
  EXPECT_EQ(se.at("reason").as_string(), "geo");

  const boost::json::object bob = explain("grafana.test", "100.64.0.9");
  ASSERT_TRUE(bob.contains("node")) << boost::json::serialize(bob);
  EXPECT_EQ(bob.at("node").as_string(), "admin-box.tail4f2c1.ts.net");
  EXPECT_EQ(bob.at("verdict").as_string(), "allow");
  const boost::json::object alice = explain("grafana.test", "100.64.0.5");
  EXPECT_EQ(alice.at("reason").as_string(), "tailnet") << boost::json::serialize(alice);
}

// Calls in a loop from another thread while a test swaps files; every answer must be one the
// test accepts (never a connection failure, a 5xx or a missing header).
class Traffic {
 public:
  template <typename Check>
  Traffic(int port, Call call, Check check)
      : thread_([this, port, call, check] {
          while (!stop_.load()) {
            const HttpResponse r = call_once(port, call);
            ++calls_;
            if (!check(r)) {
              ++bad_;
              last_bad_ = std::to_string(r.status) + " " + r.body;
            }
          }
        }) {}
  ~Traffic() { finish(); }
  void finish() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int calls() const { return calls_.load(); }
  int bad() const { return bad_.load(); }
  std::string last_bad() const { return last_bad_; }  // read after finish()

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> calls_{0}, bad_{0};
  std::string last_bad_;
  std::thread thread_;
};

TEST(GeoTailnetReload, NodeListReplacedByRenameIsPickedUpAndGarbageKeepsTheLastGood) {
  ScratchDir dir;
  dir.write("nodes.list", "100.64.0.6 tag:admin\n100.64.0.5 tag:admin\n");
  Server server(dir, R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 2
tailnet:
  nodes: {format: list, file: nodes.list}
routes:
  - name: admin
    hosts: [grafana.test]
    tailnet: {require: enrolled, tags: ["tag:admin"]}
)");
  ASSERT_TRUE(server.started()) << server.stderr_text();
  const int port = server.port();
  auto status = [&](const std::string& ip) {
    return call_once(port, call_from("grafana.test", ip)).status;
  };
  ASSERT_EQ(status("100.64.0.6"), 200);
  ASSERT_EQ(status("100.64.0.5"), 200);
  ASSERT_EQ(status("100.64.0.7"), 403);

  // 100.64.0.6 stays enrolled throughout: it must never see anything but 200.
  Traffic steady(port, call_from("grafana.test", "100.64.0.6"), [](const HttpResponse& r) {
    return r.status == 200 && r.header("Tailscale-Tags") == "tag:admin";
  });

  replace_by_rename(dir, "nodes.list", "100.64.0.6 tag:admin\n100.64.0.7 tag:admin\n");
  EXPECT_TRUE(eventually([&] { return status("100.64.0.7") == 200; }, 10s)) << "node added";
  EXPECT_TRUE(eventually([&] { return status("100.64.0.5") == 403; }, 10s)) << "node removed";
  EXPECT_TRUE(eventually([&] { return server.metric("edgeguard_tailnet_nodes") == 2.0; }, 5s));

  const double errors_before = server.metric("edgeguard_tailnet_load_errors_total").value_or(-1);
  ASSERT_GE(errors_before, 0);
  replace_by_rename(dir, "nodes.list", "this is not a node list\n");
  EXPECT_TRUE(eventually(
      [&] {
        return server.metric("edgeguard_tailnet_load_errors_total").value_or(0) > errors_before;
      },
      10s));
  // The last good list keeps serving.
  EXPECT_EQ(status("100.64.0.7"), 200);
  EXPECT_EQ(status("100.64.0.5"), 403);
  EXPECT_EQ(server.metric("edgeguard_tailnet_nodes"), 2.0);

  // And a good list after the garbage is taken again.
  replace_by_rename(dir, "nodes.list", "100.64.0.6 tag:admin\n100.64.0.5 tag:admin\n");
  EXPECT_TRUE(eventually([&] { return status("100.64.0.5") == 200; }, 10s));
  EXPECT_EQ(status("100.64.0.7"), 403);

  steady.finish();
  EXPECT_GT(steady.calls(), 10);
  EXPECT_EQ(steady.bad(), 0) << steady.last_bad();
  EXPECT_TRUE(server.running());
}

// A node-list command polled every `refresh` mostly finds nothing new: those refreshes are
// counted, not logged; only a changed list logs `tailnet_loaded` (once per change).
TEST(GeoTailnetReload, UnchangedRefreshesAreCountedAndOnlyAChangeIsLogged) {
  ScratchDir dir;
  dir.write("nodes.list", "100.64.0.5 tag:admin\n");
  Server server(dir, R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 1
tailnet:
  nodes: {format: list, command: [/bin/cat, )" +
                         dir.file("nodes.list").string() +
                         R"(], refresh: 1s}
)");
  ASSERT_TRUE(server.started()) << server.stderr_text();
  auto loaded_lines = [&] {
    const std::string out = server.stdout_text();
    int n = 0;
    for (auto at = out.find("\"event\":\"tailnet_loaded\""); at != std::string::npos;
         at = out.find("\"event\":\"tailnet_loaded\"", at + 1)) {
      ++n;
    }
    return n;
  };
  auto unchanged = [&] { return server.metric("edgeguard_tailnet_unchanged_total").value_or(-1); };
  EXPECT_TRUE(eventually([&] { return unchanged() >= 2; }, 10s)) << unchanged();
  EXPECT_EQ(loaded_lines(), 0) << server.stdout_text();

  replace_by_rename(dir, "nodes.list", "100.64.0.5 tag:admin\n100.64.0.6\n");
  EXPECT_TRUE(eventually([&] { return server.metric("edgeguard_tailnet_nodes") == 2.0; }, 10s));
  const double after_change = unchanged();
  EXPECT_TRUE(eventually([&] { return unchanged() >= after_change + 2; }, 10s));
  EXPECT_EQ(loaded_lines(), 1) << server.stdout_text();
}

TEST(GeoTailnetReload, GeoipDatabaseReplacedByRenameAnswersNewAndGarbageKeepsTheOld) {
  ScratchDir dir;
  copy_in(dir, "maxmind/GeoLite2-Country-Test.mmdb", "country.mmdb");
  Server server(dir, R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 2
geoip: {country_db: country.mmdb}
routes:
  - name: shop
    hosts: [shop.test]
    geo: {deny_countries: [KP, FR]}
)");
  ASSERT_TRUE(server.started()) << server.stderr_text();
  const int port = server.port();
  auto ask = [&](const std::string& ip) { return call_once(port, call_from("shop.test", ip)); };
  ASSERT_EQ(ask("81.2.69.160").header("X-Edgeguard-Country"), "GB");
  ASSERT_EQ(ask("89.160.20.112").status, 200);  // SE

  // A country is known for this address in both databases: it must never go missing.
  Traffic steady(port, call_from("shop.test", "81.2.69.160"), [](const HttpResponse& r) {
    const auto country = r.header("X-Edgeguard-Country");
    return r.status == 200 && (country == "GB" || country == "IE");
  });

  // Another database, built here, in the ip-location-db shape (IPv6 tree without the
  // ::ffff:0:0/96 alias, so IPv4 must be looked up as IPv4).
  MmdbWriter writer(6, "test-country");
  ASSERT_TRUE(writer.insert("81.2.69.0/24", ip_location_country("IE")));
  ASSERT_TRUE(writer.insert("89.160.20.0/24", ip_location_country("FR")));
  writer.set_build_epoch(1'800'000'000);
  replace_by_rename(dir, "country.mmdb", writer.build());

  EXPECT_TRUE(
      eventually([&] { return ask("81.2.69.160").header("X-Edgeguard-Country") == "IE"; }, 10s));
  const HttpResponse fr = ask("89.160.20.112");
  EXPECT_EQ(fr.status, 403);
  EXPECT_EQ(reason_of(fr), "geo");
  EXPECT_TRUE(eventually(
      [&] { return server.metric("edgeguard_geoip_build_epoch_seconds") == 1'800'000'000.0; }, 5s));

  const double errors_before = server.metric("edgeguard_geoip_load_errors_total").value_or(-1);
  ASSERT_GE(errors_before, 0);
  replace_by_rename(dir, "country.mmdb", std::string(4096, '\x5a') + "not an mmdb");
  EXPECT_TRUE(eventually(
      [&] {
        return server.metric("edgeguard_geoip_load_errors_total").value_or(0) > errors_before;
      },
      10s));
  // The old database keeps answering.
  EXPECT_EQ(ask("81.2.69.160").header("X-Edgeguard-Country"), "IE");
  EXPECT_EQ(ask("89.160.20.112").status, 403);

  steady.finish();
  EXPECT_GT(steady.calls(), 10);
  EXPECT_EQ(steady.bad(), 0) << steady.last_bad();
  EXPECT_TRUE(server.running());
}

}  // namespace
}  // namespace edgeguard::testing
