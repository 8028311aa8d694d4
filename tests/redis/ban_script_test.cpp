// The bans' Lua against a real redis-server, called exactly as the stores and the sync call it:
// the escalation math equals ban_duration() case for case; the GCRA script that denies makes
// the ban in the same run (keys, TTL, index, offence count, message) and reports a ban in force
// without escalating; escalation by the factor up to the cap, forgotten after a quiet memory;
// manual bans, unbans, paged resyncs; and Redis's share of bans and offences bounded like the
// replicas' tables.
#include <gtest/gtest.h>

#include <set>

#include "guard/redis/ban_keys.h"
#include "guard/redis/ban_script.h"
#include "guard/redis/gcra_call.h"
#include "tests/redis/ban_test_support.h"
#include "tests/redis/redis_test_support.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kMinute = 60 * kSecond;

class BanScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RedisServer>(dir_.path());
    ASSERT_TRUE(server_->running());
  }

  // One GCRA run over `bucket` (1 per hour, burst 1) carrying `order` for it.
  GcraReply deny_run(const std::string& bucket, const BanOrder& order,
                     GcraScriptMode mode = GcraScriptMode::charge) {
    const GcraRate rates[] = {rate(1, kHour, 1)};
    GcraBanSection bans{&keys_, max_active_, {{0, &order}}};
    const std::string_view buckets[] = {bucket};
    std::vector<std::string> argv;
    argv.resize(gcra_evalsha_argv(argv, keys_.prefix(), buckets, rates, mode, &bans));
    gcra_argv_to_eval(argv);
    Reply r = server_->command(argv);
    EXPECT_NE(r, nullptr);
    auto verdict = parse_gcra_reply(r.get(), 1);
    EXPECT_TRUE(verdict.has_value()) << (r && r->type == REDIS_REPLY_ERROR ? r->str : "");
    return verdict.value_or(GcraReply{});
  }
  BanStepReply manual(const std::string& subject, const std::string& scope, std::int64_t for_ns) {
    Reply r = run_ban_script(
        *server_, manual_ban_argv(keys_, subject, scope, for_ns, escalation_, max_active_));
    auto step = parse_ban_step_reply(r.get());
    EXPECT_TRUE(step.has_value()) << (r && r->type == REDIS_REPLY_ERROR ? r->str : "");
    return step.value_or(BanStepReply{});
  }
  long long integer(const std::vector<std::string>& argv) {
    Reply r = server_->command(argv);
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -99;
  }
  std::optional<std::string> text(const std::vector<std::string>& argv) {
    Reply r = server_->command(argv);
    if (!r || r->type != REDIS_REPLY_STRING) return std::nullopt;
    return std::string(r->str, r->len);
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> server_;
  BanKeys keys_{"edgeguard:"};
  Escalation escalation_{2, 3 * kMinute, kHour};
  std::size_t max_active_ = 1000;
};

// The same table of cases through both: the script's doubles are the C++ doubles.
TEST_F(BanScriptTest, EscalatedDurationsEqualBanDurationCaseForCase) {
  std::vector<std::string> argv = {
      "EVAL",
      std::string(ban_lua_library()) +
          "local out = {}\n"
          "for i = 1, #ARGV, 4 do\n"
          "  out[#out + 1] = ban_duration(tonumber(ARGV[i]), tonumber(ARGV[i + 1]),\n"
          "                               tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]))\n"
          "end\n"
          "return out\n",
      "0"};
  struct Case {
    std::int64_t for_ns, n;
    Escalation e;
  };
  std::vector<Case> cases;
  for (std::int64_t for_ns : {kSecond, 15 * kMinute, std::int64_t{1'000'001}, 7 * kSecond + 3}) {
    for (double factor : {1.0, 1.1, 1.5, 2.0, 3.0, 10.0}) {
      for (std::int64_t max : {3 * kSecond, 24 * 60 * kMinute, 30 * 24 * 60 * kMinute}) {
        for (std::int64_t n = 1; n <= 48; ++n) cases.push_back({for_ns, n, {factor, max, kHour}});
      }
    }
  }
  for (const Case& c : cases) {
    char factor[32];
    std::snprintf(factor, sizeof factor, "%.17g", c.e.factor);
    for (const std::string& a : {std::to_string(c.for_ns), std::to_string(c.n), std::string(factor),
                                 std::to_string(c.e.max_ns)}) {
      argv.push_back(a);
    }
  }
  Reply r = server_->command(argv);
  ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY) << (r ? r->str : "no reply");
  ASSERT_EQ(r->elements, cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    ASSERT_EQ(r->element[i]->integer, ban_duration(c.for_ns, c.n, c.e))
        << "for " << c.for_ns << " n " << c.n << " factor " << c.e.factor << " max " << c.e.max_ns;
  }
  // And the figures an operator expects: 15m, 30m, 1h, ... capped at 24h.
  const Escalation daily{2, 24 * 60 * kMinute, kHour};
  EXPECT_EQ(ban_duration(15 * kMinute, 1, daily), 15 * kMinute);
  EXPECT_EQ(ban_duration(15 * kMinute, 3, daily), 60 * kMinute);
  EXPECT_EQ(ban_duration(15 * kMinute, 8, daily), 24 * 60 * kMinute);
}

