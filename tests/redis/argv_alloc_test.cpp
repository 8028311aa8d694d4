// The EVALSHA argv is written for every Redis-mode decision that reaches the store, and on a
// route that bans it carries the ban section (subject, scope, escalation...). Requests are
// recycled with their argv, so once a command of a shape has been written the next costs no
// allocation, ban section included. malloc is interposed for this whole executable
// (tests/support/alloc_counter).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "guard/redis/gcra_call.h"
#include "tests/support/alloc_counter.h"

namespace edgeguard {
namespace {

TEST(GcraArgvAlloc, ARecycledArgvWithABanSectionDoesNotAllocate) {
  const GcraRate rates[] = {{10, 50, 5}, {7, 70, 10}};
  const BanKeys keys("edgeguard:");
  const Escalation escalation{2.5, 3'600'000'000'000, 86'400'000'000'000};
  // Subjects and scopes longer than a string's inline capacity: a fresh string would allocate.
  const BanOrder first{"ip:2001:db8:85a3::8a2e:370:7334",
                       "authentik-login-flow",
                       "per-ip",
                       600'000'000'000,
                       &escalation,
                       BanSource::limit};
  const BanOrder second{"ip:2001:db8:85a3::8a2e:370:9999",
                        "authentik-login-flow",
                        "per-ip-slow",
                        3'600'000'000'000,
                        &escalation,
                        BanSource::limit};
  const std::string_view buckets[] = {
      "authentik-login-flow\x1fper-ip\x1f"
      "2001:db8:85a3::/64",
      "authentik-login-flow\x1fper-ip-slow\x1f"
      "2001:db8:85a3::/64"};
  GcraBanSection bans{&keys, 100'000, {}};
  bans.orders.reserve(2);
  std::vector<std::string> argv;

  bans.orders.assign({{0, &first}, {1, &second}});
  const std::size_t argc =
      gcra_evalsha_argv(argv, "edgeguard:", buckets, rates, GcraScriptMode::charge, &bans);
  const std::vector<std::string> written = argv;

  const std::uint64_t probe = thread_allocations();
  char* volatile keep = static_cast<char*>(std::malloc(1));
  std::free(keep);
  ASSERT_GT(thread_allocations(), probe) << "malloc interposer is not active";

  std::size_t n = 0;
  const std::uint64_t before = thread_allocations();
  for (int round = 0; round < 100; ++round) {
    // One order fewer, then no ban section at all, and back, as requests for other routes
    // would recycle it: the argv is never shrunk, so it grows again within what it holds.
    bans.orders.assign({{1, &second}});
    n += gcra_evalsha_argv(argv, "edgeguard:", buckets, rates, GcraScriptMode::charge, &bans);
    n += gcra_evalsha_argv(argv, "edgeguard:", buckets, rates, GcraScriptMode::dry_run, nullptr);
    bans.orders.assign({{0, &first}, {1, &second}});
    n += gcra_evalsha_argv(argv, "edgeguard:", buckets, rates, GcraScriptMode::charge, &bans);
  }
  EXPECT_EQ(thread_allocations() - before, 0u);
  // One order fewer: 6 arguments fewer. No section: its 6 + 2 x 6, and the bans' index key.
  EXPECT_EQ(argc, 29u);
  EXPECT_EQ(n, 100u * ((argc - 6) + (argc - 6 - 12 - 1) + argc));
  EXPECT_EQ(argv, written);  // and the last command is what the first one wrote
}

}  // namespace
}  // namespace edgeguard
