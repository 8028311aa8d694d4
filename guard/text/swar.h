#pragma once
// Eight bytes at a time: the word tests that let the request-head scanner (guard/http/
// head_scanner.h) and the JSON string writer (guard/text/json_string.h) skip plain text without
// a branch per byte, and the case-blind name compare of the ForwardAuth parser. Each test sets the
// high bit of a byte that matches; a borrow can set spurious bits, but only in bytes above a true
// match, so the lowest flag is always exact.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "guard/text/ascii.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "swar.h reads words as little-endian"
#endif

namespace edgeguard::swar {

inline std::uint64_t load8(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

constexpr std::uint64_t kOnes = 0x0101010101010101ull;
constexpr std::uint64_t kHighs = 0x8080808080808080ull;

// Flags the bytes of `w` equal to `c`.
inline std::uint64_t equal_to(std::uint64_t w, unsigned char c) {
  const std::uint64_t x = w ^ (kOnes * c);
  return (x - kOnes) & ~x & kHighs;
}

// Flags the bytes of `w` below `n` (n <= 128) or equal to 0x7f (DEL).
inline std::uint64_t below_or_del(std::uint64_t w, std::uint64_t n) {
  const std::uint64_t below = (w - kOnes * n) & ~w & kHighs;
  return below | equal_to(w, 0x7f);
}

// The first byte (memory order) that a mask of the tests above flags.
inline unsigned first_flagged(std::uint64_t mask) {
  return static_cast<unsigned>(__builtin_ctzll(mask)) / 8;
}

// `w` with each ASCII capital (A-Z) made small, every other byte as it was. Exact per byte: the
// sums below stay within each byte (at most 0x7f + 0x3f), so nothing carries into the next.
inline std::uint64_t lower_ascii(std::uint64_t w) {
  const std::uint64_t low7 = w & ~kHighs;
  const std::uint64_t at_least_a = low7 + kOnes * (0x80 - 'A');       // high bit: low7 >= 'A'
  const std::uint64_t above_z = low7 + kOnes * (0x7f - 'Z');          // high bit: low7 > 'Z'
  const std::uint64_t capital = at_least_a & ~above_z & ~w & kHighs;  // and below 0x80
  return w | (capital >> 2);                                          // 0x80 >> 2 = 0x20
}

// `a` equals `lower` (already in small letters) ignoring ASCII case, as edgeguard::
// iequals_lower, a word at a time: the last word overlaps the one before rather than reading
// past the end.
inline bool iequals_lower(std::string_view a, std::string_view lower) {
  const std::size_t n = a.size();
  if (n != lower.size()) return false;
  if (n < 8) return edgeguard::iequals_lower(a, lower);
  for (std::size_t i = 0; i + 8 < n; i += 8) {
    if (lower_ascii(load8(a.data() + i)) != load8(lower.data() + i)) return false;
  }
  return lower_ascii(load8(a.data() + n - 8)) == load8(lower.data() + n - 8);
}

}  // namespace edgeguard::swar
