// DecisionSet::find runs on every request: it must not touch the heap. malloc is interposed for
// this whole executable (tests/support/alloc_counter) and counted around the lookups.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "guard/crowdsec/decision_set.h"
#include "tests/support/alloc_counter.h"

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

  const std::uint64_t probe = thread_allocations();
  char* volatile keep = static_cast<char*>(std::malloc(1));
  std::free(keep);
  ASSERT_GT(thread_allocations(), probe) << "malloc interposer is not active";

  unsigned found = 0;
  const std::uint64_t before = thread_allocations();
  for (int round = 0; round < 100; ++round) {
    for (const IpAddress& ip : ips) {
      found += set->find(ip, "kp", 64496, 1'000) != nullptr;
      found += set->find(ip, "", 0, 1'000) != nullptr;
    }
  }
  EXPECT_EQ(thread_allocations() - before, 0u);
  EXPECT_EQ(found, 100u * (5 + 3));  // country/AS match everyone; alone: 10.0.1.7 and 2 ranges
}

}  // namespace
}  // namespace edgeguard
