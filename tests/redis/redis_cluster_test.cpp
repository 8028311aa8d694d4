// RedisLimitStore against a real Redis Cluster created by the test: keys spread over the masters
// with exact counts, the cross-slot refund, a slot migration followed through ASK and MOVED, two
// threads on one slot map; and with a replica per master, a master killed and replaced.
#include <atomic>
#include <thread>

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

// Two io threads routing by one slot map at once (tests/tsan.sh runs this): the map starts out
// wrong (every slot on the first master), both threads follow the MOVEDs and publish what they
// learn while the other reads it, and every key still admits exactly its burst.
TEST_F(RedisClusterTest, ThreadsSharingOneSlotMapStayExact) {
  std::string error;
  auto shared = RedisSharedState::create(config(), &error);
  ASSERT_NE(shared, nullptr) << error;
  SlotMap wrong;
  wrong.owner.fill(static_cast<std::int16_t>(
      wrong.intern(*parse_redis_endpoint(cluster_->addresses().front()))));
  shared->slot_map().publish(std::make_shared<const SlotMap>(std::move(wrong)));

  const GcraRate r = rate(10, kHour, 3);
  constexpr int kKeys = 40;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("threads/" + std::to_string(i));
  std::vector<std::atomic<int>> admitted(kKeys);
  std::atomic<int> fallbacks{0};
  auto thread = [&](int offset) {
    StoreHarness h(shared, nullptr);
    for (int n = 0; n < 3 * kKeys; ++n) {
      const int k = (n + offset) % kKeys;
      auto a = h.admit({{r, keys[static_cast<std::size_t>(k)], 1}});
      if (!a || a->outcome.from_fallback) {
        ++fallbacks;
        continue;
      }
      if (a->outcome.allowed) ++admitted[static_cast<std::size_t>(k)];
    }
    for (int k = 0; k < kKeys; ++k) {  // and once more each, after the other thread's charges
      auto a = h.admit({{r, keys[static_cast<std::size_t>(k)], 1}});
      if (a && !a->outcome.from_fallback && a->outcome.allowed) {
        ++admitted[static_cast<std::size_t>(k)];
      }
    }
  };
  std::thread a(thread, 0), b(thread, kKeys / 2);
  a.join();
  b.join();
  EXPECT_EQ(fallbacks.load(), 0);
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(admitted[static_cast<std::size_t>(k)].load(), 3) << k;
  EXPECT_GE(shared->counters().moved.load(), 1u);
  EXPECT_EQ(shared->counters().errors.load(), 0u);
}

// A Cluster of 3 masters with a replica each, failing over within about 2 s of a master's
// death (node timeout 1 s), whose live masters keep serving while one is down.
class RedisFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RedisClusterOptions options;
    options.replicas = 1;
    options.node_timeout_ms = 1000;
    options.require_full_coverage = false;
    cluster_ = std::make_unique<RedisCluster>(dir_.path(), options);
    ASSERT_TRUE(cluster_->ok()) << "cluster did not form; see " << dir_.path();
  }
  RedisStoreConfig config() {
    RedisStoreConfig c;
    c.nodes = cluster_->addresses();  // the masters, as an operator lists them
    c.timeout_ns = 500'000'000;
    return c;
  }
  // A limit key whose bucket lives on `master` (which must serve slots).
  std::string key_on(const RedisServer& master, const std::string& prefix) {
    for (int i = 0; i < 1000; ++i) {
      std::string key = prefix + std::to_string(i);
      if (&cluster_->owner_of_slot(key_hash_slot("edgeguard:{" + key + "}")) == &master) {
        return key;
      }
    }
    ADD_FAILURE() << master.address() << " serves no slot";
    return prefix;
  }
  RedisServer& master(int i) { return cluster_->owner_of_slot(i * kClusterSlots / 3 + 1); }

  TempDir dir_;
  std::unique_ptr<RedisCluster> cluster_;
};

// While a master is dead and not yet replaced, only its slots are answered by on_error: the
// slots of the live masters are still decided by Redis, however many requests failed on it.
TEST_F(RedisFailoverTest, DeadMasterDoesNotOpenTheBreakerForLiveSlots) {
  CountingStore fallback;
  StoreHarness h(config(), &fallback);
  const GcraRate r = rate(1000, kHour, 1000);
  RedisServer& victim = master(0);
  const std::string dead_key = key_on(victim, "dead/");
  const std::string live_keys[] = {key_on(master(1), "live/"), key_on(master(2), "live/")};
  for (const std::string& key : {dead_key, live_keys[0], live_keys[1]}) {
    auto a = h.admit({{r, key, 1}});
    ASSERT_TRUE(a.has_value());
    ASSERT_FALSE(a->outcome.from_fallback) << key;
  }
  victim.kill();
  // Well within the node timeout: the cluster has not noticed yet.
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 3; ++i) {
      auto a = h.admit({{r, dead_key, 1}});
      ASSERT_TRUE(a.has_value());
      EXPECT_TRUE(a->outcome.from_fallback);
      EXPECT_LT(a->elapsed_ns, 100'000'000) << "a refused connection is not waited on";
    }
    for (const std::string& key : live_keys) {
      auto a = h.admit({{r, key, 1}});
      ASSERT_TRUE(a.has_value());
      EXPECT_FALSE(a->outcome.from_fallback) << key << " round " << round;
      EXPECT_FALSE(a->sync) << key << " round " << round;
    }
  }
  EXPECT_TRUE(h.store->breaker_open()) << "the dead master's breaker";
  EXPECT_TRUE(h.shared->fallback_active());
  EXPECT_EQ(fallback.calls.load(), 15);
}

