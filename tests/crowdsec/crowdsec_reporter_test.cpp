// The reporter against a real LAPI: edgeguard's bans become CrowdSec decisions that every
// bouncer sees, and keep doing so across a LAPI restart and an outage.
#include "guard/crowdsec/crowdsec_reporter.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <memory>
#include <string>

#include "guard/clock/clock.h"
#include "guard/crowdsec/crowdsec_puller.h"
#include "guard/crowdsec/go_duration.h"
#include "tests/crowdsec/loop_thread.h"
#include "tests/support/crowdsec_fixture.h"

namespace edgeguard {
namespace {

namespace json = boost::json;
using testing::CrowdsecLapi;
using testing::eventually;
using testing::LoopThread;
using namespace std::chrono_literals;

constexpr std::int64_t kS = 1'000'000'000;
constexpr const char* kPassword = "edgeguard-test-password-0123456789";

struct Listed {
  std::string origin, scenario, scope, value, type;
  std::int64_t duration_ns = 0;
};

// Every decision `cscli decisions list -a` shows (-a: without it, other origins are hidden).
std::vector<Listed> listed(const CrowdsecLapi& lapi) {
  std::vector<Listed> out;
  boost::system::error_code ec;
  const json::value v = json::parse(lapi.decisions_json(), ec);
  if (ec || !v.is_array()) return out;  // "null" when there are none
  for (const json::value& alert : v.get_array()) {
    const json::value* ds = alert.get_object().if_contains("decisions");
    if (ds == nullptr || !ds->is_array()) continue;
    for (const json::value& d : ds->get_array()) {
      auto text = [&](const char* k) { return std::string(d.at(k).as_string()); };
      out.push_back({text("origin"), text("scenario"), text("scope"), text("value"), text("type"),
                     parse_go_duration_ns(text("duration")).value_or(0)});
    }
  }
  return out;
}

const Listed* find_value(const std::vector<Listed>& ds, const std::string& value) {
  for (const Listed& d : ds) {
    if (d.value == value) return &d;
  }
  return nullptr;
}

class CrowdsecReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(lapi.running()) << lapi.error();
    ASSERT_TRUE(lapi.add_machine("edgeguard", kPassword)) << lapi.log_tail();
  }
  void TearDown() override {
    loop.call([this] {
      if (reporter) reporter->stop();
      if (puller) puller->stop();
    });
    loop.finish();
  }

  CrowdsecReporterOptions options() const {
    CrowdsecReporterOptions o;
    std::string error;
    o.lapi = *parse_lapi_url(lapi.url(), &error);
    o.machine_id = "edgeguard";
    o.password = kPassword;
    o.batch_delay_ns = 50'000'000;
    o.retry_ns = 200'000'000;
    o.http.connect_timeout_ns = 500'000'000;
    o.http.timeout_ns = 2'000'000'000;
    return o;
  }

  CrowdsecLapi lapi;
  LoopThread loop;
  std::shared_ptr<CrowdsecReporter> reporter;
  std::shared_ptr<CrowdsecPuller> puller;
};

