// The active-ban table: lookups by (subject, route) and every route, replacement, unban, expiry,
// the bound (the ban nearest its end gives way), and readers racing writers (TSan runs this).
#include "guard/bans/ban_table.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

namespace edgeguard {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

Ban ban(std::string subject, std::string route, std::int64_t until, std::int64_t count = 1) {
  return Ban{std::move(subject), std::move(route), until, count, "per-ip", BanSource::limit};
}

TEST(BanTable, ARouteBanHoldsOnItsRouteOnly) {
  BanTable t(100);
  EXPECT_TRUE(t.empty());
  ASSERT_TRUE(t.insert(ban("ip:203.0.113.9", "login", 60 * kSecond), 0));
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(t.banned_until("ip:203.0.113.9", "login", 0), 60 * kSecond);
  EXPECT_EQ(t.banned_until("ip:203.0.113.9", "erp", 0), 0);
  EXPECT_EQ(t.banned_until("ip:203.0.113.8", "login", 0), 0);
  // Over at its end, not a nanosecond later.
  EXPECT_EQ(t.banned_until("ip:203.0.113.9", "login", 60 * kSecond - 1), 60 * kSecond);
  EXPECT_EQ(t.banned_until("ip:203.0.113.9", "login", 60 * kSecond), 0);
}

TEST(BanTable, AnEveryRouteBanHoldsEverywhereAndTheLaterEndWins) {
  BanTable t(100);
  ASSERT_TRUE(t.insert(ban("user:alice", std::string(kEveryRoute), 30 * kSecond), 0));
  EXPECT_EQ(t.banned_until("user:alice", "login", 0), 30 * kSecond);
  EXPECT_EQ(t.banned_until("user:alice", "erp", 0), 30 * kSecond);
  ASSERT_TRUE(t.insert(ban("user:alice", "login", 90 * kSecond, 2), 0));
  EXPECT_EQ(t.banned_until("user:alice", "login", 0), 90 * kSecond);
  EXPECT_EQ(t.banned_until("user:alice", "erp", 0), 30 * kSecond);
  const auto b = t.find("user:alice", "login", 0);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->count, 2);
  EXPECT_EQ(b->route, "login");
}

TEST(BanTable, InsertReplacesAndRemoveLiftsEveryRouteOfTheSubject) {
  BanTable t(100);
  ASSERT_TRUE(t.insert(ban("ip:198.51.100.1", "login", 60 * kSecond), 0));
  ASSERT_TRUE(t.insert(ban("ip:198.51.100.1", "login", 10 * kSecond), 0));  // replaced, shorter
  EXPECT_EQ(t.banned_until("ip:198.51.100.1", "login", 0), 10 * kSecond);
  ASSERT_TRUE(t.insert(ban("ip:198.51.100.1", "erp", 60 * kSecond), 0));
  ASSERT_TRUE(t.insert(ban("ip:198.51.100.2", "erp", 60 * kSecond), 0));
  EXPECT_EQ(t.active(0), 3u);
  EXPECT_EQ(t.remove("ip:198.51.100.1", 0), 2u);
  EXPECT_EQ(t.banned_until("ip:198.51.100.1", "login", 0), 0);
  EXPECT_EQ(t.banned_until("ip:198.51.100.1", "erp", 0), 0);
  EXPECT_EQ(t.banned_until("ip:198.51.100.2", "erp", 0), 60 * kSecond);
  EXPECT_EQ(t.remove("ip:198.51.100.1", 0), 0u);
  EXPECT_TRUE(t.remove("ip:198.51.100.2", "erp", 0));
  EXPECT_FALSE(t.remove("ip:198.51.100.2", "erp", 0));
}

TEST(BanTable, ListsActiveBansSoonestEndFirst) {
  BanTable t(100);
  t.insert(ban("ip:192.0.2.3", "a", 30 * kSecond), 0);
  t.insert(ban("ip:192.0.2.1", "a", 10 * kSecond), 0);
  t.insert(ban("ip:192.0.2.2", "a", 20 * kSecond), 0);
  const auto all = t.list(15 * kSecond);  // the first has ended
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].subject, "ip:192.0.2.2");
  EXPECT_EQ(all[1].subject, "ip:192.0.2.3");
}

