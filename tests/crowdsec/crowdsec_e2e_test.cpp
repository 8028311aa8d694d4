// CrowdSec through the binary (SPEC section 9, issue 14): `edgeguard serve` as the bouncer of a
// real LAPI (Debian's crowdsec -no-cs, tests/support/crowdsec_fixture), decisions made with
// cscli. Every wait is on something edgeguard reports (the pull counters on /metrics, an answer,
// a log line), never on the clock alone: with `refresh: 1s`, "a pull that started after X" is
// the second successful pull counted after X (pulls never overlap, so the first may have been
// under way already).
#include <boost/json.hpp>

#include <signal.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"
#include "tests/support/crowdsec_fixture.h"

namespace edgeguard::testing {
namespace {

namespace json = boost::json;

constexpr const char* kPullsOk = R"(edgeguard_crowdsec_pulls_total{result="ok"})";
constexpr const char* kPullsFailed = R"(edgeguard_crowdsec_pulls_total{result="error"})";
constexpr const char* kDecisions = "edgeguard_crowdsec_decisions";
constexpr const char* kListAge = "edgeguard_crowdsec_last_pull_seconds";

struct Options {
  std::string lapi = "";  // LAPI's URL (or a relay's); serve() fills in LAPI's
  std::string refresh = "1s";
  std::string captcha = "deny";
  std::string key_file = "crowdsec-key";
  bool report = false;
  bool catch_all = false;  // a last route without hosts, paths or methods
};

// Routes: `app` (the rule on), `erp` (crowdsec: off), `trial` (crowdsec: shadow), `login` (a
// limit that bans, for the reporter; its bans are route-scoped, so `app` does not see them).
std::string policy(const Options& o) {
  return "listen: 127.0.0.1:0\n"
         "admin_listen: 127.0.0.1:0\n"
         "callers: [127.0.0.0/8]\n"
         "geoip: {country_db: country.mmdb}\n"
         "crowdsec:\n"
         "  lapi: " +
         o.lapi +
         "\n"
         "  api_key_file: " +
         o.key_file +
         "\n"
         "  refresh: " +
         o.refresh +
         "\n"
         "  scopes: [ip, range, country]\n"
         "  captcha: " +
         o.captcha + "\n" +
         (o.report ? "  report: {machine_id: edgeguard, password_file: machine-password}\n" : "") +
         "routes:\n"
         "  - name: app\n"
         "    hosts: [app.example.net]\n"
         "  - name: erp\n"
         "    hosts: [erp.example.net]\n"
         "    crowdsec: off\n"
         "  - name: trial\n"
         "    hosts: [trial.example.net]\n"
         "    crowdsec: shadow\n"
         "  - name: login\n"
         "    hosts: [auth.example.net]\n"
         "    limits:\n"
         "      - {name: per-ip, average: 1, period: 1h, burst: 1, key: client_ip,\n"
         "         ban: {for: 10m}}\n" +
         (o.catch_all ? "  - name: everything-else\n" : "") + "default: allow\n";
}

json::object body_of(const HttpResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  return ec || !v.is_object() ? json::object{} : v.as_object();
}

std::string field(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}

// The log lines of one event, as JSON objects.
std::vector<json::object> events(const std::string& log, const std::string& event) {
  std::vector<json::object> out;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (!ec && v.is_object() && field(v.as_object(), "event") == event) {
      out.push_back(v.as_object());
    }
  }
  return out;
}

// A 403 from the crowdsec rule naming `scenario` and the decision's type.
void expect_crowdsec_denial(const HttpResponse& r, const std::string& scenario,
                            const std::string& type = "ban") {
  EXPECT_EQ(r.status, 403) << r.body;
  const json::object body = body_of(r);
  EXPECT_EQ(field(body, "reason"), "crowdsec") << r.body;
  EXPECT_EQ(field(body, "scenario"), scenario) << r.body;
  EXPECT_EQ(field(body, "decision"), type) << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
}

class CrowdsecE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(lapi_.running()) << lapi_.error();
    const std::string key = lapi_.add_bouncer("edgeguard");
    ASSERT_FALSE(key.empty()) << lapi_.log_tail();
    dir_.write("crowdsec-key", key + "\n");
    copy_in(dir_, "maxmind/GeoLite2-Country-Test.mmdb", "country.mmdb");
  }

  void serve(Options o = {}) {
    if (o.lapi.empty()) o.lapi = lapi_.url();
    server_ = std::make_unique<Server>(dir_, policy(o));
    ASSERT_TRUE(server_->started()) << server_->stderr_text() << server_->stdout_text();
  }

  // cscli decisions add|delete ARGS...
  void decisions(const std::string& verb, std::vector<std::string> args) {
    args.insert(args.begin(), {"decisions", verb});
    std::string out;
    ASSERT_EQ(lapi_.cscli(args, &out), 0) << out << lapi_.log_tail();
  }

  HttpResponse ask(const std::string& host, const std::string& ip) {
    return call_once(server_->port(), call_from(host, ip));
  }
  double metric(const std::string& series) { return server_->metric(series).value_or(-1); }

  // True once a pull that started after this call has succeeded: whatever LAPI held at the
  // call is then in the list edgeguard serves.
  bool pulled_since_now(std::chrono::milliseconds timeout = 10s) {
    const double done = metric(kPullsOk);
    return eventually([&] { return metric(kPullsOk) >= done + 2; }, timeout);
  }
  // True once `n` more pulls have failed than at the call.
  bool failed_pulls(double n, std::chrono::milliseconds timeout = 10s) {
    const double failed = metric(kPullsFailed);
    return eventually([&] { return metric(kPullsFailed) >= failed + n; }, timeout);
  }

  CrowdsecLapi lapi_;
  ScratchDir dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(CrowdsecE2e, AnIpDecisionDeniesFromTheNextPullOnAndItsDeletionLiftsIt) {
  serve();
  // The startup pull completes before edgeguard listens.
  const std::string log = server_->stdout_text();
  ASSERT_NE(log.find("\"event\":\"crowdsec_pulled\""), std::string::npos) << log;
  EXPECT_LT(log.find("\"event\":\"crowdsec_pulled\""), log.find("\"event\":\"started\""));
  EXPECT_EQ(metric(kDecisions), 0);
  EXPECT_EQ(ask("app.example.net", "198.51.100.7").status, 200);

  decisions("add", {"--ip", "198.51.100.7", "--duration", "1h", "--reason", "e2e/ssh-bf"});
  ASSERT_TRUE(pulled_since_now()) << server_->stdout_text();
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.7"), "e2e/ssh-bf");
  EXPECT_EQ(ask("app.example.net", "198.51.100.8").status, 200);
  EXPECT_EQ(metric(kDecisions), 1);
  EXPECT_EQ(metric(kPullsFailed), 0);
  EXPECT_EQ(metric(R"(edgeguard_decisions_total{route="app",verdict="deny",reason="crowdsec"})"),
            1);

  decisions("delete", {"--ip", "198.51.100.7"});
  ASSERT_TRUE(pulled_since_now()) << server_->stdout_text();
  EXPECT_EQ(ask("app.example.net", "198.51.100.7").status, 200);
  EXPECT_EQ(metric(kDecisions), 0);
}

