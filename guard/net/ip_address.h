#pragma once
// An IPv4 or IPv6 address held as 128 bits. IPv4 is stored v4-mapped (::ffff:a.b.c.d) so that one
// set type, one hash and one bucket key serve both families, and "::ffff:1.2.3.4" and "1.2.3.4"
// are the same address by construction (no bypass through the mapped form).
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgeguard {

using u128 = unsigned __int128;

class IpAddress {
 public:
  constexpr IpAddress() = default;

  // Parses a bare address: "1.2.3.4", "2001:db8::1", "::ffff:1.2.3.4". No port, no brackets,
  // no zone, no surrounding spaces (request/client_ip.h strips those).
  static std::optional<IpAddress> parse(std::string_view text);
  static constexpr IpAddress from_v4(std::uint32_t v4) {
    return IpAddress((u128{0xffff} << 32) | v4);
  }
  static constexpr IpAddress from_bits(u128 bits) { return IpAddress(bits); }
  static IpAddress from_bytes(const std::array<std::uint8_t, 16>& bytes);

  constexpr bool is_v4() const { return (bits_ >> 32) == 0xffff; }
  constexpr std::uint32_t v4() const { return static_cast<std::uint32_t>(bits_); }
  constexpr u128 bits() const { return bits_; }
  std::array<std::uint8_t, 16> bytes() const;

  // Keeps the first `prefix` bits of the address in its own family (an IPv4 /24 is 24 bits).
  IpAddress masked(int prefix) const;

  // Loopback, RFC 1918/4193 private, link-local, CGNAT and unspecified: never judged by country.
  bool is_private_or_local() const;

  // Canonical text: dotted quad for IPv4, RFC 5952 for IPv6. Writes at most 46 chars to `out`.
  std::size_t format(char* out) const;
  std::string to_string() const;

  constexpr auto operator<=>(const IpAddress&) const = default;

 private:
  constexpr explicit IpAddress(u128 bits) : bits_(bits) {}
  u128 bits_ = 0;
};

// A network: address plus prefix length counted in the address's own family.
struct Cidr {
  IpAddress address;
  int prefix = 0;

  // "10.0.0.0/8", "fd7a:115c:a1e0::/48", or a bare address (a /32 or /128). Host bits set
  // (10.0.0.1/8) are an error: it is almost always a typo in a policy.
  static std::optional<Cidr> parse(std::string_view text, std::string* error = nullptr);
  // The range [first, last] in the 128-bit space.
  u128 first() const;
  u128 last() const;
  bool contains(const IpAddress& ip) const { return ip.bits() >= first() && ip.bits() <= last(); }
};

}  // namespace edgeguard
