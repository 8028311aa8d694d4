#include "guard/bans/ban.h"

#include <cmath>
#include <cstring>

namespace edgeguard {

const char* to_string(BanSource source) {
  switch (source) {
    case BanSource::limit:
      return "limit";
    case BanSource::failure:
      return "failure";
    case BanSource::manual:
      return "manual";
  }
  return "?";
}

std::int64_t ban_duration(std::int64_t for_ns, std::int64_t n, const Escalation& e) {
  if (n <= 1) return std::min(for_ns, e.max_ns);
  // In doubles: factor^(n-1) overflows int64 quickly; the cap makes any large value max.
  const double scaled =
      static_cast<double>(for_ns) * std::pow(e.factor, static_cast<double>(n - 1));
  if (scaled >= static_cast<double>(e.max_ns)) return e.max_ns;
  return static_cast<std::int64_t>(scaled);
}

std::size_t format_ip_subject(const IpAddress& ip, int ipv6_prefix, char* out) {
  std::memcpy(out, "ip:", 3);
  if (ip.is_v4()) return 3 + ip.format(out + 3);
  std::size_t n = 3 + ip.masked(ipv6_prefix).format(out + 3);
  out[n++] = '/';
  if (ipv6_prefix >= 100) out[n++] = static_cast<char>('0' + ipv6_prefix / 100);
  if (ipv6_prefix >= 10) out[n++] = static_cast<char>('0' + ipv6_prefix / 10 % 10);
  out[n++] = static_cast<char>('0' + ipv6_prefix % 10);
  return n;
}

std::optional<std::string> canonical_subject(std::string_view text, int ipv6_prefix,
                                             std::string* error) {
  auto fail = [&](const char* why) -> std::optional<std::string> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return fail("a subject has no control characters");
    }
  }
  if (text.size() > 256) return fail("a subject is at most 256 bytes");
  if (text.starts_with("ip:")) {
    std::string_view addr = text.substr(3);
    // An IPv6 subject may carry its prefix ("/64"); it must be the configured one.
    if (const auto slash = addr.find('/'); slash != std::string_view::npos) {
      const std::string_view prefix = addr.substr(slash + 1);
      addr = addr.substr(0, slash);
      if (prefix != std::to_string(ipv6_prefix)) {
        return fail("an IPv6 subject is grouped by client_ip.ipv6_prefix");
      }
    }
    const auto ip = IpAddress::parse(addr);
    if (!ip) return fail("ip: takes an IPv4 or IPv6 address");
    char buf[kMaxIpSubject];
    return std::string(buf, format_ip_subject(*ip, ipv6_prefix, buf));
  }
  if (text.starts_with("user:")) {
    if (text.size() == 5) return fail("user: takes a login name");
    return std::string(text);
  }
  if (text.starts_with("key:")) {
    if (text.size() == 4) return fail("key: takes a limit key");
    return std::string(text);
  }
  return fail("a subject is ip:<address>, user:<name> or key:<route>/<limit>/<value>");
}

}  // namespace edgeguard
