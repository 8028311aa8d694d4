// Databases built by tests/support/mmdb_writer: the record shapes and tree layouts edgeguard meets
// outside MaxMind's own files (ip-location-db's `country_code`, IPv4-only trees, IPv6 trees
// without the ::ffff:0:0/96 alias), and the errors an operator sees.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <maxminddb.h>

#include <fstream>
#include <string>

#include "guard/geoip/geo_database.h"
#include "guard/net/ip_address.h"
#include "tests/geoip/temp_dir.h"
#include "tests/support/mmdb_writer.h"

namespace edgeguard {
namespace {

using testing::asn_record;
using testing::ip_location_country;
using testing::maxmind_country;
using testing::MmdbValue;
using testing::MmdbWriter;
using testing::TempDir;

GeoFacts look(const GeoDatabase& db, const char* text) {
  const auto ip = IpAddress::parse(text);
  EXPECT_TRUE(ip.has_value()) << text;
  return ip ? db.lookup(*ip) : GeoFacts{};
}

std::shared_ptr<const GeoDatabase> open_or_fail(const GeoIpConfig& config) {
  std::string error;
  auto db = GeoDatabase::open(config, &error);
  EXPECT_NE(db, nullptr) << error;
  return db;
}

// ip-location-db's combined file: IPv6 tree, IPv4 under ::/96, no ::ffff:0:0/96 alias.
MmdbWriter ip_location_v6() {
  MmdbWriter w(6, "country ipvAll");
  EXPECT_TRUE(w.insert("8.8.8.0/24", ip_location_country("US")));
  EXPECT_TRUE(w.insert("81.2.69.0/24", ip_location_country("GB")));
  EXPECT_TRUE(w.insert("2001:4860::/32", ip_location_country("US")));
  EXPECT_TRUE(w.insert("2a02:d500::/29", ip_location_country("it")));  // lower case in the data
  return w;
}

TEST(GeoDetection, IpLocationDbShapeIsDetectedAndAnswers) {
  TempDir dir;
  ASSERT_TRUE(ip_location_v6().write_file(dir.file("country.mmdb")));
  auto db = open_or_fail({dir.file("country.mmdb"), "", ""});
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->country_field(), "country_code");
  EXPECT_STREQ(look(*db, "8.8.8.8").country, "US");
  EXPECT_STREQ(look(*db, "81.2.69.160").country, "GB");
  EXPECT_STREQ(look(*db, "2001:4860::8888").country, "US");
  EXPECT_STREQ(look(*db, "2a02:d500::1").country, "IT");
  EXPECT_FALSE(look(*db, "9.9.9.9").has_country());
}

TEST(GeoDetection, MappedIpv4IsUnmappedBeforeLookupInATreeWithoutAlias) {
  TempDir dir;
  ASSERT_TRUE(ip_location_v6().write_file(dir.file("country.mmdb")));

  // The premise: looked up as IPv6, ::ffff:8.8.8.8 is not in this tree.
  MMDB_s raw{};
  ASSERT_EQ(MMDB_open(dir.file("country.mmdb").c_str(), MMDB_MODE_MMAP, &raw), MMDB_SUCCESS);
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:8.8.8.8", &mapped.sin6_addr), 1);
  int err = MMDB_SUCCESS;
  const MMDB_lookup_result_s raw_result =
      MMDB_lookup_sockaddr(&raw, reinterpret_cast<const sockaddr*>(&mapped), &err);
  EXPECT_EQ(err, MMDB_SUCCESS);
  EXPECT_FALSE(raw_result.found_entry);
  MMDB_close(&raw);

  auto db = open_or_fail({dir.file("country.mmdb"), "", ""});
  ASSERT_NE(db, nullptr);
  EXPECT_STREQ(look(*db, "::ffff:8.8.8.8").country, "US");
  EXPECT_STREQ(look(*db, "::FFFF:81.2.69.160").country, "GB");
}

TEST(GeoDetection, Ipv4OnlyTreeAnswersIpv4AndIgnoresIpv6) {
  TempDir dir;
  MmdbWriter w(4, "country ipv4");
  ASSERT_TRUE(w.insert("8.8.8.0/24", ip_location_country("US")));
  ASSERT_TRUE(w.insert("1.0.0.0/8", ip_location_country("AU")));
  ASSERT_FALSE(w.insert("2001:db8::/32", ip_location_country("XX")));  // no IPv6 in a v4 tree
  ASSERT_TRUE(w.write_file(dir.file("v4.mmdb")));
  auto db = open_or_fail({dir.file("v4.mmdb"), "", ""});
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->country_field(), "country_code");
  EXPECT_STREQ(look(*db, "8.8.8.8").country, "US");
  EXPECT_STREQ(look(*db, "::ffff:1.2.3.4").country, "AU");
  EXPECT_FALSE(look(*db, "9.9.9.9").has_country());
  EXPECT_FALSE(look(*db, "2001:4860::1").has_country());
}

