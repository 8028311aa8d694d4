// The word-at-a-time helpers against their byte-by-byte meaning.
#include "guard/text/swar.h"

#include <gtest/gtest.h>

#include <string>

namespace edgeguard {
namespace {

// Every byte value at every position of names long enough to be compared a word at a time
// (and the lengths around a word), against a name that differs only there: the compare is
// case-blind for A-Z only (not for 0xC0-0xDA, '@' or '['), and no position goes unread.
TEST(SwarIequalsLower, EveryByteAtEveryPositionAgreesWithTheByteCompare) {
  for (std::size_t length : {1u, 7u, 8u, 9u, 15u, 16u, 17u, 18u, 24u}) {
    for (std::size_t at = 0; at < length; ++at) {
      for (int b = 0; b < 256; ++b) {
        std::string lower(length, 'x');
        std::string a = lower;
        a[at] = static_cast<char>(b);
        for (char l : {'x', 'a', 'z', '-', '`', '{'}) {
          lower[at] = l;
          ASSERT_EQ(swar::iequals_lower(a, lower), edgeguard::iequals_lower(a, lower))
              << "length " << length << ", byte " << b << " at " << at << " against '" << l << "'";
        }
      }
    }
  }
}

TEST(SwarIequalsLower, ForwardedHeaderNamesMatchInAnyCaseAndOnlyThemselves) {
  EXPECT_TRUE(swar::iequals_lower("X-Forwarded-Method", "x-forwarded-method"));
  EXPECT_TRUE(swar::iequals_lower("x-FORWARDED-host", "x-forwarded-host"));
  EXPECT_FALSE(swar::iequals_lower("X-Forwarded-Port", "x-forwarded-host"));
  EXPECT_FALSE(swar::iequals_lower("X-Forwarded-For", "x-forwarded-uri"));
  EXPECT_FALSE(swar::iequals_lower("X-Forwarded-Hos", "x-forwarded-host"));
}

TEST(SwarLowerAscii, MakesOnlyCapitalsSmall) {
  for (int b = 0; b < 256; ++b) {
    const std::uint64_t w = swar::kOnes * static_cast<std::uint64_t>(b);
    const auto expect = static_cast<unsigned char>(ascii_lower(static_cast<char>(b)));
    ASSERT_EQ(swar::lower_ascii(w), swar::kOnes * expect) << "byte " << b;
  }
}

}  // namespace
}  // namespace edgeguard
