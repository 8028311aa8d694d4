#pragma once
// ASCII case handling, written once. HTTP header names, host names, methods and config keywords
// are ASCII and case-insensitive by protocol; std::tolower would consult the C locale on every
// byte. Header-only and allocation-free except where a std::string is returned.
#include <string>
#include <string_view>

namespace edgeguard {

constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr char ascii_upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_upper(c);
  return out;
}

// `a` equals `lower`, ignoring ASCII case in `a`; `lower` must already be lower case (the hot
// path compares received header names against names lowered once per policy).
constexpr bool iequals_lower(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != lower[i]) return false;
  }
  return true;
}

// `a` equals `b`, ignoring ASCII case on both sides.
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace edgeguard