TEST_F(CrowdsecE2e, ARangeDecisionCoversEveryAddressInItAndNoneOutside) {
  decisions("add", {"--range", "203.0.113.0/24", "--duration", "1h", "--reason", "e2e/v4-range"});
  decisions("add", {"--range", "2001:db8:1::/48", "--duration", "1h", "--reason", "e2e/v6-range"});
  serve();
  EXPECT_EQ(metric(kDecisions), 2);
  for (const char* inside : {"203.0.113.0", "203.0.113.77", "203.0.113.255"}) {
    SCOPED_TRACE(inside);
    expect_crowdsec_denial(ask("app.example.net", inside), "e2e/v4-range");
  }
  for (const char* inside : {"2001:db8:1::1", "2001:db8:1:ffff:ffff:ffff:ffff:ffff"}) {
    SCOPED_TRACE(inside);
    expect_crowdsec_denial(ask("app.example.net", inside), "e2e/v6-range");
  }
  for (const char* outside : {"203.0.112.255", "203.0.114.0", "2001:db8:2::1", "2001:db8::1"}) {
    EXPECT_EQ(ask("app.example.net", outside).status, 200) << outside;
  }
}

// refresh: 1h, so after the startup pull no pull happens during the test: only edgeguard's own
// clock can lift the decision, and it must not lift it before LAPI's deadline.
TEST_F(CrowdsecE2e, ExpiryLiftsADecisionWithoutAPull) {
  const auto added = Clock::now();
  decisions("add", {"--ip", "198.51.100.9", "--duration", "6s", "--reason", "e2e/short"});
  serve({.refresh = "1h"});
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.9"), "e2e/short");

  Clock::time_point lifted;
  ASSERT_TRUE(eventually(
      [&] {
        lifted = Clock::now();
        return ask("app.example.net", "198.51.100.9").status == 200;
      },
      20s));
  // LAPI hands over the time left (a Go duration with fractions), counted from its answer; one
  // second of slack for a LAPI that would round it down.
  EXPECT_GT(lifted - added, 5s);
  EXPECT_EQ(metric(kPullsOk), 1);
  EXPECT_EQ(metric(kPullsFailed), 0);
}

