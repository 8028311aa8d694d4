// The one RFC 3339 formatter against the C library's reading of the same Unix times.
#include "guard/text/rfc3339.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>

namespace edgeguard {
namespace {

std::string by_libc(std::int64_t unix_s) {
  const auto t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

// Every day from 1900 to 2300 (leap years, 2000's 29 February, 2100's missing one), each at a
// second that moves through every hour, minute and second over the run.
TEST(Rfc3339, EveryDayOfFourCenturiesAgreesWithGmtime) {
  constexpr std::int64_t kDay = 86400;
  const std::int64_t first = -2'208'988'800;  // 1900-01-01
  const std::int64_t last = 10'413'792'000;   // 2300-01-01
  std::int64_t second_of_day = 0;
  for (std::int64_t day = first; day < last; day += kDay) {
    const std::int64_t t = day + second_of_day;
    ASSERT_EQ(format_rfc3339_seconds(t), by_libc(t)) << "unix " << t;
    second_of_day = (second_of_day + 7919) % kDay;
  }
}

TEST(Rfc3339, NanosecondsRoundDownIncludingBeforeTheEpoch) {
  EXPECT_EQ(format_rfc3339(1'796'063'953'999'999'999), "2026-11-30T18:39:13Z");
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_rfc3339(INT64_MAX), by_libc(INT64_MAX / 1'000'000'000));
  EXPECT_EQ(format_rfc3339(INT64_MIN), by_libc(INT64_MIN / 1'000'000'000 - 1));
}

TEST(Rfc3339, WritesExactlyNineteenBytes) {
  char buf[kUtcSecondsBytes + 1];
  buf[kUtcSecondsBytes] = '#';
  write_utc_seconds(buf, 1'796'063'953);
  EXPECT_EQ(std::string(buf, kUtcSecondsBytes + 1), "2026-11-30T18:39:13#");
}

}  // namespace
}  // namespace edgeguard
