#include "guard/text/seeded_hash.h"

#include <cstring>
#include <random>

#include "guard/text/swar.h"

namespace edgeguard {
namespace {

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  return x;
}

}  // namespace

std::uint64_t process_hash_seed() {
  static const std::uint64_t seed = [] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }();
  return seed;
}

// The length is mixed in first, so the tail can be read with fixed-size loads (overlapping where
// it is shorter than the load) rather than a memcpy of variable length, which is a call into libc
// on every lookup: with the length known, the loads still determine every byte.
std::uint64_t seeded_hash(std::string_view text, std::uint64_t seed) {
  std::uint64_t h = mix(seed ^ (text.size() * 0x9e3779b97f4a7c15ULL));
  const char* p = text.data();
  std::size_t n = text.size();
  for (; n >= 8; p += 8, n -= 8) h = mix(h ^ swar::load8(p));
  std::uint64_t tail = 0;
  if (n >= 4) {
    std::uint32_t first, last;
    std::memcpy(&first, p, 4);
    std::memcpy(&last, p + n - 4, 4);
    tail = first | (std::uint64_t{last} << 32);
  } else if (n > 0) {
    tail = std::uint64_t{static_cast<unsigned char>(p[0])} |
           std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 |
           std::uint64_t{static_cast<unsigned char>(p[n - 1])} << 16;
  }
  return mix(h ^ tail ^ 0x5bd1e995ULL);
}

}  // namespace edgeguard
