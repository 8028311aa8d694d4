// Cluster addressing without a server: CRC16 and hash tags as Redis computes them, and the
// MOVED/ASK error format.
#include <gtest/gtest.h>

#include "guard/redis/cluster_slots.h"
#include "guard/redis/gcra_script.h"

namespace edgeguard {
namespace {

TEST(ClusterSlots, Crc16MatchesRedisReferenceVector) {
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);  // from the Redis Cluster specification
}

TEST(ClusterSlots, KeySlotsAndHashTags) {
  EXPECT_EQ(key_hash_slot("foo"), 12182);  // CLUSTER KEYSLOT foo
  EXPECT_EQ(key_hash_slot("{user1000}.following"), key_hash_slot("{user1000}.followers"));
  EXPECT_EQ(key_hash_slot("edgeguard:{a/b}"), key_hash_slot("a/b"));
  // An empty first tag hashes the whole key. Values from a real node's CLUSTER KEYSLOT.
  EXPECT_EQ(key_hash_slot("foo{}{bar}"), 8363);
  EXPECT_EQ(key_hash_slot("bar"), 5061);
  EXPECT_EQ(key_hash_slot("foo{{bar}}zap"), 4015);  // the tag is "{bar"
  EXPECT_EQ(key_hash_slot("{bar"), 4015);
}

TEST(ClusterSlots, ParsesRedirects) {
  auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved.has_value());
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->target.text(), "127.0.0.1:6381");
  auto ask = parse_redirect("ASK 1 [::1]:7000");
  ASSERT_TRUE(ask.has_value());
  EXPECT_TRUE(ask->ask);
  EXPECT_EQ(ask->target.host, "::1");
  EXPECT_FALSE(parse_redirect("MOVED 16384 127.0.0.1:1").has_value());
  EXPECT_FALSE(parse_redirect("ERR wrong").has_value());
  EXPECT_FALSE(parse_redirect("MOVED x 127.0.0.1:1").has_value());
}

TEST(GcraScript, Sha1IsFortyHexDigits) {
  const auto sha = gcra_script_sha1();
  ASSERT_EQ(sha.size(), 40u);
  EXPECT_EQ(sha.find_first_not_of("0123456789abcdef"), std::string_view::npos);
}

}  // namespace
}  // namespace edgeguard
