#include "guard/crowdsec/go_duration.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace edgeguard {
namespace {

constexpr std::int64_t kS = 1'000'000'000;

struct ParseCase {
  const char* text;
  std::optional<std::int64_t> ns;
};

// What Go's time.ParseDuration answers for each (checked against Go's own test table).
const ParseCase kParse[] = {
    {"0", 0},
    {"-0", 0},
    {"+0", 0},
    {"5s", 5 * kS},
    {"30s", 30 * kS},
    {"1478s", 1478 * kS},
    {"-5s", -5 * kS},
    {"+5s", 5 * kS},
    {"5.0s", 5 * kS},
    {"5.6s", 5 * kS + 600'000'000},
    {"5.s", 5 * kS},
    {".5s", kS / 2},
    {"1.004s", kS + 4'000'000},
    {"1.0040s", kS + 4'000'000},
    {"100.00100s", 100 * kS + 1'000'000},
    {"10ns", 10},
    {"11us", 11'000},
    {"12\xc2\xb5s", 12'000},  // U+00B5 micro sign
    {"12\xce\xbcs", 12'000},  // U+03BC Greek mu
    {"13ms", 13'000'000},
    {"14s", 14 * kS},
    {"15m", 15 * 60 * kS},
    {"16h", 16 * 3600 * kS},
    {"3h30m", (3 * 3600 + 30 * 60) * kS},
    {"10.5s4m", 4 * 60 * kS + 10 * kS + kS / 2},
    {"-2m3.4s", -(2 * 60 * kS + 3 * kS + 400'000'000)},
    {"1h2m3s4ms5us6ns", 3600 * kS + 2 * 60 * kS + 3 * kS + 4'000'000 + 5'000 + 6},
    {"39h9m14.425s", (39 * 3600 + 9 * 60 + 14) * kS + 425'000'000},
    // What LAPI sends: nanosecond fractions, and negative once expired.
    {"3h59m58.123456789s", (3 * 3600 + 59 * 60 + 58) * kS + 123'456'789},
    {"-1.5s", -(kS + kS / 2)},
    {"-88.943203ms", -88'943'203},
    {"0.3333333333333333333h", 1'200'000'000'000},
    {"9007199254740993ns", 9'007'199'254'740'993},
    {"9223372036854775807ns", std::numeric_limits<std::int64_t>::max()},
    {"9223372036.854775807s", std::numeric_limits<std::int64_t>::max()},
    {"-9223372036854775808ns", std::numeric_limits<std::int64_t>::min()},
    {"0.100000000000000000000h", 360'000'000'000},
    // Errors.
    {"", std::nullopt},
    {"3", std::nullopt},
    {"-", std::nullopt},
    {"s", std::nullopt},
    {".", std::nullopt},
    {"-.", std::nullopt},
    {".s", std::nullopt},
    {"+.s", std::nullopt},
    {"1d", std::nullopt},
    {"1.5", std::nullopt},
    {"3000000h", std::nullopt},  // overflow
    {"9223372036854775808ns", std::nullopt},
    {"9223372036854775.808us", std::nullopt},
    {"-9223372036854775809ns", std::nullopt},
    {"1h-5m", std::nullopt},
    {" 1s", std::nullopt},
    {"1s ", std::nullopt},
    {"1 s", std::nullopt},
};

TEST(CrowdsecGoDuration, ParsesWhatGoParses) {
  for (const ParseCase& c : kParse) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(parse_go_duration_ns(c.text), c.ns);
  }
}

TEST(CrowdsecGoDuration, FormatsAsGoDoes) {
  EXPECT_EQ(format_go_duration(0), "0s");
  EXPECT_EQ(format_go_duration(1), "1ns");
  EXPECT_EQ(format_go_duration(1'100), "1.1\xc2\xb5s");
  EXPECT_EQ(format_go_duration(2'200'000), "2.2ms");
  EXPECT_EQ(format_go_duration(kS + kS / 2), "1.5s");
  EXPECT_EQ(format_go_duration(15 * 60 * kS), "15m0s");
  EXPECT_EQ(format_go_duration(3600 * kS), "1h0m0s");
  EXPECT_EQ(format_go_duration(-2 * kS), "-2s");
  EXPECT_EQ(format_go_duration(4 * 3600 * kS + 123'456'789), "4h0m0.123456789s");
  EXPECT_EQ(format_go_duration(std::numeric_limits<std::int64_t>::min()),
            "-2562047h47m16.854775808s");
}

TEST(CrowdsecGoDuration, FormatParsesBack) {
  for (const std::int64_t ns :
       {std::int64_t{1}, std::int64_t{999}, std::int64_t{1'234'567}, 3 * kS, 86'400 * kS + 1,
        -kS / 3, std::numeric_limits<std::int64_t>::max()}) {
    EXPECT_EQ(parse_go_duration_ns(format_go_duration(ns)), ns) << format_go_duration(ns);
  }
}

}  // namespace
}  // namespace edgeguard
