#pragma once
// Eight bytes at a time: the word tests that let the request-head scanner (guard/http/
// head_scanner.h) and the JSON string writer (guard/log/json_string.h) skip plain text without
// a branch per byte. Each test sets the high bit of a byte that matches; a borrow can set
// spurious bits, but only in bytes above a true match, so the lowest flag is always exact.
#include <cstdint>
#include <cstring>

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

}  // namespace edgeguard::swar
