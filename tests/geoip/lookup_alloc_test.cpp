// GeoDatabase::lookup runs on every request: it must not touch the heap. malloc is interposed
// for this whole executable (libmaxminddb and libstdc++'s operator new included) and counted
// around the lookups. Its own executable so the interposer affects no other test.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>

#include "guard/geoip/geo_database.h"
#include "guard/net/ip_address.h"

extern "C" void* __libc_malloc(std::size_t size);

namespace {
std::atomic<long> g_mallocs{0};
}

extern "C" void* malloc(std::size_t size) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}

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
  const long probe = g_mallocs.load();
  char* volatile keep = static_cast<char*>(std::malloc(1));
  std::free(keep);
  ASSERT_GT(g_mallocs.load(), probe) << "malloc interposer is not active";

  unsigned found = 0;
  const long before = g_mallocs.load();
  for (int round = 0; round < 100; ++round) {
    for (const IpAddress& ip : ips) {
      const GeoFacts facts = db->lookup(ip);
      found += facts.has_country() + facts.has_asn();
    }
  }
  const long after = g_mallocs.load();
  EXPECT_EQ(after - before, 0);
  EXPECT_EQ(found, 100u * 3u);  // US+209, JP, and nothing for the rest
}

}  // namespace
}  // namespace edgeguard
