// The puller against a real LAPI (Debian's crowdsec -no-cs): what a bouncer must do with the
// decision stream, and what it must keep doing while LAPI is gone.
#include "guard/crowdsec/crowdsec_puller.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "guard/clock/clock.h"
#include "tests/crowdsec/loop_thread.h"
#include "tests/support/crowdsec_fixture.h"

namespace edgeguard {
namespace {

using testing::CrowdsecLapi;
using testing::eventually;
using testing::LoopThread;
using namespace std::chrono_literals;

constexpr std::int64_t kS = 1'000'000'000;
constexpr ScopeMask kIpRangeCountry = scope_bit(DecisionScope::ip) |
                                      scope_bit(DecisionScope::range) |
                                      scope_bit(DecisionScope::country);

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

class CrowdsecPullerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(lapi.running()) << lapi.error();
    key = lapi.add_bouncer("edgeguard");
    ASSERT_FALSE(key.empty()) << lapi.log_tail();
  }
  void TearDown() override {
    if (puller) loop.call([this] { puller->stop(); });
    loop.finish();
  }

  CrowdsecPullerOptions options(ScopeMask scopes = kDefaultScopes) const {
    CrowdsecPullerOptions o;
    std::string error;
    o.lapi = *parse_lapi_url(lapi.url(), &error);
    o.api_key = key;
    o.refresh_ns = 300'000'000;
    o.scopes = scopes;
    o.http.connect_timeout_ns = 500'000'000;
    o.http.timeout_ns = 1'000'000'000;
    return o;
  }

  void add(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"decisions", "add"};
    argv.insert(argv.end(), args.begin(), args.end());
    ASSERT_EQ(lapi.cscli(argv), 0) << lapi.log_tail();
  }
  void remove(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"decisions", "delete"};
    argv.insert(argv.end(), args.begin(), args.end());
    ASSERT_EQ(lapi.cscli(argv), 0) << lapi.log_tail();
  }

  const CrowdsecDecision* find(const char* address, std::string_view country = "") {
    held = puller->current();  // a request thread holds the set while it uses a decision
    return held->find(ip(address), country, 0, monotonic_ns());
  }

  std::uint64_t completed() const {
    return puller->stats().pulls_ok.load() + puller->stats().pulls_failed.load();
  }
  // Waits until a pull that started after this call has completed: whatever LAPI held before
  // the call is then in the set (pulls never overlap, so the n-th completion is the n-th pull).
  bool next_pull_done(std::chrono::milliseconds timeout = 10s) {
    const std::uint64_t started = puller->stats().pulls_started.load();
    return eventually([&] { return completed() >= started + 1; }, timeout);
  }

  CrowdsecLapi lapi;
  std::string key;
  LoopThread loop;
  std::shared_ptr<CrowdsecPuller> puller;
  std::shared_ptr<const DecisionSet> held;
};

TEST_F(CrowdsecPullerTest, StartupPullBringsIpRangeAndCountryDecisionsWithTheirType) {
  add({"--ip", "198.51.100.7", "--duration", "4h", "--reason", "edgeguard-test/ssh"});
  add({"--range", "203.0.113.0/24", "--duration", "1h"});
  add({"--ip", "2001:db8::7", "--duration", "1h", "--type", "captcha"});
  add({"--scope", "Country", "--value", "KP", "--duration", "2h"});
  add({"--scope", "AS", "--value", "64496", "--duration", "2h"});  // not configured: not asked
  puller = CrowdsecPuller::create(loop.io, options(kIpRangeCountry));
  const PullOutcome first = run_first_pull(loop.io, *puller, 10 * kS);
  ASSERT_EQ(first.status, PullStatus::ok) << first.error;
  EXPECT_TRUE(first.startup);
  EXPECT_EQ(first.decisions, 4u);
  EXPECT_EQ(puller->stats().decisions.load(), 4);

  const CrowdsecDecision* d = find("198.51.100.7");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->type, DecisionType::ban);
  EXPECT_EQ(d->scenario(), "edgeguard-test/ssh");
  EXPECT_EQ(d->origin(), "cscli");
  // LAPI's "3h59m59.9s" became a deadline about four hours from now.
  EXPECT_GT(d->until_ns, monotonic_ns() + 3 * 3600 * kS);
  EXPECT_LE(d->until_ns, monotonic_ns() + 4 * 3600 * kS);

  d = find("203.0.113.200");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->scope, DecisionScope::range);
  EXPECT_EQ(d->value_text(), "203.0.113.0/24");
  EXPECT_EQ(find("203.0.114.1"), nullptr);

  d = find("2001:db8::7");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->type, DecisionType::captcha);  // kept with its type: the rule decides
  EXPECT_EQ(d->type_name(), "captcha");

  d = find("192.0.2.1", "KP");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->scope, DecisionScope::country);
  EXPECT_EQ(find("192.0.2.1", "KR"), nullptr);
  EXPECT_EQ(puller->current()->count(DecisionScope::as), 0u);
}