TEST_F(CrowdsecE2e, ACountryDecisionDeniesTheCountrysAddressesByGeoIp) {
  // GeoLite2-Country-Test.mmdb: 89.160.20.112 is in SE, 81.2.69.160 in GB. No route has a geo
  // rule: the country is looked up for CrowdSec alone.
  decisions("add",
            {"--scope", "Country", "--value", "SE", "--duration", "1h", "--reason", "e2e/country"});
  serve();
  EXPECT_EQ(metric(kDecisions), 1);
  expect_crowdsec_denial(ask("app.example.net", "89.160.20.112"), "e2e/country");
  EXPECT_EQ(ask("app.example.net", "81.2.69.160").status, 200);
  EXPECT_EQ(ask("app.example.net", "198.51.100.1").status, 200);  // no country at all
}

TEST_F(CrowdsecE2e, CaptchaDecisionsAreDeniedOrLetThroughAsConfigured) {
  decisions("add", {"--ip", "198.51.100.20", "--type", "captcha", "--duration", "1h", "--reason",
                    "e2e/captcha"});
  // A captcha on the address, a ban on its range: the ban wins in either mode.
  decisions("add", {"--ip", "192.0.2.20", "--type", "captcha", "--duration", "1h", "--reason",
                    "e2e/captcha"});
  decisions("add", {"--range", "192.0.2.0/24", "--duration", "1h", "--reason", "e2e/range-ban"});
  serve({.captcha = "deny"});
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.20"), "e2e/captcha", "captcha");
  expect_crowdsec_denial(ask("app.example.net", "192.0.2.20"), "e2e/range-ban");

  // A second replica with its own bouncer key and `captcha: allow`.
  ScratchDir other;
  other.write("crowdsec-key", lapi_.add_bouncer("edgeguard-2") + "\n");
  copy_in(other, "maxmind/GeoLite2-Country-Test.mmdb", "country.mmdb");
  Server allowing(other, policy({.lapi = lapi_.url(), .captcha = "allow"}));
  ASSERT_TRUE(allowing.started()) << allowing.stderr_text();
  EXPECT_EQ(allowing.metric(kDecisions), 3);
  const HttpResponse passed =
      call_once(allowing.port(), call_from("app.example.net", "198.51.100.20"));
  EXPECT_EQ(passed.status, 200) << passed.body;
  expect_crowdsec_denial(call_once(allowing.port(), call_from("app.example.net", "192.0.2.20")),
                         "e2e/range-ban");
}

TEST_F(CrowdsecE2e, AnOffRouteIsNotJudgedAndAShadowRouteRecordsTheDenialAndAllows) {
  decisions("add", {"--ip", "198.51.100.30", "--duration", "1h", "--reason", "e2e/ssh-bf"});
  serve();
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.30"), "e2e/ssh-bf");
  const HttpResponse off = ask("erp.example.net", "198.51.100.30");
  EXPECT_EQ(off.status, 200) << off.body;
  const HttpResponse shadow = ask("trial.example.net", "198.51.100.30");
  EXPECT_EQ(shadow.status, 200) << shadow.body;
  EXPECT_EQ(ask("nowhere.example.net", "198.51.100.30").status, 200);  // default: allow

  EXPECT_EQ(metric(R"(edgeguard_decisions_total{route="app",verdict="deny",reason="crowdsec"})"),
            1);
  EXPECT_EQ(
      metric(R"(edgeguard_decisions_total{route="trial",verdict="shadow_deny",reason="crowdsec"})"),
      1);
  EXPECT_EQ(metric(R"(edgeguard_decisions_total{route="erp",verdict="allow",reason="none"})"), 1);
}

