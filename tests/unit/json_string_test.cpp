// append_json_string: what logs and problem+json bodies write for any value a client or a node
// list controls. Plain runs are copied whole; quotes, backslashes and control bytes (DEL too)
// are escaped wherever they stand, so nothing breaks a log line or a body.
#include <gtest/gtest.h>

#include <string>

#include "guard/log/json_string.h"

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

}  // namespace
}  // namespace edgeguard
