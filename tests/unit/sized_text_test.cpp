// sized_text (guard/text/sized_text.h): the two passes that write log lines and responses.
// Each piece writes no more than it counted; text written without its control bytes loses them
// wherever they stand, as a byte-at-a-time filter would; what was in the string stays.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "guard/text/sized_text.h"

namespace edgeguard {
namespace {

// The filter as one byte at a time would do it: what the word-at-a-time search must equal.
std::string by_bytes(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) out += c;
  }
  return out;
}

std::string without_controls(std::string_view s) {
  std::string out(s.size() + 2, '#');
  char* end = sized_text::write_without_controls(out.data() + 1, s);
  EXPECT_LE(end, out.data() + 1 + s.size());
  return std::string(out.data() + 1, end);
}

TEST(SizedText, TextWithoutControlsLosesThemAnywhere) {
  EXPECT_EQ(without_controls(""), "");
  EXPECT_EQ(without_controls("caf\xc3\xa9 \"tag:admin\""), "caf\xc3\xa9 \"tag:admin\"");  // kept
  // Every length up to three words, a control byte at every place: in a whole word, in the
  // last word that overlaps the one before, and in values shorter than a word.
  for (const char control : {'\r', '\n', '\0', '\t', '\x1f', '\x7f'}) {
    for (std::size_t n = 1; n <= 24; ++n) {
      for (std::size_t at = 0; at < n; ++at) {
        std::string value(n, 'a');
        for (std::size_t i = 0; i < n; ++i) value[i] = static_cast<char>('a' + i % 26);
        value[at] = control;
        EXPECT_EQ(without_controls(value), by_bytes(value)) << "n=" << n << " at=" << at;
      }
    }
  }
}

TEST(SizedText, AppendKeepsWhatWasThereAndWritesWhatItCounted) {
  std::string out = "before|";
  sized_text::append(out, [](auto& t) {
    t.text("n=");
    t.number(-9223372036854775807LL - 1);
    t.text(" v=");
    t.text_without_controls("a\r\nb");
    t.text(" j=");
    t.json("\"\x01");
  });
  EXPECT_EQ(out, "before|n=-9223372036854775808 v=ab j=\"\\\"\\u0001\"");
}

// Each piece at its longest writes no more than the first pass counted for it: the bound the
// output is resized to holds whatever the second pass writes.
template <class Piece>
void expect_within_count(Piece piece, std::ptrdiff_t expected) {
  sized_text::Counter counter;
  piece(counter);
  std::string buf(counter.size() + 64, '#');
  sized_text::Writer writer(buf.data());
  piece(writer);
  EXPECT_EQ(writer.end() - buf.data(), expected);
  EXPECT_LE(writer.end() - buf.data(), static_cast<std::ptrdiff_t>(counter.size()));
}

TEST(SizedText, EachPieceWritesNoMoreThanItCounted) {
  const std::string controls(40, '\x01');
  const std::string plain(40, 'a');
  expect_within_count([](auto& t) { t.number(-9223372036854775807LL - 1); }, 20);
  expect_within_count([](auto& t) { t.number(9223372036854775807LL); }, 19);
  expect_within_count([&](auto& t) { t.json(controls); }, 2 + 6 * 40);
  expect_within_count([&](auto& t) { t.text_without_controls(plain); }, 40);
  expect_within_count([&](auto& t) { t.text(plain); }, 40);
}

}  // namespace
}  // namespace edgeguard