TEST(GeoDetection, MaxMindShapeIsDetectedByItsRecordsNotItsName) {
  TempDir dir;
  MmdbWriter w(6, "my-own-country-db");  // a name that says nothing about the shape
  // The first records the probe meets carry no country (as in real MaxMind files).
  ASSERT_TRUE(w.insert(
      "1.0.0.0/8",
      MmdbValue::map({{"continent", MmdbValue::map({{"code", MmdbValue::string("OC")}})}})));
  ASSERT_TRUE(w.insert("8.8.8.0/24", maxmind_country("US")));
  ASSERT_TRUE(w.insert("2001:218::/32", maxmind_country("JP")));
  ASSERT_TRUE(w.write_file(dir.file("mm.mmdb")));
  auto db = open_or_fail({dir.file("mm.mmdb"), "", ""});
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->country_field(), "country.iso_code");
  EXPECT_STREQ(look(*db, "8.8.8.8").country, "US");
  EXPECT_STREQ(look(*db, "2001:218::1").country, "JP");
  EXPECT_FALSE(look(*db, "1.2.3.4").has_country());
}

TEST(GeoDetection, ConfiguredCountryFieldOverridesDetection) {
  TempDir dir;
  MmdbWriter w(6, "GeoIP2-Country");
  ASSERT_TRUE(w.insert(
      "81.2.69.0/24",
      MmdbValue::map(
          {{"country", MmdbValue::map({{"iso_code", MmdbValue::string("GB")}})},
           {"registered_country", MmdbValue::map({{"iso_code", MmdbValue::string("US")}})}})));
  ASSERT_TRUE(w.write_file(dir.file("c.mmdb")));
  auto detected = open_or_fail({dir.file("c.mmdb"), "", ""});
  auto registered = open_or_fail({dir.file("c.mmdb"), "", "registered_country.iso_code"});
  ASSERT_TRUE(detected && registered);
  EXPECT_STREQ(look(*detected, "81.2.69.160").country, "GB");
  EXPECT_EQ(registered->country_field(), "registered_country.iso_code");
  EXPECT_STREQ(look(*registered, "81.2.69.160").country, "US");

  std::string error;
  EXPECT_EQ(GeoDatabase::open({dir.file("c.mmdb"), "", "country..iso_code"}, &error), nullptr);
  EXPECT_NE(error.find("country_field"), std::string::npos) << error;
}

TEST(GeoDetection, AsnRecordsCombineWithAnyCountryShape) {
  TempDir dir;
  ASSERT_TRUE(ip_location_v6().write_file(dir.file("country.mmdb")));
  MmdbWriter asn(6, "GeoLite2-ASN");
  ASSERT_TRUE(asn.insert("8.8.8.0/24", asn_record(15169, "GOOGLE")));
  ASSERT_TRUE(asn.insert("2001:4860::/32", asn_record(15169, "GOOGLE")));
  ASSERT_TRUE(asn.insert("64.0.0.0/8",
                         MmdbValue::map({{"autonomous_system_number", MmdbValue::uint64(64496)}})));
  ASSERT_TRUE(asn.write_file(dir.file("asn.mmdb")));
  auto db = open_or_fail({dir.file("country.mmdb"), dir.file("asn.mmdb"), ""});
  ASSERT_NE(db, nullptr);
  const GeoFacts v4 = look(*db, "8.8.8.8");
  EXPECT_STREQ(v4.country, "US");
  EXPECT_EQ(v4.asn, 15169u);
  EXPECT_EQ(look(*db, "::ffff:8.8.8.4").asn, 15169u);
  EXPECT_EQ(look(*db, "2001:4860::1").asn, 15169u);
  EXPECT_EQ(look(*db, "64.1.2.3").asn, 64496u);  // stored as uint64 by some writers
  EXPECT_EQ(look(*db, "81.2.69.160").asn, 0u);
}

