// Two "replicas" in one test process, each with its own table, mirror and RedisBanSync, as two
// edgeguard processes sharing a Redis: a ban one makes reaches the other by pub/sub, held and
// not announced there; a replica that starts later gets the bans by resync; a resync lifts
// what Redis no longer holds and keeps the local fallback's bans; manual bans and unbans go
// through Redis to every replica; the channel comes back after Redis restarts; an answer older
// than an unban cannot bring the ban back.
#include <signal.h>

#include <boost/asio/io_context.hpp>

#include "guard/redis/redis_ban_sync.h"
#include "tests/redis/ban_test_support.h"
#include "tests/redis/redis_test_support.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

constexpr std::int64_t kMinute = 60'000'000'000;
const Escalation kEscalation{2, 60 * kMinute, 60 * kMinute};

struct Replica {
  Replica(boost::asio::io_context& io, const std::string& address) {
    RedisStoreConfig c;
    c.address = address;
    c.timeout_ns = 2'000'000'000;
    c.probe_interval_ns = 50'000'000;
    std::string error;
    shared = RedisSharedState::create(c, &error);
    EXPECT_NE(shared, nullptr) << error;
    sync = std::make_unique<RedisBanSync>(io, shared, bans.mirror);
    store = std::make_unique<RedisLimitStore>(io, shared, &bans.fallback, &bans.mirror);
  }
  ~Replica() {
    store.reset();
    sync.reset();
  }
  bool banned(const std::string& subject, const std::string& route) {
    return bans.table.banned_until(subject, route, mono_ns()) > 0;
  }
  ReplicaBans bans;
  std::shared_ptr<RedisSharedState> shared;
  std::unique_ptr<RedisBanSync> sync;
  std::unique_ptr<RedisLimitStore> store;
};

class RedisBanSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RedisServer>(dir_.path());
    ASSERT_TRUE(server_->running());
  }
  void TearDown() override {
    replicas_.clear();
    io_.restart();
    io_.poll();
  }
  Replica& start_replica() {
    replicas_.push_back(std::make_unique<Replica>(io_, server_->address()));
    replicas_.back()->sync->start();
    return *replicas_.back();
  }
  template <typename F>
  bool run_until(F done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return run_io_until(io_, std::move(done), timeout);
  }
  // A limit's denial on `r`, through its store, as a request would make it.
  LimitOutcome deny(Replica& r, const BanOrder& order, const std::string& key) {
    const std::vector<LimitCall> calls = {{rate(1, kHour, 1), key, 7, &order}};
    std::optional<LimitOutcome> last;
    for (int i = 0; i < 2; ++i) {
      last = r.store->try_admit(calls, mono_ns(), false);
      if (!last) {
        auto got = std::make_shared<std::optional<LimitOutcome>>();
        r.store->admit_async(calls, mono_ns(), false, [got](const LimitOutcome& o) { *got = o; });
        EXPECT_TRUE(run_until([&] { return got->has_value(); }));
        last = *got;
      }
    }
    return last.value_or(LimitOutcome{});
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> server_;
  boost::asio::io_context io_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  const BanKeys keys_{"edgeguard:"};
};

TEST_F(RedisBanSyncTest, ABanMadeOnOneReplicaIsHeldByTheOtherAndAnnouncedOnce) {
  Replica& a = start_replica();
  Replica& b = start_replica();
  // Subscribed and first resyncs done: from now on only a message can bring the ban to b.
  ASSERT_TRUE(run_until([&] {
    return a.sync->counters().resyncs.load() >= 1 && b.sync->counters().resyncs.load() >= 1;
  }));
  const BanOrder order{"ip:192.0.2.1", "login",      "per-ip",
                       2 * kMinute,    &kEscalation, BanSource::limit};
  const LimitOutcome out = deny(a, order, "login/per-ip/192.0.2.1");
  ASSERT_TRUE(out.ban_made);
  EXPECT_TRUE(a.banned("ip:192.0.2.1", "login"));
  ASSERT_TRUE(run_until([&] { return b.banned("ip:192.0.2.1", "login"); }));
  EXPECT_FALSE(b.banned("ip:192.0.2.1", "other"));
  const auto held = b.bans.table.find("ip:192.0.2.1", "login", mono_ns());
  ASSERT_TRUE(held);
  EXPECT_EQ(held->reason, "per-ip");
  EXPECT_EQ(held->count, 1);
  EXPECT_NEAR(static_cast<double>(held->until_ns), static_cast<double>(out.ban_until_ns),
              1e9);  // two clocks of one machine, and the message's way
  EXPECT_EQ(a.bans.events.made().size(), 1u);
  EXPECT_TRUE(b.bans.events.made().empty());
  EXPECT_GE(b.sync->counters().messages.load(), 1u);
}

