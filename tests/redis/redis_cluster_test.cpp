// RedisLimitStore against a real 3-master Redis Cluster created by the test: keys spread over
// the masters with exact counts, the cross-slot refund, and a slot migration followed through
// ASK and MOVED.
#include "guard/redis/cluster_slots.h"
#include "tests/redis/redis_test_support.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<RedisCluster>(dir_.path());
    ASSERT_TRUE(cluster_->ok()) << "cluster did not form; see " << dir_.path();
  }
  RedisStoreConfig config() {
    RedisStoreConfig c;
    c.nodes = {cluster_->addresses().front()};  // one seed: the rest comes from CLUSTER SLOTS
    c.timeout_ns = 2'000'000'000;
    return c;
  }
  static std::string full_key(const std::string& key) { return "edgeguard:{" + key + "}"; }

  TempDir dir_;
  std::unique_ptr<RedisCluster> cluster_;
};

TEST_F(RedisClusterTest, KeysSpreadOverMastersWithExactCounts) {
  StoreHarness h(config());
  const GcraRate r = rate(10, kHour, 3);
  std::vector<std::string> keys;
  for (int i = 0; i < 30; ++i) keys.push_back("spread/" + std::to_string(i));
  for (const std::string& key : keys) {
    const std::vector<LimitCall> calls = {{r, key, 1}};
    int admitted = 0;
    for (int i = 0; i < 5; ++i) {
      auto a = h.admit(calls);
      ASSERT_TRUE(a.has_value());
      EXPECT_FALSE(a->outcome.from_fallback);
      admitted += a->outcome.allowed ? 1 : 0;
    }
    EXPECT_EQ(admitted, 3) << key;
  }
  for (auto& node : cluster_->nodes()) {
    Reply size = node->command({"DBSIZE"});
    ASSERT_NE(size, nullptr);
    EXPECT_GT(size->integer, 0) << node->address();
  }
  EXPECT_EQ(h.shared->counters().errors.load(), 0u);
}

TEST_F(RedisClusterTest, DenialInOneSlotIsRefundedInTheOther) {
  StoreHarness h(config());
  const std::string wide_key = "route/all", narrow_key = "route/per-ip/192.0.2.7";
  ASSERT_NE(key_hash_slot(full_key(wide_key)), key_hash_slot(full_key(narrow_key)));
  const GcraRate wide = rate(10, kHour, 5), narrow = rate(10, kHour, 2);
  const std::vector<LimitCall> both = {{wide, wide_key, 1}, {narrow, narrow_key, 2}};
  int admitted = 0;
  for (int i = 0; i < 4; ++i) {
    auto a = h.admit(both);
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(a->outcome.from_fallback);
    if (a->outcome.allowed) {
      ++admitted;
    } else {
      EXPECT_EQ(a->outcome.denied_index, 1);
    }
  }
  EXPECT_EQ(admitted, 2);
  // The refund travels on the same connection ahead of the next command, so the wide limit
  // has paid for the 2 admitted requests only.
  const std::vector<LimitCall> wide_only = {{wide, wide_key, 1}};
  int more = 0;
  for (int i = 0; i < 6; ++i) more += h.admit(wide_only)->outcome.allowed ? 1 : 0;
  EXPECT_EQ(more, 3);
}

TEST_F(RedisClusterTest, SlotMigrationIsFollowedThroughAskAndMoved) {
  StoreHarness h(config());
  const std::string key = "migrating/key";
  const std::string stored = full_key(key);
  const int slot = key_hash_slot(stored);
  RedisServer& from = cluster_->owner_of_slot(slot);
  RedisServer* to = nullptr;
  for (auto& node : cluster_->nodes()) {
    if (node.get() != &from) {
      to = node.get();
      break;
    }
  }
  ASSERT_NE(to, nullptr);
  const std::string from_id = cluster_->node_id(from), to_id = cluster_->node_id(*to);
  const std::vector<LimitCall> calls = {{rate(10, kHour, 5), key, 1}};
  int admitted = 0;
  auto admit = [&] {
    auto a = h.admit(calls);
    EXPECT_TRUE(a.has_value());
    if (!a) return;
    EXPECT_FALSE(a->outcome.from_fallback);
    admitted += a->outcome.allowed ? 1 : 0;
  };
  admit();
  admit();

  const std::string s = std::to_string(slot);
  ASSERT_EQ(to->command({"CLUSTER", "SETSLOT", s, "IMPORTING", from_id})->type, REDIS_REPLY_STATUS);
  ASSERT_EQ(from.command({"CLUSTER", "SETSLOT", s, "MIGRATING", to_id})->type, REDIS_REPLY_STATUS);
  admit();  // the key is still on the old owner, which serves it
  Reply moved = from.command(
      {"MIGRATE", "127.0.0.1", std::to_string(to->port()), "", "0", "5000", "KEYS", stored});
  ASSERT_NE(moved, nullptr);
  ASSERT_EQ(moved->type, REDIS_REPLY_STATUS) << (moved->str ? moved->str : "");
  admit();  // old owner answers ASK: ASKING + script on the new owner
  EXPECT_GE(h.shared->counters().ask.load(), 1u);

  for (RedisServer* node : {to, &from}) {
    ASSERT_EQ(node->command({"CLUSTER", "SETSLOT", s, "NODE", to_id})->type, REDIS_REPLY_STATUS);
  }
  for (auto& node : cluster_->nodes()) node->command({"CLUSTER", "SETSLOT", s, "NODE", to_id});
  admit();  // MOVED: the store updates its map and retries on the new owner
  admit();  // over the limit: 5 admitted in all
  admit();
  EXPECT_GE(h.shared->counters().moved.load(), 1u);
  EXPECT_EQ(admitted, 5);
  Reply on_new = to->command({"EXISTS", stored});
  EXPECT_EQ(on_new->integer, 1);
}

}  // namespace
}  // namespace edgeguard::testing
