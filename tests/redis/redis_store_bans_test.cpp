// RedisLimitStore's bans against real Redis: in a standalone Redis the denial that bans is one
// script and one round trip; the ban is held in this process's mirror at once and announced
// here only; a ban in force made elsewhere is reported, held and not announced; the deny cache
// answers with the ban; Redis stopped: the fallback makes the ban, without a stall; in a
// Cluster the ban step is one more script on the {bans} slot, and if that slot's node does not
// answer, the denial stands and the ban is made locally.
#include <signal.h>

#include "guard/redis/cluster_slots.h"
#include "guard/redis/gcra_call.h"
#include "tests/redis/ban_test_support.h"
#include "tests/redis/redis_test_support.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

constexpr std::int64_t kMinute = 60'000'000'000;

const Escalation kEscalation{2, 60 * kMinute, 60 * kMinute};

long long command_calls(const RedisServer& server, const std::string& command) {
  Reply r = server.command({"INFO", "commandstats"});
  if (!r || r->type != REDIS_REPLY_STRING) return -1;
  const std::string text(r->str, r->len);
  const std::string field = "cmdstat_" + command + ":calls=";
  const auto at = text.find(field);
  return at == std::string::npos ? 0 : std::stoll(text.substr(at + field.size()));
}

class RedisStoreBansTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RedisServer>(dir_.path());
    ASSERT_TRUE(server_->running());
  }
  RedisStoreConfig config(std::int64_t timeout_ns = 2'000'000'000) {
    RedisStoreConfig c;
    c.address = server_->address();
    c.timeout_ns = timeout_ns;
    return c;
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> server_;
  ReplicaBans bans_;
  const BanKeys keys_{"edgeguard:"};
};

TEST_F(RedisStoreBansTest, TheDenialBansInOneRoundTripHeldAndAnnouncedHere) {
  StoreHarness h(config(), &bans_.fallback, &bans_.mirror);
  const BanOrder order{"ip:192.0.2.1", "login",      "per-ip",
                       2 * kMinute,    &kEscalation, BanSource::limit};
  const std::vector<LimitCall> calls = {{rate(1, kHour, 1), "login/per-ip/192.0.2.1", 11, &order}};
  ASSERT_TRUE(h.admit(calls)->outcome.allowed);
  const long long before = command_calls(*server_, "evalsha");

  const auto denied = h.admit(calls);
  ASSERT_TRUE(denied);
  EXPECT_FALSE(denied->outcome.allowed);
  EXPECT_TRUE(denied->outcome.ban_made);
  EXPECT_EQ(denied->outcome.ban_count, 1);
  const std::int64_t until = denied->outcome.ban_until_ns;
  EXPECT_EQ(until - denied->start_ns, 2 * kMinute);  // exact: Retry-After is whole seconds
  // One script for the decision and its ban: nothing else went to Redis.
  EXPECT_EQ(command_calls(*server_, "evalsha") - before, 1);
  EXPECT_EQ(command_calls(*server_, "evalsha") + command_calls(*server_, "eval") - before, 1);

  // Held here at once (the next request is refused without asking anyone), announced once.
  const auto held = bans_.table.find("ip:192.0.2.1", "login", mono_ns());
  ASSERT_TRUE(held);
  EXPECT_EQ(held->until_ns, until);
  EXPECT_NE(held->confirmed_ns, 0);
  ASSERT_EQ(bans_.events.made().size(), 1u);
  EXPECT_EQ(bans_.events.made()[0].reason, "per-ip");
  EXPECT_EQ(Reply(server_->command({"EXISTS", keys_.ban("login", "ip:192.0.2.1")}))->integer, 1);

  // The deny cache answers the next denial, with the ban and without Redis.
  const auto cached = h.admit(calls);
  ASSERT_TRUE(cached);
  EXPECT_TRUE(cached->sync);
  EXPECT_EQ(cached->outcome.ban_until_ns, until);
  EXPECT_FALSE(cached->outcome.ban_made);
  EXPECT_EQ(bans_.events.made().size(), 1u);
}

TEST_F(RedisStoreBansTest, ABanInForceMadeElsewhereIsReportedAndHeldNotAnnounced) {
  StoreHarness h(config(), &bans_.fallback, &bans_.mirror);
  Reply made = run_ban_script(
      *server_, manual_ban_argv(keys_, "ip:192.0.2.2", "*", 5 * kMinute, kEscalation, 1000));
  ASSERT_TRUE(parse_ban_step_reply(made.get()));
  const BanOrder order{"ip:192.0.2.2", "login", "per-ip", kMinute, &kEscalation, BanSource::limit};
  const std::vector<LimitCall> calls = {{rate(1, kHour, 1), "login/per-ip/192.0.2.2", 12, &order}};
  h.admit(calls);
  const auto denied = h.admit(calls);
  ASSERT_TRUE(denied);
  EXPECT_FALSE(denied->outcome.ban_made);
  EXPECT_EQ(denied->outcome.ban_count, 1);
  EXPECT_GT(denied->outcome.ban_until_ns, denied->start_ns + 4 * kMinute);
  EXPECT_TRUE(bans_.table.find("ip:192.0.2.2", "login", mono_ns()));
  EXPECT_TRUE(bans_.events.made().empty());
}