TEST_F(RedisBanSyncTest, AReplicaStartedLaterGetsTheBansByResync) {
  run_ban_script(*server_,
                 manual_ban_argv(keys_, "user:alice", "*", 10 * kMinute, kEscalation, 1000));
  run_ban_script(*server_,
                 manual_ban_argv(keys_, "ip:192.0.2.2", "login", 10 * kMinute, kEscalation, 1000));
  Replica& late = start_replica();
  ASSERT_TRUE(run_until([&] { return late.sync->counters().resyncs.load() >= 1; }));
  EXPECT_TRUE(late.banned("user:alice", "erp"));
  EXPECT_TRUE(late.banned("ip:192.0.2.2", "login"));
  EXPECT_EQ(late.sync->counters().repairs.load(), 2u);
  EXPECT_TRUE(late.bans.events.made().empty());
}

// A ban Redis lost behind everyone's back (no message) is lifted by the next resync; a ban the
// local fallback made while Redis was out stays until it ends.
TEST_F(RedisBanSyncTest, AResyncLiftsWhatRedisNoLongerHoldsAndKeepsTheFallbacksBans) {
  Replica& r = start_replica();
  ASSERT_TRUE(run_until([&] { return r.sync->counters().resyncs.load() >= 1; }));
  run_ban_script(*server_,
                 manual_ban_argv(keys_, "ip:192.0.2.3", "login", 10 * kMinute, kEscalation, 1000));
  ASSERT_TRUE(run_until([&] { return r.banned("ip:192.0.2.3", "login"); }));
  const BanOrder local_order{"ip:192.0.2.4", "login",      "per-ip",
                             10 * kMinute,   &kEscalation, BanSource::limit};
  ASSERT_TRUE(r.bans.local.make(local_order, mono_ns()).made);

  server_->command({"DEL", keys_.ban("login", "ip:192.0.2.3")});
  const auto resyncs = r.sync->counters().resyncs.load();
  r.sync->resync();
  ASSERT_TRUE(run_until([&] { return r.sync->counters().resyncs.load() > resyncs; }));
  EXPECT_FALSE(r.banned("ip:192.0.2.3", "login"));
  EXPECT_TRUE(r.banned("ip:192.0.2.4", "login"));
  EXPECT_GE(r.sync->counters().repairs.load(), 1u);
}

TEST_F(RedisBanSyncTest, ManualBansAndUnbansGoThroughRedisToEveryReplica) {
  Replica& a = start_replica();
  Replica& b = start_replica();
  ASSERT_TRUE(run_until([&] { return a.sync->subscribed() && b.sync->subscribed(); }));
  std::optional<Ban> made;
  std::string error = "pending";
  const std::int64_t asked = mono_ns();
  a.sync->ban("ip:192.0.2.5", "*", 10 * kMinute, kEscalation,
              [&](std::optional<Ban> ban, std::string why) {
                made = std::move(ban);
                error = std::move(why);
              });
  ASSERT_TRUE(run_until([&] { return error != "pending"; }));
  ASSERT_TRUE(made) << error;
  EXPECT_EQ(made->source, BanSource::manual);
  EXPECT_EQ(made->count, 1);
  EXPECT_GE(made->until_ns, asked + 10 * kMinute);
  EXPECT_TRUE(a.banned("ip:192.0.2.5", "login"));
  ASSERT_TRUE(run_until([&] { return b.banned("ip:192.0.2.5", "erp"); }));
  EXPECT_EQ(a.bans.events.made().size(), 1u);
  EXPECT_TRUE(b.bans.events.made().empty());

  std::size_t lifted = 0;
  error = "pending";
  b.sync->unban("ip:192.0.2.5", [&](std::size_t n, std::string why) {
    lifted = n;
    error = std::move(why);
  });
  ASSERT_TRUE(run_until([&] { return error != "pending"; }));
  EXPECT_EQ(error, "");
  EXPECT_EQ(lifted, 1u);
  EXPECT_FALSE(b.banned("ip:192.0.2.5", "login"));
  ASSERT_TRUE(run_until([&] { return !a.banned("ip:192.0.2.5", "login"); }));
  ASSERT_EQ(b.bans.events.lifted().size(), 1u);  // logged where it was asked for
  EXPECT_TRUE(a.bans.events.lifted().empty());
  EXPECT_EQ(Reply(server_->command({"EXISTS", keys_.ban("*", "ip:192.0.2.5")}))->integer, 0);
}

