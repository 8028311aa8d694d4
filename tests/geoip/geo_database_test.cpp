// Lookups against MaxMind's published test databases (tests/data/maxmind), checked against the
// table in tests/data/maxmind/README.md.
#include <gtest/gtest.h>

#include <string>

#include "guard/geoip/geo_database.h"
#include "guard/net/ip_address.h"

namespace edgeguard {
namespace {

const std::string kDir = std::string(EDGEGUARD_TEST_DATA) + "/maxmind/";

std::shared_ptr<const GeoDatabase> open_or_fail(const GeoIpConfig& config) {
  std::string error;
  auto db = GeoDatabase::open(config, &error);
  EXPECT_NE(db, nullptr) << error;
  return db;
}

GeoFacts look(const GeoDatabase& db, const char* text) {
  const auto ip = IpAddress::parse(text);
  EXPECT_TRUE(ip.has_value()) << text;
  return ip ? db.lookup(*ip) : GeoFacts{};
}

struct Case {
  const char* ip;
  const char* country;  // "" = no country
  std::uint32_t asn;    // 0 = none
};

TEST(MaxMindFixtures, CountryAndAsnMatchTheReadmeTable) {
  auto db = open_or_fail({kDir + "GeoIP2-Country-Test.mmdb", kDir + "GeoLite2-ASN-Test.mmdb", ""});
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->country_field(), "country.iso_code");
  const Case cases[] = {
      {"2.125.160.216", "GB", 0},
      {"81.2.69.160", "GB", 0},
      {"216.160.83.56", "US", 209},
      {"89.160.20.112", "SE", 29518},
      {"2001:218::", "JP", 0},
      {"67.43.156.0", "BT", 35908},
      {"202.196.224.0", "PH", 0},
      {"175.16.199.0", "CN", 0},
      {"2a02:d500::1", "", 0},          // a record with a continent but no country
      {"::ffff:81.2.69.160", "GB", 0},  // mapped form answers like the plain one
      {"1.1.1.1", "", 0},
      {"8.8.8.8", "", 0},
      {"1.0.0.1", "", 15169},
      {"12.81.92.1", "", 7018},
  };
  for (const Case& c : cases) {
    const GeoFacts facts = look(*db, c.ip);
    EXPECT_EQ(std::string(facts.country), c.country) << c.ip;
    EXPECT_EQ(facts.has_country(), c.country[0] != 0) << c.ip;
    EXPECT_EQ(facts.asn, c.asn) << c.ip;
  }
}

TEST(MaxMindFixtures, GeoLiteCountryLacksTheGeoIp2OnlyRecord) {
  auto db = open_or_fail({kDir + "GeoLite2-Country-Test.mmdb", "", ""});
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->country_field(), "country.iso_code");
  EXPECT_STREQ(look(*db, "81.2.69.160").country, "GB");
  EXPECT_STREQ(look(*db, "216.160.83.56").country, "US");
  EXPECT_FALSE(look(*db, "175.16.199.0").has_country());
}

TEST(MaxMindFixtures, PrivateAndTailnetAddressesGetNoFacts) {
  auto db = open_or_fail({kDir + "GeoIP2-Country-Test.mmdb", kDir + "GeoLite2-ASN-Test.mmdb", ""});
  ASSERT_NE(db, nullptr);
  for (const char* ip : {"10.0.0.1", "127.0.0.1", "100.64.0.1", "fd7a:115c:a1e0::1", "::1"}) {
    const GeoFacts facts = look(*db, ip);
    EXPECT_FALSE(facts.has_country()) << ip;
    EXPECT_FALSE(facts.has_asn()) << ip;
  }
}

TEST(MaxMindFixtures, EitherDatabaseIsOptional) {
  auto country_only = open_or_fail({kDir + "GeoIP2-Country-Test.mmdb", "", ""});
  auto asn_only = open_or_fail({"", kDir + "GeoLite2-ASN-Test.mmdb", ""});
  auto none = open_or_fail({"", "", ""});
  ASSERT_TRUE(country_only && asn_only && none);
  EXPECT_TRUE(country_only->has_country_db());
  EXPECT_FALSE(country_only->has_asn_db());
  EXPECT_STREQ(look(*country_only, "216.160.83.56").country, "US");
  EXPECT_EQ(look(*country_only, "216.160.83.56").asn, 0u);
  EXPECT_FALSE(look(*asn_only, "216.160.83.56").has_country());
  EXPECT_EQ(look(*asn_only, "216.160.83.56").asn, 209u);
  EXPECT_FALSE(look(*none, "216.160.83.56").has_country());
  EXPECT_EQ(none->build_epoch(), 0);
}

TEST(MaxMindFixtures, BuildEpochIsTheOldestOfTheOpenedDatabases) {
  auto country = open_or_fail({kDir + "GeoIP2-Country-Test.mmdb", "", ""});
  auto asn = open_or_fail({"", kDir + "GeoLite2-ASN-Test.mmdb", ""});
  auto both =
      open_or_fail({kDir + "GeoIP2-Country-Test.mmdb", kDir + "GeoLite2-ASN-Test.mmdb", ""});
  ASSERT_TRUE(country && asn && both);
  EXPECT_GT(country->build_epoch(), 1'300'000'000);  // after 2011: a real epoch, not garbage
  EXPECT_GT(asn->build_epoch(), 1'300'000'000);
  EXPECT_EQ(both->build_epoch(), std::min(country->build_epoch(), asn->build_epoch()));
}

}  // namespace
}  // namespace edgeguard
