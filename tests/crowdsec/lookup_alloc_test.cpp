// DecisionSet::find runs on every request: it must not touch the heap. malloc is interposed for
// this whole executable and counted around the lookups. Its own executable so the interposer
// affects no other test.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <string>

#include "guard/crowdsec/decision_set.h"

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

TEST(CrowdsecLookup, DoesNotAllocate) {
  std::string body = R"({"new":[)";
  for (int i = 0; i < 1000; ++i) {
    body += R"({"id":)" + std::to_string(i + 1) + R"(,"scope":"Ip","value":"10.0.)" +
            std::to_string(i / 256) + "." + std::to_string(i % 256) +
            R"(","type":"ban","duration":"1h","scenario":"s","origin":"o"},)";
  }
  body += R"({"id":5000,"scope":"Range","value":"192.0.2.0/24","type":"captcha","duration":"1h"},)"
          R"({"id":5001,"scope":"Range","value":"2001:db8::/32","type":"ban","duration":"1h"},)"
          R"({"id":5002,"scope":"Country","value":"KP","type":"ban","duration":"1h"},)"
          R"({"id":5003,"scope":"AS","value":"64496","type":"ban","duration":"1h"}]})";
  StreamUpdate update;
  std::string error;
  const ScopeMask all = scope_bit(DecisionScope::ip) | scope_bit(DecisionScope::range) |
                        scope_bit(DecisionScope::country) | scope_bit(DecisionScope::as);
  ASSERT_TRUE(parse_decision_stream(body, all, update, &error)) << error;
  const DecisionSet empty;
  const auto set = DecisionSet::apply(empty, update, true, 0);
  const IpAddress ips[] = {*IpAddress::parse("10.0.1.7"), *IpAddress::parse("10.9.9.9"),
                           *IpAddress::parse("192.0.2.55"), *IpAddress::parse("2001:db8::1"),
                           *IpAddress::parse("2a02::1")};

  const long probe = g_mallocs.load();
  char* volatile keep = static_cast<char*>(std::malloc(1));
  std::free(keep);
  ASSERT_GT(g_mallocs.load(), probe) << "malloc interposer is not active";

  unsigned found = 0;
  const long before = g_mallocs.load();
  for (int round = 0; round < 100; ++round) {
    for (const IpAddress& ip : ips) {
      found += set->find(ip, "kp", 64496, 1'000) != nullptr;
      found += set->find(ip, "", 0, 1'000) != nullptr;
    }
  }
  const long after = g_mallocs.load();
  EXPECT_EQ(after - before, 0);
  EXPECT_EQ(found, 100u * (5 + 3));  // country/AS match everyone; alone: 10.0.1.7 and 2 ranges
}

}  // namespace
}  // namespace edgeguard
