// RedisLimitStore against a real redis-server: exact GCRA counts, the deny cache, NOSCRIPT,
// AUTH/SELECT, two replicas sharing one Redis, and faults (stopped, killed, restarted Redis).
#include <signal.h>

#include <fstream>
#include <limits>
#include <thread>

#include "guard/redis/gcra_script.h"
#include "tests/redis/redis_test_support.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

class RedisStoreTest : public ::testing::Test {
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

  // Redis's clock in ns (what the script sees, at microsecond resolution).
  std::int64_t redis_time_ns() {
    Reply r = server_->command({"TIME"});
    return (std::stoll(std::string(r->element[0]->str)) * 1'000'000 +
            std::stoll(std::string(r->element[1]->str))) *
           1000;
  }
  std::int64_t stored_tat(const std::string& key) {
    Reply r = server_->command({"GET", "edgeguard:{" + key + "}"});
    return r && r->type == REDIS_REPLY_STRING ? std::stoll(std::string(r->str, r->len)) : 0;
  }
  // How often Redis ran `command` (INFO commandstats), e.g. "evalsha".
  long long command_calls(const std::string& command) {
    Reply r = server_->command({"INFO", "commandstats"});
    const std::string text(r->str, r->len);
    const std::string field = "cmdstat_" + command + ":calls=";
    const auto at = text.find(field);
    return at == std::string::npos ? 0 : std::stoll(text.substr(at + field.size()));
  }
  long long evalsha_calls() { return command_calls("evalsha"); }

