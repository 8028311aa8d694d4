#include "guard/net/cidr_set.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace edgeguard {
namespace {

Cidr cidr(std::string_view text) {
  auto c = Cidr::parse(text);
  EXPECT_TRUE(c.has_value()) << text;
  return c.value_or(Cidr{});
}

IpAddress ip(std::string_view text) {
  return IpAddress::parse(text).value();
}

CidrSet set_of(std::initializer_list<const char*> texts) {
  std::vector<Cidr> list;
  for (const char* t : texts) list.push_back(cidr(t));
  return CidrSet(list);
}

TEST(CidrSet, EmptyContainsNothing) {
  CidrSet s;
  s.finish();
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.contains(ip("0.0.0.0")));
  EXPECT_FALSE(s.contains(ip("::")));
}

TEST(CidrSet, MembershipAtTheEdges) {
  const CidrSet s = set_of({"10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "198.51.100.7"});
  const std::pair<const char*, bool> cases[] = {
      {"10.0.0.0", true},
      {"10.255.255.255", true},
      {"9.255.255.255", false},
      {"11.0.0.0", false},
      {"192.168.1.0", true},
      {"192.168.1.255", true},
      {"192.168.0.255", false},
      {"192.168.2.0", false},
      {"198.51.100.7", true},
      {"198.51.100.6", false},
      {"198.51.100.8", false},
      {"::ffff:10.1.1.1", true},
      {"2001:db8::", true},
      {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"2001:db9::", false},
      {"2001:db7:ffff::", false},
      {"::", false},
      {"::a00:1", false},  // ::10.0.0.1 (v4-compatible) is not 10.0.0.1
  };
  for (const auto& [text, expected] : cases) EXPECT_EQ(s.contains(ip(text)), expected) << text;
}

TEST(CidrSet, MergesOverlappingAndAdjacentRanges) {
  // Two adjacent /25s and a contained /30 become one range; a duplicate adds nothing.
  const CidrSet s = set_of(
      {"10.0.0.128/25", "10.0.0.0/25", "10.0.0.4/30", "10.0.0.0/24", "10.0.1.0/24", "10.0.3.0/24"});
  EXPECT_EQ(s.range_count(), 2u);  // 10.0.0.0-10.0.1.255 and 10.0.3.0/24
  EXPECT_TRUE(s.contains(ip("10.0.1.255")));
  EXPECT_FALSE(s.contains(ip("10.0.2.0")));
  EXPECT_TRUE(s.contains(ip("10.0.3.0")));
  // Single addresses next to each other merge too.
  EXPECT_EQ(set_of({"1.1.1.1", "1.1.1.2", "1.1.1.3"}).range_count(), 1u);
  EXPECT_EQ(set_of({"1.1.1.1", "1.1.1.3"}).range_count(), 2u);
}

TEST(CidrSet, WholeSpaces) {
  const CidrSet all4 = set_of({"0.0.0.0/0"});
  EXPECT_TRUE(all4.contains(ip("0.0.0.0")));
  EXPECT_TRUE(all4.contains(ip("255.255.255.255")));
  EXPECT_FALSE(all4.contains(ip("::1")));
  EXPECT_FALSE(all4.contains(ip("2001:db8::1")));

  const CidrSet all = set_of({"::/0", "10.0.0.0/8", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"});
  EXPECT_EQ(all.range_count(), 1u);
  for (const char* t :
       {"::", "1.2.3.4", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    EXPECT_TRUE(all.contains(ip(t))) << t;
  }
  // The very top address alone, next to a range ending just below it.
  const CidrSet top = set_of({"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "::1"});
  EXPECT_TRUE(top.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(top.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd")));
}

// Random networks of both families, then random addresses checked against a linear scan.
void compare_with_brute_force(std::size_t entries, int probes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Cidr> networks;
  CidrSet set;
  for (std::size_t i = 0; i < entries; ++i) {
    Cidr c;
    if (rng() % 2 == 0) {
      const int prefix = 8 + static_cast<int>(rng() % 25);  // /8 .. /32
      c.address = IpAddress::from_v4(static_cast<std::uint32_t>(rng())).masked(prefix);
      c.prefix = prefix;
    } else {
      const int prefix = 16 + static_cast<int>(rng() % 113);  // /16 .. /128
      // Keep the top 16 bits in a small space so random probes hit networks.
      const u128 bits = (u128{0x2001} << 112) | (u128{rng()} << 64 | rng()) >> 16;
      c.address = IpAddress::from_bits(bits).masked(prefix);
      c.prefix = prefix;
    }
    networks.push_back(c);
    set.add(c);
  }
  set.finish();
  EXPECT_LE(set.range_count(), entries);
  int hits = 0;
  for (int i = 0; i < probes; ++i) {
    IpAddress probe;
    if (i % 3 == 0) {
      // An address inside a random network, or just outside it.
      const Cidr& c = networks[rng() % networks.size()];
      u128 bits = c.first() + (rng() % 3 == 0 ? 0 : u128{rng()} % (c.last() - c.first() + 1));
      if (rng() % 4 == 0) bits = c.last() + 1;
      if (rng() % 4 == 0) bits = c.first() - 1;
      probe = IpAddress::from_bits(bits);
    } else if (i % 3 == 1) {
      probe = IpAddress::from_v4(static_cast<std::uint32_t>(rng()));
    } else {
      probe = IpAddress::from_bits((u128{0x2001} << 112) | (u128{rng()} << 64 | rng()) >> 16);
    }
    bool expected = false;
    for (const auto& c : networks) expected = expected || c.contains(probe);
    ASSERT_EQ(set.contains(probe), expected) << probe.to_string();
    hits += expected;
  }
  EXPECT_GT(hits, probes / 10);  // the probes did exercise membership, not only misses
}

TEST(CidrSet, TenEntriesMatchBruteForce) {
  compare_with_brute_force(10, 20'000, 1);
}
TEST(CidrSet, TenThousandEntriesMatchBruteForce) {
  compare_with_brute_force(10'000, 5'000, 2);
}

}  // namespace
}  // namespace edgeguard