TEST_F(RedisBanSyncTest, TheChannelComesBackAfterRedisRestarts) {
  Replica& r = start_replica();
  ASSERT_TRUE(run_until([&] { return r.sync->subscribed(); }));
  server_->kill();
  ASSERT_TRUE(run_until([&] { return !r.sync->subscribed(); }));
  ASSERT_TRUE(server_->start());
  ASSERT_TRUE(run_until([&] { return r.sync->subscribed(); }));
  EXPECT_EQ(r.sync->counters().subscriptions.load(), 2u);
  run_ban_script(*server_,
                 manual_ban_argv(keys_, "ip:192.0.2.6", "login", 10 * kMinute, kEscalation, 1000));
  EXPECT_TRUE(run_until([&] { return r.banned("ip:192.0.2.6", "login"); }));
}

// Without Redis: an unban leaves a note, so an answer that left Redis before it (a resync
// page, a script's in-force answer) does not bring the ban back; a newer one does.
TEST(RedisBanMirror, AnAnswerOlderThanAnUnbanDoesNotBringTheBanBack) {
  ReplicaBans bans;
  const std::int64_t t0 = mono_ns();
  Ban ban{"ip:192.0.2.7", "login", t0 + 10 * kMinute, 1, "per-ip", BanSource::limit};
  ASSERT_TRUE(bans.mirror.learned(ban, t0, t0));
  EXPECT_EQ(bans.mirror.lift("ip:192.0.2.7", t0 + 100, false), 1u);
  EXPECT_FALSE(bans.mirror.learned(ban, t0 + 200, t0 + 50));  // asked before the unban
  EXPECT_EQ(bans.table.banned_until("ip:192.0.2.7", "login", t0 + 300), 0);
  // Made here by a script that ran before the unban: announced (it was made), not held.
  bans.mirror.made(ban, t0 + 200, t0 + 50);
  EXPECT_EQ(bans.events.made().size(), 1u);
  EXPECT_EQ(bans.table.banned_until("ip:192.0.2.7", "login", t0 + 300), 0);
  EXPECT_TRUE(bans.mirror.learned(ban, t0 + 400, t0 + 150));  // a ban made after the unban
  EXPECT_GT(bans.table.banned_until("ip:192.0.2.7", "login", t0 + 500), 0);
  // A message (kNewest) is never older than an unban it follows.
  bans.mirror.lift("ip:192.0.2.7", t0 + 600, false);
  EXPECT_TRUE(bans.mirror.learned(ban, t0 + 700, RedisBanMirror::kNewest));
}

// A stopped Redis may run a script late and announce a ban the fallback already made here: the
// fallback's ban stays this process's own (the later end), so Redis losing its data (a restart
// without persistence) cannot cut it short at the next resync.
TEST(RedisBanMirror, TheFallbacksOwnBanStaysOwnWhenRedisLearnsOfIt) {
  ReplicaBans bans;
  const std::int64_t t0 = mono_ns();
  const BanOrder order{"ip:192.0.2.8", "login",      "per-ip",
                       2 * kMinute,    &kEscalation, BanSource::limit};
  ASSERT_TRUE(bans.local.make(order, t0).made);
  Ban late{"ip:192.0.2.8", "login", t0 + 3 * kMinute, 1, "per-ip", BanSource::limit};
  ASSERT_TRUE(bans.mirror.learned(late, t0 + 100, t0 + 50));
  const auto held = bans.table.get("ip:192.0.2.8", "login");
  ASSERT_TRUE(held);
  EXPECT_EQ(held->confirmed_ns, 0);
  EXPECT_EQ(held->until_ns, t0 + 3 * kMinute);
  EXPECT_EQ(bans.mirror.drop_unconfirmed(t0 + 1000, t0 + 1000), 0u);
  EXPECT_GT(bans.table.banned_until("ip:192.0.2.8", "login", t0 + 2000), 0);
}

}  // namespace
}  // namespace edgeguard::testing