// The measured bug of issue 17: after a master is killed and its replica promoted, a thread
// that never sent anything to the dead master's slots still had it in its slot map; a dead
// master never answers MOVED, so such a thread answered those slots from the local store (a
// full burst per process) indefinitely. A connection failure now refreshes the map from a live
// node and retries there: a fresh client gets exactly the burst from Redis on every thread.
TEST_F(RedisFailoverTest, FreshClientAfterPromotionGetsExactlyTheBurstOnEveryThread) {
  CountingStore fallback;
  std::string error;
  auto shared = RedisSharedState::create(config(), &error);
  ASSERT_NE(shared, nullptr) << error;
  StoreHarness busy(shared, &fallback), quiet(shared, &fallback);  // two io threads
  const GcraRate r = rate(10, kHour, 6);
  RedisServer& victim = master(0);
  RedisServer* replica = cluster_->replica_of(victim);
  ASSERT_NE(replica, nullptr);
  // Both threads know the whole map; only `busy` has traffic for the victim's slots.
  for (StoreHarness* h : {&busy, &quiet}) {
    auto a = h->admit({{r, key_on(master(1), "warm/"), 1}});
    ASSERT_TRUE(a.has_value());
    ASSERT_FALSE(a->outcome.from_fallback);
  }
  ASSERT_FALSE(busy.admit({{r, key_on(victim, "warm/"), 1}})->outcome.from_fallback);
  const std::string during = key_on(victim, "during/"), fresh = key_on(victim, "fresh/");

  victim.kill();
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(busy.admit({{r, during, 1}})->outcome.from_fallback);
  }
  ASSERT_TRUE(cluster_->wait_healthy(std::chrono::seconds(20))) << "no failover";
  ASSERT_EQ(replica->info_field("replication", "role"), "master");

  // No waiting for a probe: the first request after the promotion is decided by Redis.
  const int fallback_before = fallback.calls.load();
  int admitted = 0;
  for (int i = 0; i < 9; ++i) {
    StoreHarness& h = i % 2 == 0 ? quiet : busy;
    auto a = h.admit({{r, fresh, 1}});
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(a->outcome.from_fallback) << "request " << i;
    admitted += a->outcome.allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 6);
  EXPECT_EQ(fallback.calls.load(), fallback_before);
  Reply stored = replica->command({"EXISTS", "edgeguard:{" + fresh + "}"});
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->integer, 1);
  EXPECT_TRUE(busy.run_until([&] { return !shared->fallback_active(); }))
      << "the dead master serves no slot any more: nothing is answered by on_error";
}

// One slot map per process: what one io thread learns (here a MOVED after a slot migration)
// routes every other thread's next request, without a MOVED of its own.
TEST_F(RedisFailoverTest, SlotMapLearnedOnOneThreadRoutesTheOthers) {
  std::string error;
  auto shared = RedisSharedState::create(config(), &error);
  ASSERT_NE(shared, nullptr) << error;
  StoreHarness a(shared, nullptr), b(shared, nullptr);
  const GcraRate r = rate(10, kHour, 5);
  RedisServer& from = master(0);
  RedisServer& to = master(1);
  const std::string key = key_on(from, "moving/");
  const int slot = key_hash_slot("edgeguard:{" + key + "}");
  for (StoreHarness* h : {&a, &b}) ASSERT_FALSE(h->admit({{r, key, 1}})->outcome.from_fallback);

  // The slot (empty of other keys) moves: both masters and the rest are told.
  const std::string s = std::to_string(slot), to_id = cluster_->node_id(to);
  const std::string stored = "edgeguard:{" + key + "}";
  ASSERT_EQ(to.command({"CLUSTER", "SETSLOT", s, "IMPORTING", cluster_->node_id(from)})->type,
            REDIS_REPLY_STATUS);
  ASSERT_EQ(from.command({"CLUSTER", "SETSLOT", s, "MIGRATING", to_id})->type, REDIS_REPLY_STATUS);
  Reply migrated = from.command(
      {"MIGRATE", "127.0.0.1", std::to_string(to.port()), "", "0", "5000", "KEYS", stored});
  ASSERT_NE(migrated, nullptr);
  ASSERT_EQ(migrated->type, REDIS_REPLY_STATUS) << (migrated->str ? migrated->str : "");
  for (RedisServer* node : {&to, &from}) {
    ASSERT_EQ(node->command({"CLUSTER", "SETSLOT", s, "NODE", to_id})->type, REDIS_REPLY_STATUS);
  }
  ASSERT_TRUE(cluster_->wait_healthy(std::chrono::seconds(10)));

  ASSERT_FALSE(a.admit({{r, key, 1}})->outcome.from_fallback);
  EXPECT_EQ(shared->counters().moved.load(), 1u);
  ASSERT_FALSE(b.admit({{r, key, 1}})->outcome.from_fallback);
  EXPECT_EQ(shared->counters().moved.load(), 1u) << "b routed by what a learned";
  int admitted = 4;  // one each above, before and after the move
  for (int i = 0; i < 4; ++i) admitted += b.admit({{r, key, 1}})->outcome.allowed ? 1 : 0;
  EXPECT_EQ(admitted, 5);
}

}  // namespace
}  // namespace edgeguard::testing