TEST_F(BanScriptTest, TheDenialMakesTheBanInTheSameScriptAndAnnouncesIt) {
  ChannelListener listener(server_->port(), keys_.channel());
  ASSERT_TRUE(listener.ok());
  const BanOrder order{"ip:192.0.2.1", "login",      "per-ip",
                       2 * kMinute,    &escalation_, BanSource::limit};
  const GcraReply first = deny_run("login/per-ip/192.0.2.1", order);
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.ban.state, BanStep::none);
  EXPECT_EQ(integer({"EXISTS", keys_.ban("login", "ip:192.0.2.1")}), 0);

  const GcraReply denied = deny_run("login/per-ip/192.0.2.1", order);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.ban.state, BanStep::made);
  EXPECT_EQ(denied.ban.left_ns, 2 * kMinute);
  EXPECT_EQ(denied.ban.count, 1);

  // Where ban_keys.h says, with the TTL of the ban and a record that reads back.
  const std::string key = keys_.ban("login", "ip:192.0.2.1");
  const long long pttl = integer({"PTTL", key});
  EXPECT_GT(pttl, 2 * 60'000 - 1000);
  EXPECT_LE(pttl, 2 * 60'000);
  const auto value = text({"GET", key});
  ASSERT_TRUE(value);
  const auto record = parse_ban_record(*value);
  ASSERT_TRUE(record) << *value;
  EXPECT_EQ(record->subject, "ip:192.0.2.1");
  EXPECT_EQ(record->scope, "login");
  EXPECT_EQ(record->reason, "per-ip");
  EXPECT_EQ(record->source, BanSource::limit);
  EXPECT_EQ(record->count, 1);
  EXPECT_EQ(integer({"ZCARD", keys_.index()}), 1);
  EXPECT_EQ(integer({"SISMEMBER", keys_.scopes("ip:192.0.2.1"), "login"}), 1);
  EXPECT_EQ(text({"HGET", keys_.offence_counts(), "ip:192.0.2.1"}), "1");
  EXPECT_EQ(integer({"ZCARD", keys_.offences()}), 1);

  const auto message = listener.next();
  ASSERT_TRUE(message);
  EXPECT_EQ(*message, "ban 120000000000 " + *value);

  // Denied again while banned: the ban in force is reported, nothing escalates or is announced.
  const GcraReply again = deny_run("login/per-ip/192.0.2.1", order);
  EXPECT_EQ(again.ban.state, BanStep::in_force);
  EXPECT_EQ(again.ban.count, 1);
  EXPECT_LE(again.ban.left_ns, 2 * kMinute);
  EXPECT_GT(again.ban.left_ns, 2 * kMinute - kSecond);
  EXPECT_EQ(text({"HGET", keys_.offence_counts(), "ip:192.0.2.1"}), "1");
  server_->command({"PUBLISH", keys_.channel(), "marker"});
  EXPECT_EQ(listener.next(), "marker");

  // A dry run (explain) bans nobody, even with an order.
  server_->command({"DEL", key});
  const GcraReply dry = deny_run("login/per-ip/192.0.2.1", order, GcraScriptMode::dry_run);
  EXPECT_FALSE(dry.allowed);
  EXPECT_EQ(dry.ban.state, BanStep::none);
  EXPECT_EQ(integer({"EXISTS", key}), 0);
}

TEST_F(BanScriptTest, RepeatOffencesEscalateByTheFactorUpToTheCapAndAQuietMemoryForgets) {
  const BanOrder order{"user:alice", "login",      "user",
                       1 * kMinute,  &escalation_, BanSource::failure};
  const std::string key = keys_.ban("login", "user:alice");
  deny_run("login/user/alice", order);  // the one token
  // Each ban ends (its key expires: deleted here), the bucket is still empty: the next denial
  // is the next offence. 1m, 2m, then 4m capped at 3m.
  const std::int64_t expected[] = {kMinute, 2 * kMinute, 3 * kMinute, 3 * kMinute};
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    server_->command({"DEL", key});
    const GcraReply r = deny_run("login/user/alice", order);
    EXPECT_EQ(r.ban.state, BanStep::made) << i;
    EXPECT_EQ(r.ban.count, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(r.ban.left_ns, expected[i]) << i;
    const auto record = parse_ban_record(text({"GET", key}).value_or(""));
    ASSERT_TRUE(record);
    EXPECT_EQ(record->source, BanSource::failure);
  }
  // The last offence more than `memory` ago: the next ban is a first ban again.
  Reply t = server_->command({"TIME"});
  const long long now_ms = std::stoll(t->element[0]->str) * 1000;
  server_->command(
      {"ZADD", keys_.offences(), std::to_string(now_ms - kHour / 1'000'000 - 5000), "user:alice"});
  server_->command({"DEL", key});
  const GcraReply fresh = deny_run("login/user/alice", order);
  EXPECT_EQ(fresh.ban.count, 1);
  EXPECT_EQ(fresh.ban.left_ns, kMinute);
}

TEST_F(BanScriptTest, ABanOnEveryRouteCoversTheRouteAndAManualBanReplacesAndCounts) {
  const BanStepReply everywhere = manual("ip:192.0.2.9", "*", 10 * kMinute);
  EXPECT_EQ(everywhere.state, BanStep::made);
  EXPECT_EQ(everywhere.left_ns, 10 * kMinute);  // exactly `for`: a ban by hand is not escalated
  EXPECT_EQ(everywhere.count, 1);

  const BanOrder order{"ip:192.0.2.9", "login", "per-ip", kMinute, &escalation_, BanSource::limit};
  deny_run("login/per-ip/192.0.2.9", order);
  const GcraReply covered = deny_run("login/per-ip/192.0.2.9", order);
  EXPECT_EQ(covered.ban.state, BanStep::in_force);
  EXPECT_GT(covered.ban.left_ns, 9 * kMinute);
  EXPECT_EQ(integer({"EXISTS", keys_.ban("login", "ip:192.0.2.9")}), 0);

  const BanStepReply replaced = manual("ip:192.0.2.9", "*", kMinute);
  EXPECT_EQ(replaced.state, BanStep::made);
  EXPECT_EQ(replaced.left_ns, kMinute);
  EXPECT_EQ(replaced.count, 2);  // counted as an offence all the same
  EXPECT_LE(integer({"PTTL", keys_.ban("*", "ip:192.0.2.9")}), 60'000);
  EXPECT_EQ(integer({"ZCARD", keys_.index()}), 1);
}

TEST_F(BanScriptTest, UnbanLiftsEveryScopeOfTheSubjectAndAnnouncesIt) {
  manual("ip:192.0.2.5", "*", 10 * kMinute);
  manual("ip:192.0.2.5", "login", 10 * kMinute);
  manual("ip:192.0.2.6", "login", 10 * kMinute);
  ChannelListener listener(server_->port(), keys_.channel());
  ASSERT_TRUE(listener.ok());

  Reply r = run_ban_script(*server_, unban_argv(keys_, "ip:192.0.2.5"));
  EXPECT_EQ(parse_unban_reply(r.get()), 2);
  EXPECT_EQ(integer({"EXISTS", keys_.ban("*", "ip:192.0.2.5")}), 0);
  EXPECT_EQ(integer({"EXISTS", keys_.ban("login", "ip:192.0.2.5")}), 0);
  EXPECT_EQ(integer({"EXISTS", keys_.scopes("ip:192.0.2.5")}), 0);
  EXPECT_EQ(integer({"EXISTS", keys_.ban("login", "ip:192.0.2.6")}), 1);
  EXPECT_EQ(integer({"ZCARD", keys_.index()}), 1);
  EXPECT_EQ(listener.next(), "unban ip:192.0.2.5");

  Reply again = run_ban_script(*server_, unban_argv(keys_, "ip:192.0.2.5"));
  EXPECT_EQ(parse_unban_reply(again.get()), 0);
}

// Every ban present for the whole scan is in some page (ZSCAN's promise), with its time left;
// the first page also forgets index entries whose ban has ended.
TEST_F(BanScriptTest, ResyncPagesThroughEveryActiveBan) {
  max_active_ = 10'000;
  for (int i = 0; i < 1200; ++i) manual("user:u" + std::to_string(i), "login", 10 * kMinute);
  server_->command({"ZADD", keys_.index(), "1000", "login:user:gone"});
  std::set<std::string> seen;
  std::string cursor = "0";
  int pages = 0;
  do {
    Reply r = run_ban_script(*server_, resync_argv(keys_, cursor, 100));
    auto page = parse_resync_reply(r.get());
    ASSERT_TRUE(page) << (r && r->type == REDIS_REPLY_ERROR ? r->str : "unreadable page");
    EXPECT_EQ(page->unreadable, 0u);
    for (const auto& [record, left_ms] : page->bans) {
      EXPECT_GT(left_ms, 9 * 60'000);
      EXPECT_LE(left_ms, 10 * 60'000);
      seen.insert(record.subject);
    }
    cursor = page->cursor;
    ++pages;
  } while (cursor != "0" && pages < 1000);
  EXPECT_EQ(seen.size(), 1200u);
  EXPECT_GT(pages, 1);
  EXPECT_FALSE(seen.contains("user:gone"));
  Reply gone = server_->command({"ZSCORE", keys_.index(), "login:user:gone"});
  EXPECT_EQ(gone->type, REDIS_REPLY_NIL);
}

// bans.max_active holds in Redis as in each replica's BanTable: ended bans go first, then the
// quarter nearest their end; a ban ending before those is not made. Offences are remembered
// for at most 4 x max_active subjects.
TEST_F(BanScriptTest, BansAndOffencesInRedisAreBoundedLikeTheTables) {
  max_active_ = 8;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(manual("user:u" + std::to_string(i), "login", (10 + i) * kMinute).state,
              BanStep::made);
  }
  EXPECT_EQ(manual("user:early", "login", kMinute).state, BanStep::refused);
  EXPECT_EQ(integer({"EXISTS", keys_.ban("login", "user:early")}), 0);
  EXPECT_EQ(manual("user:late", "login", 30 * kMinute).state, BanStep::made);
  EXPECT_LE(integer({"ZCARD", keys_.index()}), 8);
  // The two nearest their end gave way, keys and scopes with them.
  EXPECT_EQ(integer({"EXISTS", keys_.ban("login", "user:u0")}), 0);
  EXPECT_EQ(integer({"EXISTS", keys_.ban("login", "user:u1")}), 0);
  EXPECT_EQ(integer({"SISMEMBER", keys_.scopes("user:u0"), "login"}), 0);
  EXPECT_EQ(integer({"EXISTS", keys_.ban("login", "user:u2")}), 1);
  EXPECT_EQ(integer({"EXISTS", keys_.ban("login", "user:late")}), 1);

  for (int i = 0; i < 100; ++i) manual("user:many" + std::to_string(i), "login", 40 * kMinute);
  EXPECT_LE(integer({"ZCARD", keys_.index()}), 8);
  EXPECT_LE(integer({"ZCARD", keys_.offences()}), 32);
  EXPECT_EQ(integer({"ZCARD", keys_.offences()}), integer({"HLEN", keys_.offence_counts()}));
}

}  // namespace
}  // namespace edgeguard::testing
