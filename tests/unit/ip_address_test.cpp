#include "guard/net/ip_address.h"

#include <gtest/gtest.h>

#include <string>

namespace edgeguard {
namespace {

IpAddress ip(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

struct FormatCase {
  const char* input;
  const char* canonical;
  bool v4;
};

TEST(IpAddress, ParsesAndFormatsCanonically) {
  const FormatCase cases[] = {
      {"1.2.3.4", "1.2.3.4", true},
      {"0.0.0.0", "0.0.0.0", true},
      {"255.255.255.255", "255.255.255.255", true},
      {"::ffff:1.2.3.4", "1.2.3.4", true},
      {"::FFFF:198.51.100.7", "198.51.100.7", true},
      {"::ffff:c633:6407", "198.51.100.7", true},
      {"2001:db8::1", "2001:db8::1", false},
      {"2001:DB8:0:0:0:0:0:1", "2001:db8::1", false},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", false},
      {"::", "::", false},
      {"::1", "::1", false},
      {"fd7a:115c:a1e0::1", "fd7a:115c:a1e0::1", false},
  };
  for (const auto& c : cases) {
    const auto a = IpAddress::parse(c.input);
    ASSERT_TRUE(a.has_value()) << c.input;
    EXPECT_EQ(a->to_string(), c.canonical) << c.input;
    EXPECT_EQ(a->is_v4(), c.v4) << c.input;
    char buf[64];
    EXPECT_EQ(std::string(buf, a->format(buf)), c.canonical) << c.input;
  }
}

TEST(IpAddress, RejectsGarbage) {
  for (const char* bad :
       {"", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:80", "[::1]",
        "::1%eth0", "2001:db8:::1", "abc", "1.2.3.4/24", "-1.2.3.4",
        "01234567890123456789012345678901234567890123456789012345678901234567"}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
}

TEST(IpAddress, MappedFormEqualsV4) {
  EXPECT_EQ(ip("::ffff:10.1.2.3"), ip("10.1.2.3"));
  EXPECT_EQ(ip("10.1.2.3"), IpAddress::from_v4(0x0A010203));
  EXPECT_EQ(ip("10.1.2.3").v4(), 0x0A010203u);
  EXPECT_NE(ip("::10.1.2.3"), ip("10.1.2.3"));  // the deprecated v4-compatible form is IPv6
  EXPECT_LT(ip("10.0.0.1"), ip("10.0.0.2"));
}

TEST(IpAddress, BytesRoundTrip) {
  for (const char* s :
       {"1.2.3.4", "2001:db8::ff00:42:8329", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    const IpAddress a = ip(s);
    EXPECT_EQ(IpAddress::from_bytes(a.bytes()), a) << s;
  }
  const auto b = ip("1.2.3.4").bytes();
  EXPECT_EQ(b[10], 0xff);
  EXPECT_EQ(b[11], 0xff);
  EXPECT_EQ(b[12], 1);
  EXPECT_EQ(b[15], 4);
}

struct MaskCase {
  const char* address;
  int prefix;
  const char* expected;
};

TEST(IpAddress, MasksInItsOwnFamily) {
  const MaskCase cases[] = {
      {"192.168.77.201", 24, "192.168.77.0"},
      {"192.168.77.201", 16, "192.168.0.0"},
      {"192.168.77.201", 0, "0.0.0.0"},  // stays IPv4: the mapped prefix is kept
      {"192.168.77.201", 32, "192.168.77.201"},
      {"192.168.77.201", 33, "192.168.77.201"},
      {"10.255.255.255", 9, "10.128.0.0"},
      {"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::"},
      {"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::"},
      {"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6"},
      {"2001:db8:1:2:3:4:5:6", 0, "::"},
      {"2001:db8:1:2:ffff:4:5:6", 65, "2001:db8:1:2:8000::"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ip(c.address).masked(c.prefix).to_string(), c.expected)
        << c.address << "/" << c.prefix;
  }
  EXPECT_TRUE(ip("1.2.3.4").masked(0).is_v4());
}

TEST(IpAddress, PrivateOrLocal) {
  const std::pair<const char*, bool> cases[] = {
      {"10.0.0.1", true},
      {"10.255.255.255", true},
      {"11.0.0.1", false},
      {"172.16.0.1", true},
      {"172.31.255.255", true},
      {"172.32.0.1", false},
      {"172.15.255.255", false},
      {"192.168.1.1", true},
      {"192.169.0.1", false},
      {"127.0.0.1", true},
      {"169.254.1.1", true},
      {"100.64.0.1", true},
      {"100.127.255.255", true},
      {"100.128.0.1", false},
      {"100.63.255.255", false},
      {"0.0.0.0", true},
      {"8.8.8.8", false},
      {"198.51.100.7", false},
      {"::1", true},
      {"::", true},
      {"fd7a:115c:a1e0::1", true},
      {"fc00::1", true},
      {"fe80::1", true},
      {"febf::1", true},
      {"fec0::1", false},
      {"2001:db8::1", false},
      {"2a00:1450::1", false},
      {"::ffff:10.0.0.1", true},
      {"::ffff:8.8.8.8", false},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(ip(text).is_private_or_local(), expected) << text;
  }
}

struct CidrCase {
  const char* text;
  bool ok;
  const char* first;
  const char* last;
};

TEST(Cidr, ParsesRanges) {
  const CidrCase cases[] = {
      {"10.0.0.0/8", true, "10.0.0.0", "10.255.255.255"},
      {"192.168.1.0/24", true, "192.168.1.0", "192.168.1.255"},
      {"1.2.3.4", true, "1.2.3.4", "1.2.3.4"},
      {"1.2.3.4/32", true, "1.2.3.4", "1.2.3.4"},
      {"0.0.0.0/0", true, "0.0.0.0", "255.255.255.255"},
      {"::ffff:10.0.0.0/8", true, "10.0.0.0", "10.255.255.255"},
      {"fd7a:115c:a1e0::/48", true, "fd7a:115c:a1e0::", "fd7a:115c:a1e0:ffff:ffff:ffff:ffff:ffff"},
      {"::/0", true, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
      {"2001:db8::1", true, "2001:db8::1", "2001:db8::1"},
  };
  for (const auto& c : cases) {
    std::string why;
    const auto cidr = Cidr::parse(c.text, &why);
    ASSERT_TRUE(cidr.has_value()) << c.text << ": " << why;
    EXPECT_EQ(IpAddress::from_bits(cidr->first()).to_string(), c.first) << c.text;
    EXPECT_EQ(IpAddress::from_bits(cidr->last()).to_string(), c.last) << c.text;
  }
}

TEST(Cidr, RejectsHostBitsAndBadPrefixes) {
  const std::pair<const char*, const char*> cases[] = {
      {"10.0.0.1/8", "host bits set"},
      {"192.168.1.1/24", "host bits set"},
      {"2001:db8::1/64", "host bits set"},
      {"10.0.0.0/33", "bad prefix length"},
      {"2001:db8::/129", "bad prefix length"},
      {"10.0.0.0/", "bad prefix length"},
      {"10.0.0.0/-1", "bad prefix length"},
      {"10.0.0.0/8x", "bad prefix length"},
      {"10.0.0.0/ 8", "bad prefix length"},
      {"nonsense/8", "not an IP address"},
      {"", "not an IP address"},
  };
  for (const auto& [text, why_prefix] : cases) {
    std::string why;
    EXPECT_FALSE(Cidr::parse(text, &why).has_value()) << text;
    EXPECT_TRUE(why.starts_with(why_prefix)) << text << " gave '" << why << "'";
  }
}

TEST(Cidr, Contains) {
  const auto net = *Cidr::parse("100.64.0.0/10");
  EXPECT_TRUE(net.contains(ip("100.64.0.0")));
  EXPECT_TRUE(net.contains(ip("100.127.255.255")));
  EXPECT_TRUE(net.contains(ip("::ffff:100.100.1.1")));
  EXPECT_FALSE(net.contains(ip("100.128.0.0")));
  EXPECT_FALSE(net.contains(ip("100.63.255.255")));
  // 0.0.0.0/0 is every IPv4 address and no IPv6 one; ::/0 is everything.
  const auto any4 = *Cidr::parse("0.0.0.0/0");
  EXPECT_TRUE(any4.contains(ip("255.255.255.255")));
  EXPECT_FALSE(any4.contains(ip("2001:db8::1")));
  const auto any6 = *Cidr::parse("::/0");
  EXPECT_TRUE(any6.contains(ip("2001:db8::1")));
  EXPECT_TRUE(any6.contains(ip("1.2.3.4")));
}

}  // namespace
}  // namespace edgeguard