// Redis stopped: the breaker's fallback (the local store) decides, and its local bans make the
// ban in this process alone, kept until it ends whatever a later resync finds.
TEST_F(RedisStoreBansTest, RedisStoppedTheFallbackBansWithoutAStall) {
  StoreHarness h(config(50'000'000), &bans_.fallback, &bans_.mirror);
  const BanOrder order{"ip:192.0.2.3", "login",      "per-ip",
                       2 * kMinute,    &kEscalation, BanSource::limit};
  const std::vector<LimitCall> calls = {{rate(1, kHour, 1), "login/per-ip/192.0.2.3", 13, &order}};
  ASSERT_TRUE(h.admit(calls));  // connected and scripts loaded
  server_->signal(SIGSTOP);
  std::optional<Answer> last;
  for (int i = 0; i < 3 && !(last && last->outcome.ban_made); ++i) {
    last = h.admit(calls);
    ASSERT_TRUE(last);
    EXPECT_TRUE(last->outcome.from_fallback);
    EXPECT_LT(last->elapsed_ns, 1'000'000'000) << "a request waited on a stopped Redis";
  }
  server_->signal(SIGCONT);
  ASSERT_TRUE(last->outcome.ban_made);
  EXPECT_EQ(last->outcome.ban_until_ns - last->start_ns, 2 * kMinute)
      << "not exact: the fallback's ban starts at the request";
  const auto held = bans_.table.find("ip:192.0.2.3", "login", mono_ns());
  ASSERT_TRUE(held);
  EXPECT_EQ(held->confirmed_ns, 0);  // this process's own
  EXPECT_EQ(bans_.events.made().size(), 1u);
}

class RedisClusterBansTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<RedisCluster>(dir_.path());
    ASSERT_TRUE(cluster_->ok()) << "cluster did not form; see " << dir_.path();
  }
  RedisStoreConfig config(std::int64_t timeout_ns = 2'000'000'000) {
    RedisStoreConfig c;
    c.nodes = {cluster_->addresses().front()};
    c.timeout_ns = timeout_ns;
    return c;
  }
  // A limit key whose bucket lives on another master than the bans.
  std::string key_off_the_bans_node(const std::string& stem) {
    RedisServer& bans_node = cluster_->owner_of_slot(keys_.slot());
    for (int i = 0;; ++i) {
      std::string key = stem + std::to_string(i);
      if (&cluster_->owner_of_slot(key_hash_slot(gcra_redis_key("edgeguard:", key))) !=
          &bans_node) {
        return key;
      }
    }
  }

  TempDir dir_;
  std::unique_ptr<RedisCluster> cluster_;
  ReplicaBans bans_;
  const BanKeys keys_{"edgeguard:"};
};

TEST_F(RedisClusterBansTest, TheBanStepIsOneMoreScriptOnTheBansSlot) {
  StoreHarness h(config(), &bans_.fallback, &bans_.mirror);
  const std::string key = key_off_the_bans_node("login/per-ip/192.0.2.");
  const BanOrder order{"ip:192.0.2.4", "login",      "per-ip",
                       2 * kMinute,    &kEscalation, BanSource::limit};
  const std::vector<LimitCall> calls = {{rate(1, kHour, 1), key, 14, &order}};
  ASSERT_TRUE(h.admit(calls)->outcome.allowed);
  RedisServer& bans_node = cluster_->owner_of_slot(keys_.slot());
  const long long scripts_before =
      command_calls(bans_node, "evalsha") + command_calls(bans_node, "eval");

  const auto denied = h.admit(calls);
  ASSERT_TRUE(denied);
  EXPECT_FALSE(denied->outcome.allowed);
  EXPECT_TRUE(denied->outcome.ban_made);
  EXPECT_EQ(denied->outcome.ban_count, 1);
  EXPECT_FALSE(denied->outcome.from_fallback);
  EXPECT_EQ(command_calls(bans_node, "evalsha") + command_calls(bans_node, "eval") - scripts_before,
            1);
  EXPECT_EQ(Reply(bans_node.command({"EXISTS", keys_.ban("login", "ip:192.0.2.4")}))->integer, 1);
  EXPECT_TRUE(bans_.table.find("ip:192.0.2.4", "login", mono_ns()));
  EXPECT_EQ(bans_.events.made().size(), 1u);
  EXPECT_EQ(h.shared->counters().errors.load(), 0u);

  // A repeat denial of a banned subject finds the ban in the mirror: no ban step.
  const auto again = h.admit(calls);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->outcome.ban_until_ns, denied->outcome.ban_until_ns);
  EXPECT_EQ(command_calls(bans_node, "evalsha") + command_calls(bans_node, "eval") - scripts_before,
            1);
}

TEST_F(RedisClusterBansTest, TheBansNodeSilentTheDenialStandsAndTheBanIsMadeHere) {
  StoreHarness h(config(200'000'000), &bans_.fallback, &bans_.mirror);
  const std::string key = key_off_the_bans_node("login/per-ip/192.0.2.");
  const BanOrder order{"ip:192.0.2.5", "login",      "per-ip",
                       2 * kMinute,    &kEscalation, BanSource::limit};
  const std::vector<LimitCall> calls = {{rate(1, kHour, 1), key, 15, &order}};
  ASSERT_TRUE(h.admit(calls)->outcome.allowed);
  RedisServer& bans_node = cluster_->owner_of_slot(keys_.slot());
  bans_node.signal(SIGSTOP);
  const auto denied = h.admit(calls);
  bans_node.signal(SIGCONT);
  ASSERT_TRUE(denied);
  EXPECT_FALSE(denied->outcome.allowed);
  EXPECT_FALSE(denied->outcome.from_fallback);  // Redis's verdict, only the ban is local
  EXPECT_TRUE(denied->outcome.ban_made);
  EXPECT_EQ(denied->outcome.ban_until_ns - denied->start_ns, 2 * kMinute);
  EXPECT_LT(denied->elapsed_ns, 1'000'000'000);
  const auto held = bans_.table.find("ip:192.0.2.5", "login", mono_ns());
  ASSERT_TRUE(held);
  EXPECT_EQ(held->confirmed_ns, 0);
  EXPECT_EQ(bans_.events.made().size(), 1u);
}

}  // namespace
}  // namespace edgeguard::testing
