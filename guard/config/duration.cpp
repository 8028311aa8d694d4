#include "guard/config/duration.h"

#include <charconv>

namespace edgeguard {

std::optional<std::int64_t> parse_duration_ns(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double total = 0;
  bool bare = true;
  while (!text.empty()) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value < 0) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    std::size_t unit_len = 0;
    while (unit_len < text.size() && ((text[unit_len] >= 'a' && text[unit_len] <= 'z') ||
                                      text[unit_len] == '\xc2' || text[unit_len] == '\xb5')) {
      ++unit_len;
    }
    const std::string_view unit = text.substr(0, unit_len);
    text.remove_prefix(unit_len);
    double scale = 0;
    if (unit.empty()) {
      if (!bare || !text.empty()) return std::nullopt;  // "1m30" is ambiguous
      scale = 1e9;
    } else if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xc2\xb5s") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else if (unit == "d") {  // not Go's, but what ban lengths are written in (SPEC: 7d)
      scale = 86400e9;
    } else {
      return std::nullopt;
    }
    bare = false;
    total += value * scale;
    if (total > 9e18) return std::nullopt;
  }
  return static_cast<std::int64_t>(total + 0.5);
}

}  // namespace edgeguard
