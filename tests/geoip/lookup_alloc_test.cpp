// GeoDatabase::lookup runs on every request: it must not touch the heap. malloc is interposed
// for this whole executable (tests/support/alloc_counter; libmaxminddb and libstdc++'s operator
// new included) and counted around the lookups.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>

#include "guard/geoip/geo_database.h"
#include "guard/net/ip_address.h"
#include "tests/support/alloc_counter.h"

namespace edgeguard {
namespace {

const std::string kDir = std::string(EDGEGUARD_TEST_DATA) + "/maxmind/";

TEST(GeoLookup, DoesNotAllocate) {
  std::string error;
  auto db = GeoDatabase::open(
      {kDir + "GeoIP2-Country-Test.mmdb", kDir + "GeoLite2-ASN-Test.mmdb", ""}, &error);
  ASSERT_NE(db, nullptr) << error;
  const IpAddress ips[] = {*IpAddress::parse("216.160.83.56"), *IpAddress::parse("2001:218::"),
                           *IpAddress::parse("1.1.1.1"), *IpAddress::parse("10.0.0.1"),
                           *IpAddress::parse("2a02:d500::1")};
  const std::uint64_t probe = thread_allocations();
  char* volatile keep = static_cast<char*>(std::malloc(1));
  std::free(keep);
  ASSERT_GT(thread_allocations(), probe) << "malloc interposer is not active";

  unsigned found = 0;
  const std::uint64_t before = thread_allocations();
  for (int round = 0; round < 100; ++round) {
    for (const IpAddress& ip : ips) {
      const GeoFacts facts = db->lookup(ip);
      found += facts.has_country() + facts.has_asn();
    }
  }
  EXPECT_EQ(thread_allocations() - before, 0u);
  EXPECT_EQ(found, 100u * 3u);  // US+209, JP, and nothing for the rest
}

}  // namespace
}  // namespace edgeguard