TEST(BanTable, BoundedTheBanNearestItsEndGivesWay) {
  BanTable t(4);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(t.insert(ban("ip:10.0.0." + std::to_string(i), "r", (10 + i) * kSecond), 0));
  }
  // Full: a ban ending later than the soonest takes its place.
  ASSERT_TRUE(t.insert(ban("ip:10.0.1.1", "r", 100 * kSecond), 0));
  EXPECT_EQ(t.active(0), 4u);
  EXPECT_EQ(t.banned_until("ip:10.0.0.0", "r", 0), 0);
  EXPECT_EQ(t.banned_until("ip:10.0.1.1", "r", 0), 100 * kSecond);
  // One that would end before all of them is refused.
  EXPECT_FALSE(t.insert(ban("ip:10.0.1.2", "r", 5 * kSecond), 0));
  // Once some have ended, their room is free again.
  ASSERT_TRUE(t.insert(ban("ip:10.0.1.3", "r", 200 * kSecond), 12 * kSecond));
  EXPECT_EQ(t.banned_until("ip:10.0.1.3", "r", 12 * kSecond), 200 * kSecond);
  // A million offenders never grow it past its bound.
  for (int i = 0; i < 100'000; ++i) {
    t.insert(ban("ip:172.16." + std::to_string(i / 256) + "." + std::to_string(i % 256), "r",
                 (300 + i) * kSecond),
             13 * kSecond);
  }
  EXPECT_EQ(t.active(13 * kSecond), 4u);
}

TEST(BanTable, ReusedSlotsNeverMakeAnUnbannedSubjectLookBanned) {
  BanTable t(8);
  // Churn: bans end and new subjects take their slots; a subject never banned is never banned.
  for (int round = 0; round < 2000; ++round) {
    const std::int64_t now = round * kSecond;
    t.insert(ban("ip:10.1.0." + std::to_string(round % 200), "r", now + 3 * kSecond), now);
    ASSERT_EQ(t.banned_until("ip:10.9.9.9", "r", now), 0) << round;
    ASSERT_EQ(t.banned_until("ip:10.1.0." + std::to_string(round % 200), "r", now),
              now + 3 * kSecond);
  }
}

// A flood of distinct offenders through a full table (the shape of tests/hardening's ban flood):
// each new ban ends after all held ones, so each must be held, which needs a free slot within
// kMaxProbes of its home. At two slots per ban, linear probing's clusters filled such a window
// in about one flood in ten and that offender's ban was lost; a hundred floods here.
TEST(BanTable, AFloodOfNewOffendersIsEveryOneHeld) {
  for (int flood = 0; flood < 100; ++flood) {
    BanTable t(1000);
    const std::string prefix = "ip:10." + std::to_string(flood) + ".";
    for (int i = 0; i < 20'000; ++i) {
      const std::string subject = prefix + std::to_string(i / 256) + "." + std::to_string(i % 256);
      const std::int64_t until = (3600 + i) * kSecond;
      ASSERT_TRUE(t.insert(ban(subject, "r", until), i)) << "flood " << flood << ", ban " << i;
      ASSERT_EQ(t.banned_until(subject, "r", i), until) << "flood " << flood << ", ban " << i;
    }
  }
}

// Slots keep their keys once used, so after many distinct bans have come and gone every slot
// of the index holds one; a lookup still reads at most kMaxProbes slots, and still finds what
// it must (a flood of offenders, each banned once, must not make every later request slower).
TEST(BanTable, ChurnLeavesLookupsBounded) {
  BanTable t(64);  // 128 slots
  for (int i = 0; i < 20'000; ++i) {
    const std::int64_t now = i * kSecond;
    ASSERT_TRUE(t.insert(ban("ip:10.2." + std::to_string(i / 256) + "." + std::to_string(i % 256),
                             "r", now + 2 * kSecond),
                         now))
        << i;
  }
  const std::int64_t now = 20'000 * kSecond;
  ASSERT_TRUE(t.insert(ban("ip:203.0.113.9", "r", now + 60 * kSecond), now));
  EXPECT_EQ(t.banned_until("ip:203.0.113.9", "r", now), now + 60 * kSecond);
  std::size_t worst = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string never = "ip:192.0.2." + std::to_string(i);
    EXPECT_EQ(t.banned_until(never, "r", now), 0) << never;
    worst = std::max(worst, t.probes_for(never, "r"));
  }
  EXPECT_LE(worst, BanTable::kMaxProbes);
  EXPECT_GT(worst, 1u) << "the churn left the index empty: this test proves nothing";
}