TEST_F(CrowdsecPullerTest, ANewDecisionArrivesWithinOneRefreshAndADeletionLiftsIt) {
  puller = CrowdsecPuller::create(loop.io, options());
  ASSERT_EQ(run_first_pull(loop.io, *puller, 10 * kS).status, PullStatus::ok);
  loop.start();
  EXPECT_EQ(find("198.51.100.8"), nullptr);

  add({"--ip", "198.51.100.8", "--duration", "1h"});
  add({"--range", "10.20.0.0/16", "--duration", "1h"});
  ASSERT_TRUE(next_pull_done());
  EXPECT_NE(find("198.51.100.8"), nullptr);
  EXPECT_NE(find("10.20.30.40"), nullptr);

  remove({"--ip", "198.51.100.8"});
  ASSERT_TRUE(next_pull_done());
  EXPECT_EQ(find("198.51.100.8"), nullptr);
  EXPECT_NE(find("10.20.30.40"), nullptr);
  // LAPI goes on listing the deleted decision in later answers; applying it again is harmless.
  ASSERT_TRUE(next_pull_done());
  ASSERT_TRUE(next_pull_done());
  EXPECT_EQ(find("198.51.100.8"), nullptr);
  EXPECT_NE(find("10.20.30.40"), nullptr);
  EXPECT_EQ(puller->stats().pulls_failed.load(), 0u);
}

TEST_F(CrowdsecPullerTest, AnExpiredDecisionStopsMatchingWithoutAPull) {
  add({"--ip", "198.51.100.9", "--duration", "30s"});
  puller = CrowdsecPuller::create(loop.io, options());
  ASSERT_EQ(run_first_pull(loop.io, *puller, 10 * kS).status, PullStatus::ok);
  puller->stop();  // no pull will happen from here on
  const auto set = puller->current();
  const std::uint64_t generation = puller->generation();
  const CrowdsecDecision* d = set->find(ip("198.51.100.9"), "", 0, monotonic_ns());
  ASSERT_NE(d, nullptr);
  const std::int64_t until = d->until_ns;
  EXPECT_GT(until, monotonic_ns() + 20 * kS);
  // The same set, asked at the deadline LAPI's duration gave: nothing.
  EXPECT_NE(set->find(ip("198.51.100.9"), "", 0, until - 1), nullptr);
  EXPECT_EQ(set->find(ip("198.51.100.9"), "", 0, until), nullptr);
  EXPECT_EQ(puller->generation(), generation);
}

