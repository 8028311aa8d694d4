// The puller when LAPI's answer is wrong: the last good set keeps serving, the failure is
// counted, and the next pull asks for the full list again (LAPI may already have moved this
// key's "since last pull" mark for the answer edgeguard could not apply).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "guard/clock/clock.h"
#include "guard/crowdsec/crowdsec_puller.h"
#include "tests/crowdsec/loop_thread.h"
#include "tests/crowdsec/scripted_lapi.h"
#include "tests/support/crowdsec_fixture.h"

namespace edgeguard {
namespace {

using testing::eventually;
using testing::LoopThread;
using testing::ScriptedLapi;

std::string ip_decision(int id, const char* address) {
  return R"({"id":)" + std::to_string(id) + R"(,"scope":"Ip","value":")" + address +
         R"(","type":"ban","duration":"1h","scenario":"s","origin":"cscli"})";
}

TEST(CrowdsecPullerAnswers, BadAnswersKeepTheLastSetAndTheNextPullAsksForAll) {
  const std::string big(4096, ' ');
  ScriptedLapi lapi({
      ScriptedLapi::response(200, "{\"new\":[" + ip_decision(1, "192.0.2.1") + "]}"),
      ScriptedLapi::response(200, "{\"new\":[" + ip_decision(2, "192.0.2.2") + "]}"),
      ScriptedLapi::response(200, "{\"new\": [garbage"),
      ScriptedLapi::response(200, "{\"new\":[" + ip_decision(3, "192.0.2.3") + "]}"),
      ScriptedLapi::response(500, R"({"message":"database is locked"})"),
      ScriptedLapi::response(200, "{\"new\":null,\"deleted\":null}" + big),
      ScriptedLapi::response(
          200,
          "{\"new\":[" + ip_decision(4, "192.0.2.4") +
              R"(,{"id":5,"scope":"Username","value":"alice","type":"ban","duration":"1h"}]})"),
      ScriptedLapi::response(200, R"({"new":null,"deleted":null})"),
  });
  ASSERT_NE(lapi.port(), 0);
  LoopThread loop;
  CrowdsecPullerOptions o;
  std::string error;
  o.lapi = *parse_lapi_url("http://127.0.0.1:" + std::to_string(lapi.port()), &error);
  o.api_key = "k";
  o.refresh_ns = 50'000'000;
  o.http.max_body_bytes = 1024;
  auto puller = CrowdsecPuller::create(loop.io, o);
  std::vector<PullOutcome> outcomes;
  puller->set_observer([&](const PullOutcome& outcome) {
    outcomes.push_back(outcome);
    if (outcomes.size() == 8) puller->stop();
  });
  puller->start();
  loop.start();
  ASSERT_TRUE(
      eventually([&] { return puller->stats().pulls_ok + puller->stats().pulls_failed >= 8; }));
  loop.finish();

  ASSERT_EQ(outcomes.size(), 8u);
  const PullStatus expected[] = {PullStatus::ok, PullStatus::ok,         PullStatus::bad_answer,
                                 PullStatus::ok, PullStatus::http_error, PullStatus::unreachable,
                                 PullStatus::ok, PullStatus::ok};
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(outcomes[i].status, expected[i]) << i << ": " << outcomes[i].error;
  }
  EXPECT_NE(outcomes[2].error.find("not JSON"), std::string::npos) << outcomes[2].error;
  EXPECT_NE(outcomes[4].error.find("500"), std::string::npos) << outcomes[4].error;
  EXPECT_NE(outcomes[4].error.find("database is locked"), std::string::npos);
  EXPECT_NE(outcomes[5].error.find("larger than 1024 bytes"), std::string::npos)
      << outcomes[5].error;
  // After the garbage the set still held both decisions; the resync replaced them with #3's.
  EXPECT_EQ(outcomes[2].decisions, 2u);
  EXPECT_EQ(outcomes[3].decisions, 1u);
  EXPECT_EQ(outcomes[5].decisions, 1u);
  EXPECT_EQ(outcomes[6].skipped, 1u);
  EXPECT_EQ(puller->stats().decisions_skipped.load(), 1u);
  EXPECT_EQ(puller->stats().pulls_failed.load(), 3u);

  // startup=true first, after each failure, and only then.
  const std::vector<std::string> lines = lapi.request_lines();
  ASSERT_GE(lines.size(), 8u);
  const bool startup[] = {true, false, false, true, false, true, true, false};
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(lines[i].find("startup=true") != std::string::npos, startup[i]) << lines[i];
    EXPECT_NE(lines[i].find("GET /v1/decisions/stream?"), std::string::npos) << lines[i];
    EXPECT_NE(lines[i].find("scopes=ip,range"), std::string::npos) << lines[i];
  }
  const auto set = puller->current();
  const std::int64_t now = monotonic_ns();
  // The last resync's full list (#7) is what is served: #4 alone.
  EXPECT_EQ(set->size(), 1u);
  EXPECT_EQ(set->find(*IpAddress::parse("192.0.2.3"), "", 0, now), nullptr);
  EXPECT_NE(set->find(*IpAddress::parse("192.0.2.4"), "", 0, now), nullptr);
}

}  // namespace
}  // namespace edgeguard