TEST_F(CrowdsecReporterTest, ABanBecomesADecisionWithOriginEdgeguardThatBouncersSee) {
  reporter = CrowdsecReporter::create(loop.io, options());
  reporter->start();
  loop.start();
  EXPECT_TRUE(reporter->report_ban("ip:198.51.100.7", "authentik-login", "per-ip", 15 * 60 * kS));
  EXPECT_TRUE(reporter->report_ban("2001:db8:1::/64", "authentik-login", "per-ip", 3600 * kS));
  ASSERT_TRUE(eventually([&] { return reporter->stats().sent.load() == 2; }))
      << "sent " << reporter->stats().sent.load() << "; " << lapi.log_tail();
  EXPECT_EQ(reporter->stats().logins.load(), 1u);

  const auto ds = listed(lapi);
  const Listed* ip = find_value(ds, "198.51.100.7");
  ASSERT_NE(ip, nullptr) << lapi.decisions_json();
  EXPECT_EQ(ip->origin, "edgeguard");
  EXPECT_EQ(ip->scenario, "edgeguard/authentik-login/per-ip");
  EXPECT_EQ(ip->scope, "Ip");
  EXPECT_EQ(ip->type, "ban");
  // The ban's 15 minutes less the time since, its start rounded up to a whole second.
  EXPECT_GT(ip->duration_ns, 14 * 60 * kS);
  EXPECT_LE(ip->duration_ns, 15 * 60 * kS + kS);
  const Listed* range = find_value(ds, "2001:db8:1::/64");
  ASSERT_NE(range, nullptr) << lapi.decisions_json();
  EXPECT_EQ(range->scope, "Range");
  EXPECT_EQ(range->origin, "edgeguard");

  // Every other bouncer pulls it from LAPI (it is listed above). An edgeguard replica pulling
  // the stream leaves out decisions of its own origin: edgeguard enforces its bans itself, each
  // with its route scope, and a CrowdSec copy would make a route ban one on every route.
  const std::string key = lapi.add_bouncer("replica-2");
  CrowdsecPullerOptions p;
  std::string error;
  p.lapi = *parse_lapi_url(lapi.url(), &error);
  p.api_key = key;
  puller = CrowdsecPuller::create(loop.io, p);
  loop.call([this] { puller->start(); });
  ASSERT_TRUE(eventually([&] { return puller->stats().pulls_ok.load() >= 1; }));
  const auto set = puller->current();
  EXPECT_EQ(set->find(*IpAddress::parse("198.51.100.7"), "", 0, monotonic_ns()), nullptr);
  EXPECT_EQ(set->find(*IpAddress::parse("2001:db8:1::42"), "", 0, monotonic_ns()), nullptr);
  // While a decision of another origin on the same address is taken as usual.
  lapi.cscli({"decisions", "add", "--ip", "198.51.100.7", "--duration", "1h", "--reason", "ops"});
  const auto pulls = puller->stats().pulls_ok.load();
  ASSERT_TRUE(eventually([&] { return puller->stats().pulls_ok.load() > pulls; }, 20000ms));
  const CrowdsecDecision* d =
      puller->current()->find(*IpAddress::parse("198.51.100.7"), "", 0, monotonic_ns());
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->origin(), "edgeguard");
}

TEST_F(CrowdsecReporterTest, AfterALapiRestartTheReporterLogsInAgain) {
  reporter = CrowdsecReporter::create(loop.io, options());
  reporter->start();
  loop.start();
  ASSERT_TRUE(reporter->report_ban("198.51.100.20", "r", "l", 3600 * kS));
  ASSERT_TRUE(eventually([&] { return reporter->stats().sent.load() == 1; })) << lapi.log_tail();
  EXPECT_EQ(reporter->stats().logins.load(), 1u);

  lapi.kill();  // its tokens die with it
  ASSERT_TRUE(lapi.start()) << lapi.error();
  ASSERT_TRUE(reporter->report_ban("198.51.100.21", "r", "l", 3600 * kS));
  ASSERT_TRUE(eventually([&] { return reporter->stats().sent.load() == 2; })) << lapi.log_tail();
  EXPECT_EQ(reporter->stats().logins.load(), 2u);  // the 401 led to one new login
  EXPECT_EQ(reporter->stats().post_errors.load(), 0u);
  const auto ds = listed(lapi);
  EXPECT_NE(find_value(ds, "198.51.100.20"), nullptr);
  EXPECT_NE(find_value(ds, "198.51.100.21"), nullptr);
}

