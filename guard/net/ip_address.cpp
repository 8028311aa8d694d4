#include "guard/net/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace edgeguard {
namespace {

constexpr int kMaxAddressText = 64;

int width(const IpAddress& ip) {
  return ip.is_v4() ? 32 : 128;
}

u128 low_mask(int host_bits) {
  if (host_bits <= 0) return 0;
  if (host_bits >= 128) return ~u128{0};
  return (u128{1} << host_bits) - 1;
}

// Dotted quad exactly as glibc's inet_pton(AF_INET) reads it (four decimal octets, no leading
// zeros, nothing else), without its C-string copy: this runs on every request.
std::optional<std::uint32_t> parse_v4(std::string_view text) {
  std::uint32_t value = 0, octet = 0;
  int octets = 0;
  bool saw_digit = false;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      if (saw_digit && octet == 0) return std::nullopt;
      octet = octet * 10 + static_cast<std::uint32_t>(c - '0');
      if (octet > 255) return std::nullopt;
      if (!saw_digit) {
        if (++octets > 4) return std::nullopt;
        saw_digit = true;
      }
    } else if (c == '.' && saw_digit) {
      if (octets == 4) return std::nullopt;
      value = (value << 8) | octet;
      octet = 0;
      saw_digit = false;
    } else {
      return std::nullopt;
    }
  }
  if (octets < 4 || !saw_digit) return std::nullopt;
  return (value << 8) | octet;
}

char* put_decimal(char* p, unsigned v) {
  if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
  if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
  *p++ = static_cast<char>('0' + v % 10);
  return p;
}

char* put_dotted_quad(char* p, std::uint32_t v4) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    p = put_decimal(p, (v4 >> shift) & 0xff);
    if (shift != 0) *p++ = '.';
  }
  return p;
}

char* put_hex_group(char* p, unsigned v) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned nibble = (v >> shift) & 0xf;
    if (nibble != 0 || started || shift == 0) {
      *p++ = kHex[nibble];
      started = true;
    }
  }
  return p;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= kMaxAddressText) return std::nullopt;
  if (text.find(':') == std::string_view::npos) {
    const auto v4 = parse_v4(text);
    if (!v4) return std::nullopt;
    return from_v4(*v4);
  }
  // inet_pton reads a C string: an embedded NUL would cut "1.2.3.4\0junk" short.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  char buf[kMaxAddressText];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) != 1) return std::nullopt;
  std::array<std::uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), v6.s6_addr, 16);
  return from_bytes(bytes);
}

IpAddress IpAddress::from_bytes(const std::array<std::uint8_t, 16>& bytes) {
  u128 bits = 0;
  for (std::uint8_t b : bytes) bits = (bits << 8) | b;
  return IpAddress(bits);
}

std::array<std::uint8_t, 16> IpAddress::bytes() const {
  std::array<std::uint8_t, 16> out{};
  u128 bits = bits_;
  for (int i = 15; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(bits);
    bits >>= 8;
  }
  return out;
}

IpAddress IpAddress::masked(int prefix) const {
  const int w = width(*this);
  if (prefix >= w) return *this;
  if (prefix < 0) prefix = 0;
  return IpAddress(bits_ & ~low_mask(w - prefix));
}

bool IpAddress::is_private_or_local() const {
  if (is_v4()) {
    const std::uint32_t a = v4();
    auto in = [a](std::uint32_t net, int len) { return (a >> (32 - len)) == (net >> (32 - len)); };
    return in(0x00000000, 8) ||   // 0.0.0.0/8
           in(0x0A000000, 8) ||   // 10/8
           in(0x64400000, 10) ||  // 100.64/10 (CGNAT, the tailnet)
           in(0x7F000000, 8) ||   // 127/8
           in(0xA9FE0000, 16) ||  // 169.254/16
           in(0xAC100000, 12) ||  // 172.16/12
           in(0xC0A80000, 16);    // 192.168/16
  }
  const auto top16 = static_cast<std::uint16_t>(bits_ >> 112);
  return bits_ == 0 || bits_ == 1 ||    // :: and ::1
         (top16 & 0xfe00) == 0xfc00 ||  // fc00::/7 (ULA, the tailnet's fd7a:115c:a1e0::/48)
         (top16 & 0xffc0) == 0xfe80;    // fe80::/10
}

// What inet_ntop writes (RFC 5952: lower-case hex, the first longest run of two or more zero
// groups as "::", glibc's "::a.b.c.d" for IPv4-compatible addresses), without its sprintf:
// limit keys and logs format an address per request.
std::size_t IpAddress::format(char* out) const {
  char* p = out;
  if (is_v4()) {
    p = put_dotted_quad(p, v4());
    *p = '\0';
    return static_cast<std::size_t>(p - out);
  }
  unsigned groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = static_cast<unsigned>(bits_ >> (112 - 16 * i)) & 0xffff;
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best = -1;
  if (best == 0 && best_len == 6) {  // ::a.b.c.d (::ffff:a.b.c.d is is_v4() above)
    *p++ = ':';
    *p++ = ':';
    p = put_dotted_quad(p, static_cast<std::uint32_t>(bits_));
    *p = '\0';
    return static_cast<std::size_t>(p - out);
  }
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      *p++ = ':';
      if (i + best_len == 8) *p++ = ':';
      i += best_len - 1;
      continue;
    }
    if (i != 0) *p++ = ':';
    p = put_hex_group(p, groups[i]);
  }
  *p = '\0';
  return static_cast<std::size_t>(p - out);
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  return std::string(buf, format(buf));
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<Cidr> {
    if (error) *error = why;
    return std::nullopt;
  };
  const auto slash = text.find('/');
  const auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return fail("not an IP address or CIDR");
  Cidr cidr{*ip, ip->is_v4() ? 32 : 128};
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    int prefix = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || prefix < 0 ||
        prefix > (ip->is_v4() ? 32 : 128)) {
      return fail("bad prefix length");
    }
    cidr.prefix = prefix;
  }
  if (cidr.address.masked(cidr.prefix) != cidr.address) {
    return fail("host bits set: write the network address (e.g. 10.0.0.0/8)");
  }
  return cidr;
}

u128 Cidr::first() const {
  return address.bits();
}

u128 Cidr::last() const {
  const int w = address.is_v4() ? 32 : 128;
  return address.bits() | low_mask(w - prefix);
}

}  // namespace edgeguard
