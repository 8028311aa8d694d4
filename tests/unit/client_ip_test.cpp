#include "guard/request/client_ip.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edgeguard {
namespace {

CidrSet set_of(std::initializer_list<const char*> texts) {
  std::vector<Cidr> list;
  for (const char* t : texts) list.push_back(*Cidr::parse(t));
  return CidrSet(list);
}

struct Case {
  const char* xff;
  int depth;
  const char* expected;  // canonical address, or nullptr for an error
  ClientIpError error = ClientIpError::none;
};

TEST(ClientIp, DepthCountsFromTheRight) {
  const Case cases[] = {
      {"198.51.100.7", 1, "198.51.100.7"},
      {"spoofed, 198.51.100.7", 1, "198.51.100.7"},
      {"1.1.1.1, 2.2.2.2, 198.51.100.7", 1, "198.51.100.7"},
      {"1.1.1.1, 2.2.2.2, 198.51.100.7", 2, "2.2.2.2"},
      {"1.1.1.1, 2.2.2.2, 198.51.100.7", 3, "1.1.1.1"},
      {"1.1.1.1, 2.2.2.2, 198.51.100.7", 4, nullptr, ClientIpError::too_few_entries},
      {"198.51.100.7", 2, nullptr, ClientIpError::too_few_entries},
      {"   203.0.113.9   ,    198.51.100.7   ", 2, "203.0.113.9"},
      {"\t203.0.113.9,\t198.51.100.7\t", 1, "198.51.100.7"},
      {"203.0.113.9,198.51.100.7", 2, "203.0.113.9"},
      {"198.51.100.7:52311", 1, "198.51.100.7"},
      {"[2001:db8::7]:443", 1, "2001:db8::7"},
      {"[2001:db8::7]", 1, "2001:db8::7"},
      {"2001:db8::7", 1, "2001:db8::7"},
      {"2001:DB8:0::7", 1, "2001:db8::7"},
      {"::ffff:198.51.100.7", 1, "198.51.100.7"},
      {"[::ffff:198.51.100.7]:8080", 1, "198.51.100.7"},
      {"garbage, 198.51.100.7", 1, "198.51.100.7"},  // never looked at
      {"garbage, 198.51.100.7", 2, nullptr, ClientIpError::unparseable},
      {"198.51.100.7, garbage", 1, nullptr, ClientIpError::unparseable},
      {"1.2.3.4, , 5.6.7.8", 2, nullptr, ClientIpError::unparseable},
      {"", 1, nullptr, ClientIpError::missing},
      {"   ", 1, nullptr, ClientIpError::missing},
      {"198.51.100.7,", 1, nullptr, ClientIpError::unparseable},
      {"unknown", 1, nullptr, ClientIpError::unparseable},
      {"[2001:db8::7", 1, nullptr, ClientIpError::unparseable},
      {"[2001:db8::7]x", 1, nullptr, ClientIpError::unparseable},
      {"198.51.100.7/32", 1, nullptr, ClientIpError::unparseable},
      {"198.51.100.256", 1, nullptr, ClientIpError::unparseable},
      {"fe80::1%eth0", 1, nullptr, ClientIpError::unparseable},
  };
  for (const auto& c : cases) {
    const auto r = resolve_client_ip(c.xff, ClientIpStrategy{c.depth, nullptr});
    if (c.expected != nullptr) {
      EXPECT_EQ(r.error, ClientIpError::none) << "'" << c.xff << "' depth " << c.depth;
      EXPECT_EQ(r.ip.to_string(), c.expected) << "'" << c.xff << "' depth " << c.depth;
    } else {
      EXPECT_EQ(r.error, c.error) << "'" << c.xff << "' depth " << c.depth << " gave "
                                  << r.ip.to_string();
    }
  }
}

TEST(ClientIp, SpoofedLeftEntriesNeverChangeTheResult) {
  const char* spoofs[] = {"",
                          "1.2.3.4, ",
                          "127.0.0.1, ",
                          "10.0.0.1, 192.168.1.1, ",
                          "garbage, ",
                          "[::1]:80, ",
                          "::ffff:8.8.8.8, ",
                          ", , , ",
                          "203.0.113.1,203.0.113.2,203.0.113.3,203.0.113.4, "};
  const CidrSet proxies = set_of({"10.0.0.0/8", "172.16.0.0/12"});
  for (const char* spoof : spoofs) {
    // depth 2: the CDN's entry and the peer are what count; anything left of them is noise.
    const std::string xff = std::string(spoof) + "198.51.100.7, 10.1.2.3";
    const auto d1 = resolve_client_ip(xff, {1, nullptr});
    EXPECT_EQ(d1.ip.to_string(), "10.1.2.3") << xff;
    const auto d2 = resolve_client_ip(xff, {2, nullptr});
    EXPECT_EQ(d2.ip.to_string(), "198.51.100.7") << xff;
    const auto hops = resolve_client_ip(xff, {1, &proxies});
    EXPECT_EQ(hops.error, ClientIpError::none) << xff;
    EXPECT_EQ(hops.ip.to_string(), "198.51.100.7") << xff;
  }
}

TEST(ClientIp, TrustedHopsSkipFromTheRight) {
  const CidrSet proxies = set_of({"10.0.0.0/8", "2001:db8:ffff::/48"});
  const Case cases[] = {
      {"198.51.100.7", 0, "198.51.100.7"},
      {"198.51.100.7, 10.0.0.1", 0, "198.51.100.7"},
      {"203.0.113.5, 198.51.100.7, 10.0.0.2, 10.0.0.1", 0, "198.51.100.7"},
      {"10.9.9.9, 198.51.100.7, 10.0.0.1", 0, "198.51.100.7"},  // a trusted entry left of the
                                                                // client is not reached
      {"2001:db8::1, [2001:db8:ffff::1]:443", 0, "2001:db8::1"},
      {"::ffff:198.51.100.7, ::ffff:10.0.0.1", 0, "198.51.100.7"},
      {"10.0.0.3, 10.0.0.2, 10.0.0.1", 0, nullptr, ClientIpError::all_trusted},
      {"garbage, 10.0.0.1", 0, nullptr, ClientIpError::unparseable},
      {"garbage, 198.51.100.7, 10.0.0.1", 0, "198.51.100.7"},
      {"", 0, nullptr, ClientIpError::missing},
  };
  for (const auto& c : cases) {
    const auto r = resolve_client_ip(c.xff, ClientIpStrategy{1, &proxies});
    if (c.expected != nullptr) {
      EXPECT_EQ(r.error, ClientIpError::none) << c.xff;
      EXPECT_EQ(r.ip.to_string(), c.expected) << c.xff;
    } else {
      EXPECT_EQ(r.error, c.error) << c.xff;
    }
  }
}

TEST(ClientIp, ParseForwardedEntry) {
  const std::pair<const char*, const char*> cases[] = {
      {"198.51.100.7", "198.51.100.7"},
      {" 198.51.100.7 ", "198.51.100.7"},
      {"198.51.100.7:1", "198.51.100.7"},
      {"[2001:db8::1]:1", "2001:db8::1"},
      {"::ffff:1.2.3.4", "1.2.3.4"},
      {"[::ffff:1.2.3.4]", "1.2.3.4"},
      {"::1", "::1"},
  };
  for (const auto& [in, out] : cases) {
    const auto ip = parse_forwarded_entry(in);
    ASSERT_TRUE(ip.has_value()) << in;
    EXPECT_EQ(ip->to_string(), out) << in;
  }
  for (const char* bad :
       {"", " ", "[]", "[1.2.3.4", "1.2.3.4]", "host.example", "1.2.3.4:80:80x"}) {
    EXPECT_FALSE(parse_forwarded_entry(bad).has_value()) << bad;
  }
}

TEST(ClientIp, ErrorsAreDescribed) {
  for (auto e : {ClientIpError::missing, ClientIpError::too_few_entries, ClientIpError::all_trusted,
                 ClientIpError::unparseable}) {
    EXPECT_STRNE(describe(e), "ok");
  }
}

}  // namespace
}  // namespace edgeguard
