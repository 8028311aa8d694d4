// format_log_line: each JSON line the logs write. The line is sized once to the most it can take
// and written with plain stores, so the tests hold the worst cases to a line that parses back to
// exactly what was given: values that escape to six times their length, the longest number.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "guard/log/event_log.h"

namespace edgeguard {
namespace {

namespace json = boost::json;

json::object parse_line(std::string_view line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  return json::parse(line).as_object();
}

TEST(EventLog, ALineParsesBackToItsFields) {
  std::string out;
  format_log_line(out, "warn", "decision",
                  {{"verdict", "deny"}, {"path", "/if/flow/"}, {"retry_after", std::int64_t{7}}});
  const json::object o = parse_line(out);
  EXPECT_EQ(o.size(), 6u);
  EXPECT_EQ(o.at("level").as_string(), "warn");
  EXPECT_EQ(o.at("event").as_string(), "decision");
  EXPECT_EQ(o.at("verdict").as_string(), "deny");
  EXPECT_EQ(o.at("path").as_string(), "/if/flow/");
  EXPECT_EQ(o.at("retry_after").as_int64(), 7);
  const std::string ts(o.at("ts").as_string());
  ASSERT_EQ(ts.size(), 24u) << ts;  // 2026-12-03T13:29:06.123Z
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts.back(), 'Z');
}

// What a client controls escapes to the most bytes; the numbers are the longest there are.
TEST(EventLog, TheLongestValuesFitTheLine) {
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls += static_cast<char>(c);
  controls += "\x7f\"\\";
  std::string out = "{}\n";  // a line already in the buffer stays as it was
  format_log_line(out, "info", "decision",
                  {{"host", controls},
                   {"min", std::numeric_limits<std::int64_t>::min()},
                   {"max", std::numeric_limits<std::int64_t>::max()},
                   {"path", controls + controls}});
  ASSERT_EQ(out.substr(0, 3), "{}\n");
  const json::object o = parse_line(std::string_view(out).substr(3));
  EXPECT_EQ(o.at("host").as_string(), controls);
  EXPECT_EQ(o.at("path").as_string(), controls + controls);
  EXPECT_EQ(o.at("min").as_int64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(o.at("max").as_int64(), std::numeric_limits<std::int64_t>::max());
}

TEST(EventLog, ALineWithoutFieldsHasItsTimeLevelAndEvent) {
  std::string out;
  format_log_line(out, "info", "started", {});
  const json::object o = parse_line(out);
  EXPECT_EQ(o.size(), 3u);
  EXPECT_EQ(o.at("event").as_string(), "started");
}

}  // namespace
}  // namespace edgeguard