// The `crowdsec:` section builds the puller and the reporter once: a reload that changes it is
// refused naming the field (nothing else in that file applies), while a route's `crowdsec:`
// mode is policy and reloads like any route field.
TEST_F(CrowdsecE2e, AReloadAppliesARoutesModeAndRefusesAChangedCrowdsecSection) {
  decisions("add", {"--ip", "198.51.100.70", "--duration", "1h", "--reason", "e2e/ssh-bf"});
  serve();
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.70"), "e2e/ssh-bf");
  auto reloads = [&](const char* result) {
    return metric(std::string("edgeguard_config_reloads_total{result=\"") + result + "\"}");
  };
  auto app_off = [](std::string yaml) {
    const std::string app = "    hosts: [app.example.net]\n";
    return yaml.replace(yaml.find(app), app.size(), app + "    crowdsec: off\n");
  };

  server_->rewrite_config(app_off(policy({.lapi = lapi_.url(), .refresh = "2s"})));
  server_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return reloads("failure") >= 1; })) << server_->stdout_text();
  EXPECT_NE(server_->stdout_text().find("changing crowdsec.refresh needs a restart"),
            std::string::npos)
      << server_->stdout_text();
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.70"), "e2e/ssh-bf");

  server_->rewrite_config(app_off(policy({.lapi = lapi_.url()})));
  server_->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return reloads("success") >= 1; })) << server_->stdout_text();
  EXPECT_EQ(ask("app.example.net", "198.51.100.70").status, 200);
  expect_crowdsec_denial(ask("auth.example.net", "198.51.100.70"), "e2e/ssh-bf");  // still on
  ASSERT_TRUE(pulled_since_now()) << "the puller stopped with the reload";
}

// A request that matches no route gets `default` and no rule judges it; a catch-all route at
// the end (README, "Which requests it judges") brings unlisted hosts under the rule.
TEST_F(CrowdsecE2e, ACatchAllRouteBringsUnlistedHostsUnderTheRule) {
  decisions("add", {"--ip", "198.51.100.80", "--duration", "1h", "--reason", "e2e/ssh-bf"});
  serve({.catch_all = true});
  const HttpResponse r = ask("nowhere.example.net", "198.51.100.80");
  expect_crowdsec_denial(r, "e2e/ssh-bf");
  EXPECT_EQ(field(body_of(r), "route"), "everything-else");
  EXPECT_EQ(ask("nowhere.example.net", "198.51.100.81").status, 200);
  EXPECT_EQ(ask("erp.example.net", "198.51.100.80").status, 200);  // still off
}

// What a request costs must not depend on LAPI: a request that waited on a pull would wait for
// the client's connect (3 s) or answer (30 s) deadline, so a bound far below those and far above
// a loaded machine's scheduling noise tells the two apart.
constexpr auto kFastAnswer = 500ms;

struct Outage {
  std::chrono::milliseconds slowest{0};
  int asked = 0;
  std::string wrong;  // the first answer that was not the list of before the outage
};

