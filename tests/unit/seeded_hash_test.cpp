// The hash behind the local store's buckets and the ban index: every byte and the length count,
// the tail shorter than a word included, and the seed moves every hash.
#include "guard/text/seeded_hash.h"

#include <gtest/gtest.h>

#include <string>

namespace edgeguard {
namespace {

// Strings of every length up to three words, and each of them with any one byte changed: all
// hash apart. The tail's loads (4 bytes from each end, or 3 single bytes) must cover every byte.
TEST(SeededHash, AnyOneByteChangedHashesApartAtEveryLength) {
  for (std::size_t len = 0; len <= 24; ++len) {
    const std::string text(len, 'a');
    const std::uint64_t base = seeded_hash(text, 7);
    for (std::size_t i = 0; i < len; ++i) {
      std::string other = text;
      other[i] = 'b';
      EXPECT_NE(base, seeded_hash(other, 7)) << "length " << len << ", byte " << i;
    }
  }
}

// A string and its extension by a zero byte read the same words; the length keeps them apart.
TEST(SeededHash, TheLengthCounts) {
  std::string text;
  for (std::size_t len = 0; len < 24; ++len) {
    std::string longer = text;
    longer.push_back('\0');
    EXPECT_NE(seeded_hash(text, 7), seeded_hash(longer, 7)) << "length " << len;
    text = longer;
  }
}

TEST(SeededHash, TheSeedMovesTheHashAndTheProcessSeedStays) {
  EXPECT_NE(seeded_hash("route\x1flimit\x1f"
                        "203.0.113.7",
                        1),
            seeded_hash("route\x1flimit\x1f"
                        "203.0.113.7",
                        2));
  EXPECT_EQ(process_hash_seed(), process_hash_seed());
  EXPECT_EQ(seeded_hash("x", process_hash_seed()), seeded_hash("x", process_hash_seed()));
}

}  // namespace
}  // namespace edgeguard