  TempDir dir_;
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisStoreTest, BurstAdmitsExactlyBurstThenRetryAfterFromScript) {
  StoreHarness h(config());
  const GcraRate r = rate(10, kHour, 5);  // T = 6 min: nothing refills during the test
  const std::string key = "login/per-ip/192.0.2.1";
  const std::vector<LimitCall> calls = {{r, key, 11}};
  const std::int64_t before = redis_time_ns();
  int admitted = 0;
  for (int i = 0; i < 8; ++i) {
    auto a = h.admit(calls);
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(a->outcome.from_fallback);
    if (a->outcome.allowed) {
      EXPECT_EQ(a->outcome.remaining, 4 - admitted);
      ++admitted;
    } else if (i == 5) {
      // Hand-computed: retry = T - (now5 - now0), reset = 5T - (now5 - now0).
      EXPECT_FALSE(a->sync);
      EXPECT_EQ(a->outcome.denied_index, 0);
      EXPECT_LE(a->outcome.retry_after_ns, r.emission_ns);
      EXPECT_GT(a->outcome.retry_after_ns, r.emission_ns - 5'000'000'000);
      EXPECT_EQ(a->outcome.reset_ns - a->outcome.retry_after_ns, 4 * r.emission_ns);
    } else {
      EXPECT_TRUE(a->sync) << "later denials come from the deny cache";
    }
  }
  const std::int64_t after = redis_time_ns();
  EXPECT_EQ(admitted, 5);
  // TAT = (time of the first request) + 5T, stored as integer ns in Redis's clock.
  const std::int64_t first = stored_tat(key) - 5 * r.emission_ns;
  EXPECT_GE(first, before);
  EXPECT_LE(first, after);
  EXPECT_EQ(first % 1000, 0);
  Reply ttl = server_->command({"PTTL", "edgeguard:{" + key + "}"});
  EXPECT_GT(ttl->integer, 5 * r.emission_ns / 1'000'000 - 10'000);
  EXPECT_LE(ttl->integer, 5 * r.emission_ns / 1'000'000 + 1);
}

TEST_F(RedisStoreTest, PartlyRefilledBucketAdmitsWhatGcraSays) {
  StoreHarness h(config());
  const GcraRate r = rate(10, kHour, 5);
  const std::string key = "refill";
  // A bucket whose TAT is 2.5 T ahead of now: GCRA admits while base + T - now <= 5T, i.e.
  // 2 more requests (3.5T and 4.5T), then denies with retry = 5.5T - 5T = T/2.
  const std::int64_t now = redis_time_ns();
  const std::int64_t tat = now + 5 * r.emission_ns / 2;
  server_->command({"SET", "edgeguard:{" + key + "}", std::to_string(tat)});
  const std::vector<LimitCall> calls = {{r, key, 7}};
  int admitted = 0;
  std::optional<Answer> denied;
  for (int i = 0; i < 4; ++i) {
    auto a = h.admit(calls);
    ASSERT_TRUE(a.has_value());
    if (a->outcome.allowed) {
      ++admitted;
    } else if (!denied) {
      denied = a;
    }
  }
  EXPECT_EQ(admitted, 2);
  ASSERT_TRUE(denied.has_value());
  const GcraResult expected = gcra_check(tat + 2 * r.emission_ns, now, r);
  EXPECT_FALSE(expected.allowed);
  EXPECT_LE(denied->outcome.retry_after_ns, expected.retry_after_ns);
  EXPECT_GT(denied->outcome.retry_after_ns, expected.retry_after_ns - 5'000'000'000);
  EXPECT_EQ(stored_tat(key), tat + 2 * r.emission_ns);
}

TEST_F(RedisStoreTest, FastRateRefillsAfterRetryAfter) {
  StoreHarness h(config());
  const GcraRate r = rate(20, 1'000'000'000, 1);  // one request per 50 ms
  const std::string key = "fast";
  const std::vector<LimitCall> calls = {{r, key, 3}};
  ASSERT_TRUE(h.admit(calls)->outcome.allowed);
  auto denied = h.admit(calls);
  ASSERT_FALSE(denied->outcome.allowed);
  EXPECT_GT(denied->outcome.retry_after_ns, 0);
  EXPECT_LE(denied->outcome.retry_after_ns, r.emission_ns);
  // Once the retry time has passed, exactly one more is admitted.
  const std::int64_t retry_at = mono_ns() + denied->outcome.retry_after_ns;
  ASSERT_TRUE(wait_until([&] { return mono_ns() > retry_at + 2'000'000; }));
  EXPECT_TRUE(h.admit(calls)->outcome.allowed);
  EXPECT_FALSE(h.admit(calls)->outcome.allowed);
}

TEST_F(RedisStoreTest, DryRunChargesNothing) {
  StoreHarness h(config());
  const GcraRate r = rate(10, kHour, 3);
  const std::vector<LimitCall> calls = {{r, "dry", 5}};
  for (int i = 0; i < 10; ++i) {
    auto a = h.admit(calls, /*dry_run=*/true);
    ASSERT_TRUE(a.has_value());
    EXPECT_TRUE(a->outcome.allowed);
    EXPECT_EQ(a->outcome.remaining, 2);
  }
  Reply exists = server_->command({"EXISTS", "edgeguard:{dry}"});
  EXPECT_EQ(exists->integer, 0);
  int admitted = 0;
  for (int i = 0; i < 5; ++i) admitted += h.admit(calls)->outcome.allowed ? 1 : 0;
  EXPECT_EQ(admitted, 3);
}

TEST_F(RedisStoreTest, DenialBySecondLimitChargesNothingOnFirst) {
  StoreHarness h(config());
  const GcraRate wide = rate(10, kHour, 5);
  const GcraRate narrow = rate(10, kHour, 2);
  const std::vector<LimitCall> both = {{wide, "route/all", 1}, {narrow, "route/per-ip", 2}};
  int admitted = 0;
  for (int i = 0; i < 4; ++i) {
    auto a = h.admit(both);
    ASSERT_TRUE(a.has_value());
    if (a->outcome.allowed) {
      ++admitted;
    } else {
      EXPECT_EQ(a->outcome.denied_index, 1);
    }
  }
  EXPECT_EQ(admitted, 2);
  // The wide limit paid for the 2 admitted requests only: 3 tokens left.
  const std::vector<LimitCall> wide_only = {{wide, "route/all", 1}};
  int more = 0;
  for (int i = 0; i < 6; ++i) more += h.admit(wide_only)->outcome.allowed ? 1 : 0;
  EXPECT_EQ(more, 3);
}

TEST_F(RedisStoreTest, DenyCacheAnswersWithoutRedis) {
  StoreHarness h(config());
  const GcraRate r = rate(10, kHour, 2);
  const std::vector<LimitCall> calls = {{r, "flood", 9}};
  EXPECT_TRUE(h.admit(calls)->outcome.allowed);
  EXPECT_TRUE(h.admit(calls)->outcome.allowed);
  auto denied = h.admit(calls);
  ASSERT_FALSE(denied->outcome.allowed);
  EXPECT_FALSE(denied->sync);
  const long long evals = evalsha_calls();
  const auto commands = h.shared->counters().commands.load();
  for (int i = 0; i < 1000; ++i) {
    auto a = h.store->try_admit(calls, mono_ns(), false);
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(a->allowed);
    EXPECT_GT(a->retry_after_ns, 0);
  }
  EXPECT_EQ(evalsha_calls(), evals);
  EXPECT_EQ(h.shared->counters().commands.load(), commands);
  EXPECT_EQ(h.shared->counters().deny_cache_hits.load(), 1000u);
  // Another key is not affected.
  const std::vector<LimitCall> other = {{r, "quiet", 10}};
  EXPECT_FALSE(h.store->try_admit(other, mono_ns(), false).has_value());
}

TEST_F(RedisStoreTest, ScriptFlushMidRunIsInvisibleToCallers) {
  StoreHarness h(config());
  const GcraRate r = rate(10, kHour, 6);
  const std::vector<LimitCall> calls = {{r, "flush", 4}};
  int admitted = 0;
  for (int i = 0; i < 3; ++i) admitted += h.admit(calls)->outcome.allowed ? 1 : 0;
  server_->command({"SCRIPT", "FLUSH"});
  for (int i = 0; i < 5; ++i) {
    auto a = h.admit(calls);
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(a->outcome.from_fallback);
    admitted += a->outcome.allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 6);
  EXPECT_EQ(command_calls("eval"), 1) << "one EVAL after NOSCRIPT, then EVALSHA again";
  EXPECT_EQ(h.shared->counters().errors.load(), 0u);
}

TEST_F(RedisStoreTest, TwoReplicasShareOneRedisExactly) {
  const GcraRate r = rate(100, kHour, 50);
  std::string error;
  auto shared_a = RedisSharedState::create(config(), &error);
  RedisStoreConfig two_connections = config();
  two_connections.connections = 2;  // pipelined over two connections, round robin
  auto shared_b = RedisSharedState::create(two_connections, &error);  // another process
  std::atomic<int> admitted{0}, answered{0};
  auto replica = [&](std::shared_ptr<RedisSharedState> shared) {
    StoreHarness h(shared, nullptr);
    const std::vector<LimitCall> calls = {{r, "shared/key", 42}};
    for (int i = 0; i < 100; ++i) {
      auto a = h.admit(calls);
      if (!a) continue;
      answered++;
      if (a->outcome.from_fallback) continue;
      if (a->outcome.allowed) admitted++;
    }
  };
  std::thread a(replica, shared_a), b(replica, shared_b);
  a.join();
  b.join();
  EXPECT_EQ(answered.load(), 200);
  EXPECT_EQ(admitted.load(), 50);
  EXPECT_EQ(
      shared_a->counters().fallback_answers.load() + shared_b->counters().fallback_answers.load(),
      0u);
}

TEST_F(RedisStoreTest, KilledAndRestartedOnSamePortRecovers) {
  CountingStore fallback;
  RedisStoreConfig c = config(50'000'000);
  StoreHarness h(c, &fallback);
  const GcraRate r = rate(1000, kHour, 1000);
  const std::vector<LimitCall> calls = {{r, "restart", 1}};
  ASSERT_FALSE(h.admit(calls)->outcome.from_fallback);
  server_->kill();
  for (int i = 0; i < 10; ++i) {
    auto a = h.admit(calls);
    ASSERT_TRUE(a.has_value());
    EXPECT_TRUE(a->outcome.from_fallback);
    EXPECT_TRUE(a->outcome.allowed);
    EXPECT_LT(a->elapsed_ns, 250'000'000);
  }
  EXPECT_TRUE(h.store->breaker_open());
  EXPECT_TRUE(h.shared->fallback_active());
  EXPECT_EQ(fallback.calls.load(), 10);
  ASSERT_TRUE(server_->start());
  ASSERT_TRUE(h.run_until([&] { return !h.store->breaker_open(); }));
  EXPECT_FALSE(h.shared->fallback_active());
  // A fresh Redis has an empty script cache: the new connection loads the script first.
  for (int i = 0; i < 3; ++i) {
    auto a = h.admit(calls);
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(a->outcome.from_fallback);
    EXPECT_TRUE(a->outcome.allowed);
  }
  Reply cached = server_->command({"SCRIPT", "EXISTS", std::string(gcra_script_sha1())});
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(cached->element[0]->integer, 1);
  EXPECT_EQ(stored_tat("restart") > 0, true);
}

TEST_F(RedisStoreTest, PasswordFileAclUserAndDb) {
  server_.reset();
  server_ = std::make_unique<RedisServer>(
      dir_.path(), std::vector<std::string>{"--user", "guard", "on", ">s3cret", "~edgeguard:*",
                                            "+@all", "--requirepass", "adminpw"});
  ASSERT_TRUE(server_->running());
  const auto secret = dir_.path() / "redis-password";
  std::ofstream(secret) << "s3cret\n";
  RedisStoreConfig c = config();
  c.username = "guard";
  c.password_file = secret.string();
  c.db = 3;
  StoreHarness h(c);
  const std::vector<LimitCall> calls = {{rate(10, kHour, 2), "authed", 1}};
  auto a = h.admit(calls);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->outcome.from_fallback);
  EXPECT_TRUE(a->outcome.allowed);
  Reply in_db3 =
      server_->command({"EVAL", "redis.call('SELECT', 3) return redis.call('EXISTS', KEYS[1])", "1",
                        "edgeguard:{authed}"});
  ASSERT_NE(in_db3, nullptr);
  EXPECT_EQ(in_db3->integer, 1);

  // A wrong password is a failure like any other: the policy answers, nothing hangs.
  std::ofstream(secret) << "wrong\n";
  RedisStoreConfig bad = c;
  bad.timeout_ns = 100'000'000;
  bad.on_error = RedisStoreConfig::OnError::deny;
  StoreHarness wrong(bad);
  auto d = wrong.admit(calls);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->outcome.from_fallback);
  EXPECT_FALSE(d->outcome.allowed);
}

TEST_F(RedisStoreTest, MissingPasswordFileIsAConfigError) {
  RedisStoreConfig c = config();
  c.password_file = (dir_.path() / "absent").string();
  std::string error;
  EXPECT_EQ(RedisSharedState::create(c, &error), nullptr);
  EXPECT_NE(error.find("password_file"), std::string::npos);
}

// hiredis writes with write(2): once a Redis has died, the second write on a connection to it
// raises SIGPIPE, whose default action ends the process. That was an edgeguard vanishing when
// its Redis was killed under load (1 run in about 100 of an end-to-end test). Once a store's
// shared state exists, such a write is an error value like any other.
TEST_F(RedisStoreTest, WritingToARedisThatDiedDoesNotKillTheProcess) {
  std::string error;
  ASSERT_NE(RedisSharedState::create(config(), &error), nullptr) << error;
  redisContext* c = redisConnect("127.0.0.1", server_->port());
  ASSERT_TRUE(c != nullptr && c->err == 0);
  Reply pong(static_cast<redisReply*>(redisCommand(c, "PING")));
  ASSERT_NE(pong, nullptr);
  server_->kill();
  // The first write after the death may still be accepted; Redis's end then resets, and a
  // later write fails: with EPIPE, and without ending this process.
  int writes = 0;
  EXPECT_TRUE(wait_until([&] {
    ++writes;
    redisAppendCommand(c, "PING");
    int done = 0;
    return redisBufferWrite(c, &done) == REDIS_ERR;
  })) << writes
      << " writes";
  EXPECT_NE(c->err, 0);
  redisFree(c);
}

// Faults under load: 64 requests always in flight on one thread while Redis is stopped,
// resumed, then killed. Every request is answered, none later than the timeout (plus loop
// slack), and the store recovers once Redis is back.
TEST_F(RedisStoreTest, FaultsUnderLoadNeverStallARequest) {
  CountingStore fallback;
  StoreHarness h(config(30'000'000), &fallback);
  const GcraRate r = rate(1'000'000, kHour, 1'000'000);
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) keys.push_back("load/" + std::to_string(i));
  int issued = 0, completed = 0, from_redis = 0;
  int total = std::numeric_limits<int>::max();  // set when the faults start
  std::int64_t worst_ns = 0;
  std::vector<std::vector<LimitCall>> calls(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) calls[i] = {{r, keys[i], i + 1}};
  std::vector<bool> busy(keys.size(), false);
  const std::int64_t start = mono_ns();
  auto issue = [&](std::size_t slot) {
    busy[slot] = true;
    ++issued;
    const std::int64_t now = mono_ns();
    auto finish = [&, slot, now](const LimitOutcome& o) {
      worst_ns = std::max(worst_ns, mono_ns() - now);
      from_redis += o.from_fallback ? 0 : 1;
      ++completed;
      busy[slot] = false;
    };
    if (auto o = h.store->try_admit(calls[slot], now, false)) {
      finish(*o);
    } else {
      h.store->admit_async(calls[slot], now, false, finish);
    }
  };
  double redis_rate = 0;
  int stage = 0, faults_at = 0;
  // The faults start once Redis has answered 2000 requests (counted, not assumed: on a loaded
  // machine some of the first ones may miss the 30 ms and be answered by the policy), then
  // each stage lasts a number of answers: 1000 stopped, 1500 resumed, 1500 killed.
  const bool done = h.run_until(
      [&] {
        for (std::size_t i = 0; i < keys.size() && issued < total; ++i) {
          if (!busy[i]) issue(i);
        }
        if (from_redis >= 2000 && stage == 0) {
          redis_rate = completed * 1e9 / static_cast<double>(mono_ns() - start);
          server_->signal(SIGSTOP);
          faults_at = completed;
          total = completed + 4000;
          stage = 1;
        }
        if (completed >= faults_at + 1000 && stage == 1) {
          server_->signal(SIGCONT);
          stage = 2;
        }
        if (completed >= faults_at + 2500 && stage == 2) {
          server_->kill();
          stage = 3;
        }
        return stage == 3 && completed == total;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(done) << completed << " answered, " << from_redis << " by Redis, stage " << stage;
  EXPECT_LT(worst_ns, 30'000'000 + 100'000'000);
  EXPECT_GT(h.shared->counters().fallback_answers.load(), 0u);
  std::printf("admits/s through one connection, 64 in flight: %.0f\n", redis_rate);
  ASSERT_TRUE(server_->start());
  ASSERT_TRUE(h.run_until([&] { return !h.store->breaker_open(); }));
  auto a = h.admit(calls[0]);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->outcome.from_fallback);
}

// SIGSTOP: Redis accepts nothing and answers nothing. Every request must still be answered
// within the timeout by the policy, the breaker must open, and SIGCONT must bring Redis back.
class RedisStoppedTest : public RedisStoreTest,
                         public ::testing::WithParamInterface<RedisStoreConfig::OnError> {};

TEST_P(RedisStoppedTest, AnswersWithinTimeoutByPolicyAndRecovers) {
  CountingStore fallback;
  RedisStoreConfig c = config(50'000'000);
  c.on_error = GetParam();
  StoreHarness h(c, &fallback);
  const GcraRate r = rate(1000, kHour, 1000);
  const std::vector<LimitCall> calls = {{r, "stopped", 1}};
  ASSERT_FALSE(h.admit(calls)->outcome.from_fallback);

  server_->signal(SIGSTOP);
  for (int i = 0; i < 20; ++i) {
    auto a = h.admit(calls);
    ASSERT_TRUE(a.has_value());
    EXPECT_TRUE(a->outcome.from_fallback);
    EXPECT_LT(a->elapsed_ns, 50'000'000 + 100'000'000) << "request " << i;
    EXPECT_EQ(a->outcome.allowed, GetParam() != RedisStoreConfig::OnError::deny);
    if (i >= 3) {
      EXPECT_TRUE(a->sync) << "breaker open: no waiting on Redis";
    }
  }
  EXPECT_TRUE(h.store->breaker_open());
  EXPECT_TRUE(h.shared->fallback_active());
  EXPECT_EQ(h.shared->counters().timeouts.load(), 3u);
  EXPECT_EQ(fallback.calls.load(), GetParam() == RedisStoreConfig::OnError::local ? 20 : 0);

  server_->signal(SIGCONT);
  ASSERT_TRUE(h.run_until([&] { return !h.store->breaker_open(); }));
  auto a = h.admit(calls);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->outcome.from_fallback);
  EXPECT_TRUE(a->outcome.allowed);
}

// The store recycles its requests. One that timed out still has its command queued; its reply,
// when Redis wakes up, must not land on the request that took its place.
TEST_F(RedisStoreTest, LateReplyOfATimedOutRequestReachesNoOtherRequest) {
  CountingStore fallback;
  RedisStoreConfig c = config(50'000'000);
  c.on_error = RedisStoreConfig::OnError::allow;
  StoreHarness h(c, &fallback);
  const GcraRate r = rate(1, kHour, 1);
  const std::vector<LimitCall> used = {{r, "late-used", 1}};
  const std::vector<LimitCall> fresh = {{r, "late-fresh", 2}};
  const std::vector<LimitCall> other = {{r, "late-other", 3}};
  ASSERT_FALSE(h.admit(used)->outcome.from_fallback);

  server_->signal(SIGSTOP);
  auto timed_out = h.admit(used);
  ASSERT_TRUE(timed_out.has_value());
  ASSERT_TRUE(timed_out->outcome.from_fallback);
  ASSERT_FALSE(h.store->breaker_open());
  server_->signal(SIGCONT);

  // Queued behind the timed-out command: its reply (for the used key) is read first.
  auto next = h.admit(fresh);
  auto control = h.admit(other);
  ASSERT_TRUE(next.has_value());
  ASSERT_TRUE(control.has_value());
  EXPECT_FALSE(next->outcome.from_fallback);
  EXPECT_TRUE(next->outcome.allowed);
  EXPECT_EQ(next->outcome.remaining, control->outcome.remaining) << "a fresh key's answer";
}

INSTANTIATE_TEST_SUITE_P(Policies, RedisStoppedTest,
                         ::testing::Values(RedisStoreConfig::OnError::local,
                                           RedisStoreConfig::OnError::allow,
                                           RedisStoreConfig::OnError::deny),
                         [](const auto& info) {
                           switch (info.param) {
                             case RedisStoreConfig::OnError::local:
                               return std::string("local");
                             case RedisStoreConfig::OnError::allow:
                               return std::string("allow");
                             default:
                               return std::string("deny");
                           }
                         });

}  // namespace
}  // namespace edgeguard::testing