// The key hashes every byte: subjects (and routes) of every length that differ in any one byte,
// the tail shorter than a word included, have different keys.
TEST(BanTable, KeysDifferWhenAnyByteDiffers) {
  for (std::size_t len = 1; len <= 24; ++len) {
    std::string subject(len, 'a');
    const std::uint64_t base = BanTable::key_of(subject, "login");
    EXPECT_NE(base, BanTable::key_of(subject, "logio")) << len;
    for (std::size_t i = 0; i < len; ++i) {
      std::string other = subject;
      other[i] = 'b';
      EXPECT_NE(base, BanTable::key_of(other, "login")) << len << " " << i;
      std::string route(len, 'r');
      const std::uint64_t route_key = BanTable::key_of("ip:203.0.113.9", route);
      route[i] = 's';
      EXPECT_NE(route_key, BanTable::key_of("ip:203.0.113.9", route)) << len << " " << i;
    }
  }
  // And the lookup, which hashes the subject once for the route and every route, agrees.
  BanTable t(100);
  ASSERT_TRUE(t.insert(ban("ip:198.51.100.1", "login", 60 * kSecond), 0));
  ASSERT_TRUE(t.insert(ban("ip:198.51.100.3", std::string(kEveryRoute), 60 * kSecond), 0));
  EXPECT_EQ(t.banned_until("ip:198.51.100.1", "login", 0), 60 * kSecond);
  EXPECT_EQ(t.banned_until("ip:198.51.100.2", "login", 0), 0);
  EXPECT_EQ(t.banned_until("ip:198.51.100.3", "login", 0), 60 * kSecond);
  EXPECT_EQ(t.banned_until("ip:198.51.100.4", "login", 0), 0);
}

TEST(TsanBanTable, ReadersRaceWriters) {
  BanTable t(64);
  std::atomic<bool> stop{false};
  std::atomic<int> false_bans{0};
  std::thread reader([&] {
    while (!stop.load()) {
      for (int i = 0; i < 64; ++i) {
        // Subjects "x:" are never banned: any hit would be a torn read.
        if (t.banned_until("x:" + std::to_string(i), "r", 0) != 0) false_bans.fetch_add(1);
        t.banned_until("ip:" + std::to_string(i), "r", 0);
      }
    }
  });
  for (int round = 0; round < 20'000; ++round) {
    const std::string s = "ip:" + std::to_string(round % 200);
    if (round % 3 == 0) {
      t.remove(s, round);
    } else {
      t.insert(ban(s, "r", round + 5), round);
    }
  }
  stop.store(true);
  reader.join();
  EXPECT_EQ(false_bans.load(), 0);
}

TEST(BanDuration, EscalatesByFactorUpToMax) {
  const Escalation e{2, 24 * 3600 * kSecond, 7 * 24 * 3600 * kSecond};
  const std::int64_t m15 = 15 * 60 * kSecond;
  EXPECT_EQ(ban_duration(m15, 1, e), m15);
  EXPECT_EQ(ban_duration(m15, 2, e), 2 * m15);
  EXPECT_EQ(ban_duration(m15, 3, e), 4 * m15);
  EXPECT_EQ(ban_duration(m15, 7, e), 64 * m15);    // 16 h
  EXPECT_EQ(ban_duration(m15, 8, e), e.max_ns);    // 32 h capped at 24 h
  EXPECT_EQ(ban_duration(m15, 500, e), e.max_ns);  // no overflow
  EXPECT_EQ(ban_duration(48 * 3600 * kSecond, 1, e), e.max_ns);
  const Escalation flat{1, e.max_ns, e.memory_ns};
  EXPECT_EQ(ban_duration(m15, 9, flat), m15);
}

TEST(BanSubject, ClientAddressesAndCanonicalForms) {
  char buf[kMaxIpSubject];
  EXPECT_EQ(std::string(buf, format_ip_subject(*IpAddress::parse("203.0.113.9"), 64, buf)),
            "ip:203.0.113.9");
  EXPECT_EQ(std::string(buf, format_ip_subject(*IpAddress::parse("::ffff:203.0.113.9"), 64, buf)),
            "ip:203.0.113.9");
  EXPECT_EQ(std::string(buf, format_ip_subject(*IpAddress::parse("2001:db8:1:2:3::9"), 64, buf)),
            "ip:2001:db8:1:2::/64");
  std::string error;
  EXPECT_EQ(canonical_subject("ip:2001:db8:1:2:3::9", 64, &error), "ip:2001:db8:1:2::/64");
  EXPECT_EQ(canonical_subject("ip:2001:db8:1:2::/64", 64, &error), "ip:2001:db8:1:2::/64");
  EXPECT_EQ(canonical_subject("ip:::ffff:192.0.2.1", 64, &error), "ip:192.0.2.1");
  EXPECT_EQ(canonical_subject("user:alice", 64, &error), "user:alice");
  EXPECT_FALSE(canonical_subject("ip:2001:db8::/48", 64, &error));
  EXPECT_FALSE(canonical_subject("ip:300.1.1.1", 64, &error));
  EXPECT_FALSE(canonical_subject("user:", 64, &error));
  EXPECT_FALSE(canonical_subject("alice", 64, &error));
  EXPECT_FALSE(canonical_subject("user:a\nb", 64, &error));
  EXPECT_FALSE(canonical_subject("user:" + std::string(300, 'a'), 64, &error));
}

}  // namespace
}  // namespace edgeguard
