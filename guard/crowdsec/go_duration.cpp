#include "guard/crowdsec/go_duration.h"

namespace edgeguard {
namespace {

std::int64_t unit_ns(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") return 1'000;
  if (unit == "ms") return 1'000'000;
  if (unit == "s") return 1'000'000'000;
  if (unit == "m") return 60'000'000'000;
  if (unit == "h") return 3'600'000'000'000;
  return 0;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Appends v / 10^digits written with `digits` decimals, trailing zeros trimmed (Go's fmtFrac).
void put_fraction(std::string& out, std::uint64_t v, int digits) {
  std::string frac;
  bool printed = false;
  for (int i = 0; i < digits; ++i) {
    const auto digit = static_cast<char>('0' + v % 10);
    printed = printed || digit != '0';
    if (printed) frac.insert(frac.begin(), digit);
    v /= 10;
  }
  if (printed) out += "." + frac;
}

}  // namespace

std::optional<std::int64_t> parse_go_duration_ns(std::string_view s) {
  // Go's algorithm step for step, so that LAPI and edgeguard read a duration the same way to
  // the nanosecond (fractions go through float64 there too).
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  std::uint64_t total = 0;
  while (!s.empty()) {
    if (!is_digit(s.front()) && s.front() != '.') return std::nullopt;
    std::size_t i = 0;
    std::uint64_t whole = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (whole > (kLimit - 1) / 10) return std::nullopt;
      whole = whole * 10 + static_cast<std::uint64_t>(s[i] - '0');
      if (whole > kLimit) return std::nullopt;
    }
    const bool had_whole = i > 0;
    std::uint64_t frac = 0;
    double scale = 1;
    bool had_frac = false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      bool overflow = false;  // later digits are read and ignored
      for (; i < s.size() && is_digit(s[i]); ++i) {
        had_frac = true;
        if (overflow) continue;
        if (frac > (kLimit - 1) / 10) {
          overflow = true;
          continue;
        }
        const std::uint64_t next = frac * 10 + static_cast<std::uint64_t>(s[i] - '0');
        if (next > kLimit) {
          overflow = true;
          continue;
        }
        frac = next;
        scale *= 10;
      }
    }
    if (!had_whole && !had_frac) return std::nullopt;  // "." or ".s"
    std::size_t u = i;
    while (u < s.size() && s[u] != '.' && !is_digit(s[u])) ++u;
    const auto unit = static_cast<std::uint64_t>(unit_ns(s.substr(i, u - i)));
    if (unit == 0) return std::nullopt;  // missing or unknown unit
    s.remove_prefix(u);
    if (whole > kLimit / unit) return std::nullopt;
    std::uint64_t v = whole * unit;
    if (frac > 0) {
      v += static_cast<std::uint64_t>(static_cast<double>(frac) *
                                      (static_cast<double>(unit) / scale));
      if (v > kLimit) return std::nullopt;
    }
    total += v;
    if (total > kLimit) return std::nullopt;
  }
  if (negative) return static_cast<std::int64_t>(0 - total);
  if (total > kLimit - 1) return std::nullopt;
  return static_cast<std::int64_t>(total);
}

std::string format_go_duration(std::int64_t ns) {
  if (ns == 0) return "0s";
  std::string out;
  const bool negative = ns < 0;
  // Magnitude as unsigned: -ns overflows for the minimum.
  std::uint64_t u = negative ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  if (u < 1'000'000'000) {
    // Below a second Go picks the largest unit that keeps an integer part: ns, µs or ms.
    if (u < 1'000) {
      out = std::to_string(u) + "ns";
    } else if (u < 1'000'000) {
      out = std::to_string(u / 1'000);
      put_fraction(out, u % 1'000, 3);
      out += "\xc2\xb5s";
    } else {
      out = std::to_string(u / 1'000'000);
      put_fraction(out, u % 1'000'000, 6);
      out += "ms";
    }
  } else {
    const std::uint64_t seconds = u / 1'000'000'000;
    const std::uint64_t h = seconds / 3600, m = seconds / 60 % 60, sec = seconds % 60;
    if (h > 0) out += std::to_string(h) + "h";
    if (h > 0 || m > 0) out += std::to_string(m) + "m";
    out += std::to_string(sec);
    put_fraction(out, u % 1'000'000'000, 9);
    out += "s";
  }
  return negative ? "-" + out : out;
}

}  // namespace edgeguard