TEST(GeoDetection, PrivateLoopbackLinkLocalAndTailnetAreNeverLookedUp) {
  TempDir dir;
  MmdbWriter w(6, "country ipvAll");
  // Every address in the database has a country, private ones included.
  ASSERT_TRUE(w.insert("::/1", ip_location_country("ZZ")));
  ASSERT_TRUE(w.insert("8000::/1", ip_location_country("ZZ")));
  ASSERT_TRUE(w.write_file(dir.file("all.mmdb")));
  MmdbWriter a(6, "GeoLite2-ASN");
  ASSERT_TRUE(a.insert("::/1", asn_record(64496, "EVERYTHING")));
  ASSERT_TRUE(a.insert("8000::/1", asn_record(64496, "EVERYTHING")));
  ASSERT_TRUE(a.write_file(dir.file("asn.mmdb")));
  auto db = open_or_fail({dir.file("all.mmdb"), dir.file("asn.mmdb"), ""});
  ASSERT_NE(db, nullptr);
  EXPECT_STREQ(look(*db, "8.8.8.8").country, "ZZ");  // the database does answer
  EXPECT_STREQ(look(*db, "2001:db8::1").country, "ZZ");
  for (const char* ip :
       {"10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.1.1", "100.64.0.1",
        "100.127.255.254", "::ffff:10.1.2.3", "::1", "fd7a:115c:a1e0::1", "fc00::1", "fe80::1"}) {
    const GeoFacts facts = look(*db, ip);
    EXPECT_FALSE(facts.has_country()) << ip;
    EXPECT_FALSE(facts.has_asn()) << ip;
  }
}

TEST(GeoDetection, BuildEpochIsTheOlderOfCountryAndAsn) {
  TempDir dir;
  MmdbWriter c = ip_location_v6();
  c.set_build_epoch(1'750'000'000);
  MmdbWriter a(6, "GeoLite2-ASN");
  ASSERT_TRUE(a.insert("8.8.8.0/24", asn_record(15169, "GOOGLE")));
  a.set_build_epoch(1'740'000'000);
  ASSERT_TRUE(c.write_file(dir.file("c.mmdb")));
  ASSERT_TRUE(a.write_file(dir.file("a.mmdb")));
  auto db = open_or_fail({dir.file("c.mmdb"), dir.file("a.mmdb"), ""});
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->build_epoch(), 1'740'000'000);
}

TEST(GeoErrors, MissingFileNamesTheFileAndTheReason) {
  TempDir dir;
  std::string error;
  EXPECT_EQ(GeoDatabase::open({dir.file("absent.mmdb"), "", ""}, &error), nullptr);
  EXPECT_NE(error.find("geoip.country_db"), std::string::npos) << error;
  EXPECT_NE(error.find(dir.file("absent.mmdb")), std::string::npos) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;

  ASSERT_TRUE(ip_location_v6().write_file(dir.file("c.mmdb")));
  error.clear();
  EXPECT_EQ(GeoDatabase::open({dir.file("c.mmdb"), dir.file("absent-asn.mmdb"), ""}, &error),
            nullptr);
  EXPECT_NE(error.find("geoip.asn_db"), std::string::npos) << error;
  EXPECT_NE(error.find("absent-asn.mmdb"), std::string::npos) << error;
}

TEST(GeoErrors, GarbageFileIsRefused) {
  TempDir dir;
  {
    std::ofstream f(dir.file("garbage.mmdb"), std::ios::binary);
    f << "this is not a MaxMind database, just text that a failed download left behind\n";
  }
  std::string error;
  EXPECT_EQ(GeoDatabase::open({dir.file("garbage.mmdb"), "", ""}, &error), nullptr);
  EXPECT_NE(error.find(dir.file("garbage.mmdb")), std::string::npos) << error;
  EXPECT_NE(error.find("metadata"), std::string::npos) << error;
}

TEST(GeoErrors, CountryDatabaseWithoutAnyCountryFieldAsksForCountryField) {
  TempDir dir;
  MmdbWriter w(6, "some-asn-db");
  ASSERT_TRUE(w.insert("8.8.8.0/24", asn_record(15169, "GOOGLE")));
  ASSERT_TRUE(w.write_file(dir.file("asn-as-country.mmdb")));
  std::string error;
  EXPECT_EQ(GeoDatabase::open({dir.file("asn-as-country.mmdb"), "", ""}, &error), nullptr);
  EXPECT_NE(error.find("asn-as-country.mmdb"), std::string::npos) << error;
  EXPECT_NE(error.find("country_field"), std::string::npos) << error;
}

}  // namespace
}  // namespace edgeguard