// Asks about a denied and an allowed address until `until` is true (or one answer is wrong),
// each answer timed.
template <typename Until>
Outage ask_while(int port, Until until) {
  Outage o;
  while (o.wrong.empty() && !until()) {
    for (const char* ip : {"198.51.100.40", "198.51.100.41"}) {
      const auto start = Clock::now();
      const HttpResponse r = call_once(port, call_from("app.example.net", ip));
      o.slowest = std::max(
          o.slowest, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
      ++o.asked;
      const int expected = std::string(ip) == "198.51.100.40" ? 403 : 200;
      if (r.status != expected && o.wrong.empty()) {
        o.wrong = std::string(ip) + ": " + std::to_string(r.status) + " " + r.body;
      }
    }
  }
  return o;
}

TEST_F(CrowdsecE2e, LapiKilledTheListKeepsServingFastAndItCatchesUpWhenLapiIsBack) {
  decisions("add", {"--ip", "198.51.100.40", "--duration", "1h", "--reason", "e2e/ssh-bf"});
  serve();
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.40"), "e2e/ssh-bf");

  lapi_.kill();
  ASSERT_TRUE(failed_pulls(1)) << server_->stdout_text();
  const double failed = metric(kPullsFailed);
  const Outage o = ask_while(server_->port(), [&] { return metric(kPullsFailed) >= failed + 2; });
  EXPECT_EQ(o.wrong, "") << "the list of before the outage no longer serves";
  EXPECT_LT(o.slowest, kFastAnswer) << o.asked << " answers while LAPI was down";
  EXPECT_EQ(metric(kDecisions), 1);
  // The list's age grows past the refresh interval, and the log says why.
  EXPECT_GE(metric(kListAge), 2.0);
  const auto failures = events(server_->stdout_text(), "crowdsec_pull_failed");
  ASSERT_FALSE(failures.empty()) << server_->stdout_text();
  EXPECT_EQ(failures.back().at("serving_decisions").as_int64(), 1);
  EXPECT_EQ(field(failures.back(), "lapi"), lapi_.url());

  ASSERT_TRUE(lapi_.start()) << lapi_.error();
  ASSERT_TRUE(pulled_since_now()) << server_->stdout_text();
  EXPECT_EQ(events(server_->stdout_text(), "crowdsec_pull_recovered").size(), 1u);
  EXPECT_LT(metric(kListAge), 2.0);
  decisions("add", {"--ip", "198.51.100.42", "--duration", "1h", "--reason", "e2e/later"});
  ASSERT_TRUE(pulled_since_now());
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.42"), "e2e/later");
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.40"), "e2e/ssh-bf");
  EXPECT_EQ(metric(kDecisions), 2);
}

// A LAPI that accepts the connection and never answers (SIGSTOP) holds a pull open for the
// client's whole answer deadline: requests meanwhile are answered from the list as before.
TEST_F(CrowdsecE2e, AHungLapiHoldsNoRequest) {
  decisions("add", {"--ip", "198.51.100.40", "--duration", "1h", "--reason", "e2e/ssh-bf"});
  serve();
  lapi_.signal(SIGSTOP);
  // No pull completes while it hangs: the list ages past two refresh intervals.
  ASSERT_TRUE(eventually([&] { return metric(kListAge) >= 2.0; }, 10s));
  const double pulls = metric(kPullsOk) + metric(kPullsFailed);
  const Outage o = ask_while(server_->port(), [&] { return metric(kListAge) >= 4.0; });
  EXPECT_EQ(o.wrong, "");
  EXPECT_LT(o.slowest, kFastAnswer) << o.asked << " answers while LAPI hung";
  EXPECT_EQ(metric(kPullsOk) + metric(kPullsFailed), pulls) << "a pull completed: LAPI answered";

  lapi_.signal(SIGCONT);
  ASSERT_TRUE(pulled_since_now(40s)) << server_->stdout_text();
  EXPECT_LT(metric(kListAge), 2.0);
}

// LAPI unreachable for edgeguard (a relay between them) while it stays up for cscli: what
// changed meanwhile, an addition and a deletion, is enforced once edgeguard reaches it again.
// The outage ends with pulls whose answers are lost after LAPI served them: LAPI then counts
// those changes as delivered, and only a full pull (startup=true) after a failure brings them.
TEST_F(CrowdsecE2e, WhatChangedWhileLapiWasUnreachableIsEnforcedAfter) {
  LapiRelay relay(lapi_.port());
  ASSERT_NE(relay.port(), 0);
  decisions("add", {"--ip", "198.51.100.50", "--duration", "1h", "--reason", "e2e/before"});
  serve({.lapi = relay.url()});
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.50"), "e2e/before");

  relay.cut();
  ASSERT_TRUE(failed_pulls(1)) << server_->stdout_text();
  decisions("add", {"--ip", "198.51.100.51", "--duration", "1h", "--reason", "e2e/during"});
  decisions("delete", {"--ip", "198.51.100.50"});
  relay.lose_answers();
  ASSERT_TRUE(failed_pulls(2)) << server_->stdout_text();
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.50"), "e2e/before");
  EXPECT_EQ(ask("app.example.net", "198.51.100.51").status, 200);

  relay.mend();
  ASSERT_TRUE(pulled_since_now()) << server_->stdout_text();
  EXPECT_EQ(ask("app.example.net", "198.51.100.50").status, 200);
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.51"), "e2e/during");
  EXPECT_EQ(metric(kDecisions), 1);
  EXPECT_EQ(events(server_->stdout_text(), "crowdsec_pull_recovered").size(), 1u);
}

TEST_F(CrowdsecE2e, ABouncerKeyLapiRefusesIsAStartupError) {
  dir_.write("wrong-key", "not-a-key-lapi-knows-0123456789\n");
  const auto config =
      dir_.write("edgeguard.yaml", policy({.lapi = lapi_.url(), .key_file = "wrong-key"}));
  const RunResult r = run_edgeguard({"serve", "--config", config.string()}, dir_, 20s);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("LAPI at " + lapi_.url()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("refused the bouncer key (403)"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("\"event\":\"started\""), std::string::npos) << r.out;
  EXPECT_EQ((r.out + r.err).find("not-a-key-lapi-knows"), std::string::npos);  // never echoed
}

// The reporter: a ban edgeguard makes becomes a LAPI decision of origin edgeguard, for the other
// bouncers; edgeguard's own puller leaves it out, so a route-scoped ban stays on its route.
TEST_F(CrowdsecE2e, ABanIsReportedToLapiAndNotEnforcedBackThroughTheCrowdsecRule) {
  ASSERT_TRUE(lapi_.add_machine("edgeguard", "e2e-machine-password-0123456789"));
  dir_.write("machine-password", "e2e-machine-password-0123456789\n");
  serve({.report = true});
  EXPECT_EQ(ask("auth.example.net", "198.51.100.60").status, 200);
  const HttpResponse banned = ask("auth.example.net", "198.51.100.60");
  EXPECT_EQ(banned.status, 403);
  EXPECT_EQ(reason_of(banned), "ban");

  ASSERT_TRUE(eventually(
      [&] { return metric(R"(edgeguard_crowdsec_reports_total{result="sent"})") == 1; }, 10s))
      << server_->stdout_text() << lapi_.log_tail();
  boost::system::error_code ec;
  const json::value listed = json::parse(lapi_.decisions_json(), ec);
  ASSERT_FALSE(ec) << lapi_.decisions_json();
  const json::object* decision = nullptr;
  for (const json::value& alert : listed.as_array()) {
    for (const json::value& d : alert.as_object().at("decisions").as_array()) {
      if (field(d.as_object(), "value") == "198.51.100.60") decision = &d.as_object();
    }
  }
  ASSERT_NE(decision, nullptr) << json::serialize(listed);
  EXPECT_EQ(field(*decision, "origin"), "edgeguard");
  EXPECT_EQ(field(*decision, "scenario"), "edgeguard/login/per-ip");
  EXPECT_EQ(field(*decision, "type"), "ban");
  EXPECT_EQ(field(*decision, "scope"), "Ip");

  // LAPI now streams it to every bouncer, edgeguard included: edgeguard drops it, so the ban
  // (scope: route) does not follow the client onto `app` as a CrowdSec denial.
  ASSERT_TRUE(pulled_since_now()) << server_->stdout_text();
  EXPECT_EQ(metric(kDecisions), 0);
  const HttpResponse elsewhere = ask("app.example.net", "198.51.100.60");
  EXPECT_EQ(elsewhere.status, 200) << elsewhere.body;
  EXPECT_EQ(reason_of(ask("auth.example.net", "198.51.100.60")), "ban");
  // A decision of any other origin on the same address is enforced as usual.
  decisions("add", {"--ip", "198.51.100.60", "--duration", "1h", "--reason", "e2e/ssh-bf"});
  ASSERT_TRUE(pulled_since_now()) << server_->stdout_text();
  expect_crowdsec_denial(ask("app.example.net", "198.51.100.60"), "e2e/ssh-bf");
  EXPECT_EQ(metric(kDecisions), 1);
}

}  // namespace
}  // namespace edgeguard::testing