TEST_F(CrowdsecPullerTest, LapiDownOrHangingKeepsTheLastSetServingAndItCatchesUpAfter) {
  add({"--ip", "198.51.100.10", "--duration", "1h"});
  add({"--ip", "198.51.100.11", "--duration", "1h"});
  puller = CrowdsecPuller::create(loop.io, options());
  std::vector<PullOutcome> outcomes;  // loop thread only until finish()
  std::atomic<std::size_t> recovered_with_startup{0};
  puller->set_observer([&](const PullOutcome& o) {
    if (o.status == PullStatus::ok && !outcomes.empty() &&
        outcomes.back().status != PullStatus::ok && o.startup) {
      recovered_with_startup.fetch_add(1);
    }
    outcomes.push_back(o);
  });
  ASSERT_EQ(run_first_pull(loop.io, *puller, 10 * kS).status, PullStatus::ok);
  loop.start();

  // LAPI hangs: connections are accepted by the kernel and never answered.
  lapi.signal(SIGSTOP);
  ASSERT_TRUE(eventually([&] { return puller->stats().pulls_started.load() > completed(); }));
  // A pull is in flight and waiting; requests are not: the set answers, and the loop itself
  // is free for other work (the admin listener, reloads) meanwhile.
  EXPECT_NE(find("198.51.100.10"), nullptr);
  EXPECT_TRUE(loop.call([] {}, 200ms));
  ASSERT_TRUE(eventually([&] { return puller->stats().pulls_failed.load() >= 1; }));
  EXPECT_NE(find("198.51.100.10"), nullptr);

  // LAPI gone: connections refused.
  lapi.kill();
  const std::uint64_t failed = puller->stats().pulls_failed.load();
  ASSERT_TRUE(eventually([&] { return puller->stats().pulls_failed.load() >= failed + 2; }));
  EXPECT_NE(find("198.51.100.10"), nullptr);
  EXPECT_NE(find("198.51.100.11"), nullptr);
  EXPECT_GE(puller->stats().last_pull_seconds(monotonic_ns()), 0.5);  // the list is getting old

  // LAPI back: changes made since are caught up.
  ASSERT_TRUE(lapi.start()) << lapi.error();
  remove({"--ip", "198.51.100.10"});
  add({"--ip", "198.51.100.12", "--duration", "1h"});
  ASSERT_TRUE(eventually([&] { return find("198.51.100.12") != nullptr; })) << lapi.log_tail();
  ASSERT_TRUE(next_pull_done());
  EXPECT_EQ(find("198.51.100.10"), nullptr);
  EXPECT_NE(find("198.51.100.11"), nullptr);
  EXPECT_LT(puller->stats().last_pull_seconds(monotonic_ns()), 5.0);
  ASSERT_TRUE(loop.call([] {}));  // outcomes are written on the loop: read them after it
  EXPECT_EQ(recovered_with_startup.load(), 1u) << "the first pull after failures asks for all";
}

TEST_F(CrowdsecPullerTest, AWrongBouncerKeyIsAClearStartupError) {
  auto o = options();
  o.api_key = "0123456789abcdef0123456789abcdef";
  puller = CrowdsecPuller::create(loop.io, o);
  const PullOutcome first = run_first_pull(loop.io, *puller, 10 * kS);
  EXPECT_EQ(first.status, PullStatus::forbidden);
  const std::string message = describe_pull_failure(*puller, first);
  EXPECT_NE(message.find(lapi.url()), std::string::npos) << message;
  EXPECT_NE(message.find("403"), std::string::npos) << message;
  EXPECT_NE(message.find("api_key_file"), std::string::npos) << message;
  EXPECT_EQ(message.find(o.api_key), std::string::npos) << "the key is never in a message";
  EXPECT_EQ(puller->current()->size(), 0u);
  EXPECT_EQ(puller->stats().pulls_failed.load(), 1u);
}

TEST_F(CrowdsecPullerTest, LapiUnreachableAtStartupIsNotFatal) {
  lapi.kill();
  puller = CrowdsecPuller::create(loop.io, options());
  const PullOutcome first = run_first_pull(loop.io, *puller, 10 * kS);
  EXPECT_EQ(first.status, PullStatus::unreachable);
  EXPECT_NE(first.error.find("cannot connect"), std::string::npos) << first.error;
  loop.start();
  ASSERT_TRUE(lapi.start()) << lapi.error();
  add({"--ip", "198.51.100.13", "--duration", "1h"});
  EXPECT_TRUE(eventually([&] { return find("198.51.100.13") != nullptr; }));
}

TEST_F(CrowdsecPullerTest, SettingsBuildAPullerAndAnUnreadableKeyFileIsAnError) {
  CrowdsecSettings s;
  s.lapi = lapi.url();
  s.api_key_file = (lapi.dir() / "missing-key").string();
  std::string error;
  EXPECT_EQ(CrowdsecPuller::create(loop.io, s, &error), nullptr);
  EXPECT_NE(error.find("crowdsec.api_key_file"), std::string::npos) << error;
  { std::ofstream(lapi.dir() / "key") << key << "\n"; }
  s.api_key_file = (lapi.dir() / "key").string();
  puller = CrowdsecPuller::create(loop.io, s, &error);
  ASSERT_NE(puller, nullptr) << error;
  EXPECT_EQ(run_first_pull(loop.io, *puller, 10 * kS).status, PullStatus::ok);
}

}  // namespace
}  // namespace edgeguard
