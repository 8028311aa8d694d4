// append_json_string and write_json_string: what logs and problem+json bodies write for any value a
// client or a node list controls. Plain runs are copied whole; quotes, backslashes and control
// bytes (DEL too) are escaped wherever they stand, so nothing breaks a log line or a body.
#include <gtest/gtest.h>

#include <string>

#include "guard/text/json_string.h"
#include "guard/text/sized_text.h"

namespace edgeguard {
namespace {

std::string json(std::string_view s) {
  std::string out = "x";
  append_json_string(out, s);
  return out;
}

TEST(JsonString, PlainTextIsCopiedBetweenQuotes) {
  EXPECT_EQ(json(""), "x\"\"");
  EXPECT_EQ(json("authentik-login"), "x\"authentik-login\"");
  EXPECT_EQ(json("caf\xc3\xa9"), "x\"caf\xc3\xa9\"");  // UTF-8 passes as it is
}

TEST(JsonString, QuotesBackslashesAndControlsAreEscapedAnywhere) {
  EXPECT_EQ(json("\"a\\b\""), "x\"\\\"a\\\\b\\\"\"");
  EXPECT_EQ(json(std::string("\0\n\x1f\x7f", 4)), "x\"\\u0000\\u000a\\u001f\\u007f\"");
  EXPECT_EQ(json("ab\r\ncd"), "x\"ab\\u000d\\u000acd\"");
  EXPECT_EQ(json("end\""), "x\"end\\\"\"");
}

// The escaping as one byte at a time would do it: what the word-at-a-time search must equal.
std::string json_by_bytes(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "x\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '"' || u == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + '"';
}

// Every byte value at every position of a word and of the tail, in strings long enough to be
// searched a word at a time, and high bytes next to specials (a borrow must not hide one).
TEST(JsonString, EveryByteAtEveryPositionIsEscapedAsByteByByte) {
  for (std::size_t length : {1u, 7u, 8u, 9u, 16u, 23u}) {
    for (std::size_t at = 0; at < length; ++at) {
      for (int b = 0; b < 256; ++b) {
        std::string s(length, 'a');
        s[at] = static_cast<char>(b);
        ASSERT_EQ(json(s), json_by_bytes(s))
            << "length " << length << ", byte " << b << " at " << at;
        if (at + 1 < length) {
          s[at + 1] = '"';
          s[at] = static_cast<char>(b | 0x80);
          ASSERT_EQ(json(s), json_by_bytes(s)) << "high byte " << (b | 0x80) << " before a quote";
        }
      }
    }
  }
}

TEST(JsonString, ARealUserAgentAndUriPassWordByWord) {
  const std::string ua =
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari";
  EXPECT_EQ(json(ua), json_by_bytes(ua));
  const std::string uri =
      "/api/v3/flows/executor/default-authentication-flow/?query=next%3D\"x\"\t";
  EXPECT_EQ(json(uri), json_by_bytes(uri));
}

// Callers size their buffer with json_string_bound before writing: the worst case, every byte a
// control byte, must fill it exactly and write nothing past it.
TEST(JsonString, TheWorstCaseFillsItsBoundExactly) {
  for (std::size_t length : {0u, 1u, 7u, 8u, 9u, 31u}) {
    const std::string s(length, '\x01');
    std::string buf(json_string_bound(length) + 1, '#');
    char* const end = write_json_string(buf.data(), s);
    EXPECT_EQ(static_cast<std::size_t>(end - buf.data()), json_string_bound(length)) << length;
    EXPECT_EQ(buf.back(), '#') << "written past the bound at length " << length;
    EXPECT_EQ(std::string(buf.data(), end), json_by_bytes(s).substr(1)) << length;
  }
}

}  // namespace
}  // namespace edgeguard
