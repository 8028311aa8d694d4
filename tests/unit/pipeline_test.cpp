// The pipeline's dry run, which `explain` runs: the limits are checked against the caller's
// store, no token is charged and nobody is banned, however often the same request is asked.
#include "guard/pipeline/pipeline.h"

#include <gtest/gtest.h>

#include "guard/config/policy_loader.h"
#include "guard/store/local_store.h"

namespace edgeguard {
namespace {

constexpr const char* kPolicy = R"(
routes:
  - name: login
    hosts: [auth.example.com]
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 2, key: client_ip, ban: {for: 1h}}
default: allow
)";

class PipelineDryRun : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto load = parse_policy(kPolicy, "policy.yaml");
    ASSERT_TRUE(load.policy) << load.error;
    snapshot_ = make_snapshot(load.policy, nullptr, nullptr);
    snapshot_->bans = &table_;
    request_.method = "POST";
    request_.host = "auth.example.com";
    request_.path = "/";
    request_.raw_uri = "/";
    request_.client_ip = *IpAddress::parse("198.51.100.7");
  }

  const Decision& decide(bool dry_run) {
    return pipeline_.decide(*snapshot_, request_, now_, store_, dry_run);
  }

  std::int64_t now_ = 1'000'000'000'000;
  BanTable table_{64};
  LocalBans bans_{table_, nullptr};
  LocalLimitStore store_{1000, &bans_};
  std::shared_ptr<Snapshot> snapshot_;
  ForwardRequest request_;
  Pipeline pipeline_;
};

TEST_F(PipelineDryRun, ChecksTheLimitsAndChargesNothing) {
  for (int i = 0; i < 10; ++i) {
    const Decision& d = decide(/*dry_run=*/true);
    ASSERT_EQ(d.verdict, Verdict::allow) << i;
    EXPECT_EQ(d.remaining, 1) << "what one more request would leave";
  }
  // The whole burst is still there for requests that are charged.
  EXPECT_EQ(decide(false).verdict, Verdict::allow);
  EXPECT_EQ(decide(false).verdict, Verdict::allow);
  EXPECT_EQ(decide(false).verdict, Verdict::deny);
}

TEST_F(PipelineDryRun, AnExhaustedLimitIsReportedButBansNobody) {
  EXPECT_EQ(decide(false).verdict, Verdict::allow);
  EXPECT_EQ(decide(false).verdict, Verdict::allow);
  const Decision& d = decide(/*dry_run=*/true);
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, Reason::ban) << "the limit bans; the dry run says so";
  EXPECT_EQ(table_.active(now_), 0u) << "a dry run made a ban";
  // The request that is charged makes it.
  EXPECT_EQ(decide(false).verdict, Verdict::deny);
  EXPECT_EQ(table_.active(now_), 1u);
}

}  // namespace
}  // namespace edgeguard
