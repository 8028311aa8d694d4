// A flood of distinct offenders (10 x max_active in ctest, the 10 M by hand) through
// local-mode bans, the way the local store makes them (LocalLimitStore hands the denying call's
// BanOrder to LocalBans::make): the ban table holds at most bans.max_active, the offence log at
// most its bound of subjects, the memory both hold stays within a stated number of bytes per
// max_active, the newest offender is banned (the bans nearest their end gave way) and a ban check
// still reads a few dozen index slots, not the whole index.
//
// The figure in bench/README.md comes from this test's `bans:` line; EDGEGUARD_BAN_OFFENDERS
// and EDGEGUARD_BAN_MAX_ACTIVE run it with the 10 M offenders and at another bound.
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "guard/bans/local_bans.h"
#include "guard/policy/restart_settings.h"
#include "tests/support/sanitizers.h"

namespace edgeguard {
namespace {

// Sanitizer builds keep freed memory in quarantine and add shadow memory, so neither RSS nor
// the allocator's figures say anything about the table there; they run a fifth of the flood and
// skip the memory bound.
constexpr bool kMeasureMemory = !testing::kSanitized;
// A ctest run: 10 x max_active, enough for the table to give way 36 times and the offence log
// to fill and forget 6 times; each offender costs ~6 us of CPU here (the records are nodes,
// each give-way scan a walk over them), so the 10 M offenders (~60 s, minutes on a
// loaded machine) run by hand: EDGEGUARD_BAN_OFFENDERS=10000000 (bench/README.md).
constexpr std::size_t kDefaultOffenders = testing::kSanitized ? 200'000 : 1'000'000;

// The stated bound: bytes per max_active for the table (index slots and records) and the
// offence log (4 x max_active subjects) together. Measured: ~540 (bench/README.md).
constexpr std::size_t kBytesPerBan = 640;
constexpr std::size_t kSlack = 4u << 20;  // allocator arenas, the test's own few allocations

// One new offender per microsecond of the table's clock: over 10 M offenders that is 10 s, so
// every ban (15 min) is still in force at the end and every offence (memory 7 days) still
// remembered. The table is full of active bans and the log full of live offences the whole
// time: the worst case, where only giving way keeps them bounded.
constexpr std::int64_t kStepNs = 1'000;
constexpr std::int64_t kStartNs = 1'000'000'000;
constexpr std::int64_t kBanNs = 15 * 60'000'000'000LL;

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// What the allocator has handed out and not had back (small chunks and mmapped blocks).
std::size_t heap_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

std::size_t from_env(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::stoul(v) : fallback;
}

// Offender i's subject, as the request path writes it for a limit keyed on the client address:
// 11.0.0.0 upwards, 10 M distinct IPv4 addresses.
std::string_view offender(std::size_t i, char* buf) {
  const IpAddress ip = IpAddress::from_v4(static_cast<std::uint32_t>(0x0B000000u + i));
  return {buf, format_ip_subject(ip, 64, buf)};
}

TEST(BanMemoryBound, AFloodOfOffendersStaysWithinMaxActiveAndTheNewestIsBanned) {
  // The default bound (100 000) unless the figure's command asks for another.
  const std::size_t bound = from_env("EDGEGUARD_BAN_MAX_ACTIVE", RestartSettings{}.bans_max_active);
  const std::size_t offenders = from_env("EDGEGUARD_BAN_OFFENDERS", kDefaultOffenders);
  const Escalation escalation;  // the defaults: memory 7 days
  char buf[kMaxIpSubject];

  const std::size_t rss_before = rss_bytes();
  const std::size_t heap_before = heap_bytes();
  auto table = std::make_unique<BanTable>(bound);
  auto bans = std::make_unique<LocalBans>(*table, nullptr);
  const std::size_t offence_bound = 4 * bound;  // LocalBans' log: 4 x the table's bound

  std::size_t made = 0, refused = 0, most_active = 0, most_offences = 0;
  std::int64_t now = kStartNs;
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < offenders; ++i) {
    now = kStartNs + static_cast<std::int64_t>(i) * kStepNs;
    const BanOrder order{offender(i, buf), "login",     "per-ip",
                         kBanNs,           &escalation, BanSource::limit};
    const LocalBans::Result r = bans->make(order, now);
    if (r.made && r.until_ns == now + kBanNs && r.count == 1) ++made;
    if (r.until_ns == 0) ++refused;
    if (i % (offenders / 20) == 0 || i + 1 == offenders) {
      most_active = std::max(most_active, table->active(now));
      most_offences = std::max(most_offences, bans->offences().size());
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::size_t rss_growth = rss_bytes() - std::min(rss_bytes(), rss_before);
  const std::size_t heap_growth = heap_bytes() - std::min(heap_bytes(), heap_before);
  const std::size_t active = table->active(now);
  std::printf(
      "bans: %zu offenders in %.1f s at max_active %zu; active %zu (most %zu), offences %zu (most "
      "%zu); RSS growth %zu bytes = %.1f per max_active; heap growth %zu = %.1f per max_active\n",
      offenders, seconds, bound, active, most_active, bans->offences().size(), most_offences,
      rss_growth, static_cast<double>(rss_growth) / static_cast<double>(bound), heap_growth,
      static_cast<double>(heap_growth) / static_cast<double>(bound));

  // Each offender is new and its ban ends after every ban held: each one is made and held.
  EXPECT_EQ(made, offenders);
  EXPECT_EQ(refused, 0u);
  // Bounded in count.
  EXPECT_LE(most_active, bound);
  EXPECT_GE(active, bound * 3 / 4);  // giving way frees a quarter at a time, no more
  EXPECT_LE(most_offences, offence_bound);
  // The newest offender is banned; the first gave way long ago; nobody else looks banned.
  EXPECT_EQ(table->banned_until(offender(offenders - 1, buf), "login", now), now + kBanNs);
  EXPECT_EQ(table->banned_until(offender(0, buf), "login", now), 0);
  EXPECT_EQ(table->banned_until("ip:203.0.113.10", "login", now), 0);
  // A ban check reads a bounded run of index slots. Every slot now holds some key (slots are
  // reused, never emptied); stopping at an empty one would read most of the index (thousands
  // of slots after 1 M offenders at 100 000, growing with the flood).
  std::size_t most_probes = 0;
  for (int k = 0; k < 1000; ++k) {
    const std::string never =
        "ip:198.18." + std::to_string(k / 256) + "." + std::to_string(k % 256);
    most_probes = std::max(most_probes, table->probes_for(never, "login"));
    most_probes = std::max(most_probes, table->probes_for(never, kEveryRoute));
  }
  EXPECT_LE(most_probes, 128u);
  // Bounded in memory.
  if (kMeasureMemory) {
    EXPECT_LE(heap_growth, kBytesPerBan * bound + kSlack);
    EXPECT_LE(rss_growth, kBytesPerBan * bound + kSlack);
  }
}

}  // namespace
}  // namespace edgeguard