TEST_F(CrowdsecReporterTest, WhileLapiIsDownTheQueueIsBoundedAndDeliveredAfter) {
  auto o = options();
  o.queue_capacity = 3;
  lapi.kill();
  reporter = CrowdsecReporter::create(loop.io, o);
  const auto banned_at = std::chrono::steady_clock::now();
  // The loop is not running yet: nothing leaves the queue while these arrive.
  int accepted = 0;
  for (int i = 0; i < 5; ++i) {
    accepted += reporter->report_ban("198.51.100." + std::to_string(30 + i), "r", "l", 3600 * kS);
  }
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(reporter->stats().dropped.load(), 2u);
  EXPECT_EQ(reporter->stats().queue_length.load(), 3);
  EXPECT_FALSE(reporter->report_ban("user:alice", "r", "l", 3600 * kS));
  EXPECT_EQ(reporter->stats().rejected.load(), 1u);

  reporter->start();
  loop.start();
  // Login fails while LAPI is down and is retried; nothing is lost beyond the bound.
  ASSERT_TRUE(eventually([&] { return reporter->stats().login_errors.load() >= 2; }));
  EXPECT_EQ(reporter->stats().sent.load(), 0u);
  EXPECT_EQ(reporter->stats().queue_length.load(), 3);
  // The outage lasts a few seconds, long enough to tell a ban that ends when edgeguard's does
  // from one shortened by its time in the queue.
  ASSERT_TRUE(eventually([&] { return std::chrono::steady_clock::now() - banned_at >= 3s; }));
  ASSERT_TRUE(lapi.start()) << lapi.error();
  ASSERT_TRUE(eventually([&] { return reporter->stats().sent.load() == 3; })) << lapi.log_tail();
  EXPECT_EQ(reporter->stats().dropped.load(), 2u);
  EXPECT_EQ(reporter->stats().queue_length.load(), 0);
  const auto ds = listed(lapi);
  const std::int64_t since_ban = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now() - banned_at)
                                     .count();
  const Listed* first = find_value(ds, "198.51.100.30");
  ASSERT_NE(first, nullptr);
  // LAPI's time left is the ban's hour less the time since the ban, not less it twice.
  EXPECT_GE(first->duration_ns, 3600 * kS - since_ban - kS / 2) << since_ban;
  EXPECT_NE(find_value(ds, "198.51.100.32"), nullptr);
  EXPECT_EQ(find_value(ds, "198.51.100.33"), nullptr);
}

TEST_F(CrowdsecReporterTest, AWrongPasswordIsCountedAndNothingIsPosted) {
  auto o = options();
  o.password = "not-the-password";
  reporter = CrowdsecReporter::create(loop.io, o);
  reporter->start();
  loop.start();
  ASSERT_TRUE(eventually([&] { return reporter->stats().login_errors.load() == 1; }));
  ASSERT_TRUE(reporter->report_ban("198.51.100.40", "r", "l", 3600 * kS));
  ASSERT_TRUE(eventually([&] { return reporter->stats().login_errors.load() >= 2; }));
  EXPECT_EQ(reporter->stats().sent.load(), 0u);
  EXPECT_EQ(find_value(listed(lapi), "198.51.100.40"), nullptr);
}

TEST_F(CrowdsecReporterTest, SettingsBuildAReporterAndAnUnreadablePasswordFileIsAnError) {
  CrowdsecSettings s;
  s.lapi = lapi.url();
  s.api_key_file = "unused";
  std::string error;
  EXPECT_EQ(CrowdsecReporter::create(loop.io, s, &error), nullptr);  // no report: section
  s.report = CrowdsecReportSettings{"edgeguard", (lapi.dir() / "missing").string()};
  EXPECT_EQ(CrowdsecReporter::create(loop.io, s, &error), nullptr);
  EXPECT_NE(error.find("crowdsec.report.password_file"), std::string::npos) << error;
  { std::ofstream(lapi.dir() / "machine-password") << kPassword << "\n"; }
  s.report->password_file = (lapi.dir() / "machine-password").string();
  reporter = CrowdsecReporter::create(loop.io, s, &error);
  ASSERT_NE(reporter, nullptr) << error;
  reporter->start();
  loop.start();
  EXPECT_TRUE(eventually([&] { return reporter->stats().logins.load() == 1; }));
}

}  // namespace
}  // namespace edgeguard
