// Where bans live in Redis and how their records and messages read, without a server: the key
// names (all in the {bans} slot), records and messages that round-trip, and every malformed
// one refused (another process wrote it: it is input).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "guard/redis/ban_keys.h"
#include "guard/redis/ban_script.h"
#include "guard/redis/cluster_slots.h"

namespace edgeguard {
namespace {

TEST(BanKeys, EveryKeyIsInTheBansSlot) {
  const BanKeys keys("edgeguard:");
  EXPECT_EQ(keys.index(), "edgeguard:{bans}:index");
  EXPECT_EQ(keys.ban("login", "ip:192.0.2.1"), "edgeguard:{bans}:ban:login:ip:192.0.2.1");
  EXPECT_EQ(keys.ban("*", "user:a}b{c"), "edgeguard:{bans}:ban:*:user:a}b{c");
  EXPECT_EQ(keys.scopes("ip:192.0.2.1"), "edgeguard:{bans}:scopes:ip:192.0.2.1");
  EXPECT_EQ(keys.channel(), "edgeguard:bans");
  EXPECT_EQ(BanKeys("edgeguard:", 3).channel(), "edgeguard:bans:3");
  for (const std::string& key : {keys.ban("login", "ip:192.0.2.1"), keys.ban("*", "user:{x}"),
                                 keys.scopes("user:}"), keys.offences(), keys.offence_counts()}) {
    EXPECT_EQ(key_hash_slot(key), keys.slot()) << key;
  }
}

TEST(BanRecord, RoundTrips) {
  BanRecord r;
  r.count = 3;
  r.source = BanSource::failure;
  r.until_ms = 1'714'000'000'123;
  r.reason = "per ip: 5/min";
  r.scope = "authentik-login";
  r.subject = "key:erp/per-tenant/a:b c";
  const std::string text = format_ban_record(r);
  EXPECT_EQ(text,
            "3 failure 1714000000123 13:per ip: 5/minauthentik-login:key:erp/per-tenant/a:b c");
  const auto back = parse_ban_record(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->count, 3);
  EXPECT_EQ(back->source, BanSource::failure);
  EXPECT_EQ(back->until_ms, r.until_ms);
  EXPECT_EQ(back->reason, r.reason);
  EXPECT_EQ(back->scope, r.scope);
  EXPECT_EQ(back->subject, r.subject);

  const auto manual = parse_ban_record("1 manual 5 6:manual*:ip:2001:db8::/64");
  ASSERT_TRUE(manual);
  EXPECT_EQ(manual->scope, "*");
  EXPECT_EQ(manual->subject, "ip:2001:db8::/64");
  const auto empty_reason = parse_ban_record("1 limit 5 0:login:user:x");
  ASSERT_TRUE(empty_reason);
  EXPECT_EQ(empty_reason->reason, "");
}

TEST(BanRecord, RefusesMalformedRecords) {
  for (const char* bad : {
           "",
           "1 limit 5 6:per-iplogin:",                   // no subject
           "1 limit 5 6:per-ip:ip:1",                    // no scope
           "0 limit 5 6:per-iplogin:ip:1",               // count 0
           "-1 limit 5 6:per-iplogin:ip:1",              // negative count
           "01 limit 5 6:per-iplogin:ip:1",              // leading zero
           "1 banned 5 6:per-iplogin:ip:1",              // unknown source
           "1 limit x 6:per-iplogin:ip:1",               // until not a number
           "1 limit 5 60:per-iplogin:ip:1",              // reason longer than what follows
           "1 limit 5 6per-iplogin:ip:1",                // no ':' after the length
           "1 limit 5 6:per-iplog/in:ip:1",              // a scope that is no route name
           "1 limit 99999999999999999999 0:login:ip:1",  // until past 2^53
           "1  limit 5 0:login:ip:1",                    // doubled space
       }) {
    EXPECT_FALSE(parse_ban_record(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parse_ban_record("1 limit 5 0:login:" + std::string(kMaxBanText + 1, 'x')));
}

TEST(BanMessage, ReadsBansAndUnbans) {
  const auto ban = parse_ban_message("ban 120000000000 1 limit 5 6:per-iplogin:ip:192.0.2.1");
  ASSERT_TRUE(ban);
  EXPECT_EQ(ban->kind, BanMessage::Kind::ban);
  EXPECT_EQ(ban->left_ns, 120'000'000'000);
  EXPECT_EQ(ban->record.subject, "ip:192.0.2.1");
  const auto unban = parse_ban_message("unban user:a b");
  ASSERT_TRUE(unban);
  EXPECT_EQ(unban->kind, BanMessage::Kind::unban);
  EXPECT_EQ(unban->record.subject, "user:a b");

  for (const char* bad :
       {"", "ban", "ban ", "unban ", "ban 0 1 limit 5 0:login:ip:1",
        "ban -5 1 limit 5 0:login:ip:1", "ban 5 1 limit 5 0:login:", "BAN 5 1 limit 5 0:login:ip:1",
        "ban 9999999999999999999 1 limit 5 0:a:b", "marker"}) {
    EXPECT_FALSE(parse_ban_message(bad).has_value()) << bad;
  }
}

// The ban script's replies: what the store and the sync accept, and nothing else.
TEST(BanScriptReplies, ReadOnlyWhatTheContractSays) {
  EXPECT_TRUE(read_ban_step(1, 5, 1));
  EXPECT_TRUE(read_ban_step(3, 0, 2));
  EXPECT_FALSE(read_ban_step(1, 0, 1));
  EXPECT_FALSE(read_ban_step(2, 5, 0));
  EXPECT_FALSE(read_ban_step(4, 5, 1));
  EXPECT_FALSE(read_ban_step(0, 5, 0));
  EXPECT_FALSE(read_ban_step(1, std::int64_t{1} << 62, 1));
  EXPECT_FALSE(parse_ban_step_reply(nullptr));
  EXPECT_FALSE(parse_unban_reply(nullptr));
  EXPECT_FALSE(parse_resync_reply(nullptr));
}

}  // namespace
}  // namespace edgeguard
