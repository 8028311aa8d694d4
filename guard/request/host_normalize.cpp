#include "guard/request/host_normalize.h"

#include "guard/text/ascii.h"

namespace edgeguard {
namespace {

bool is_port(std::string_view digits) {
  if (digits.empty() || digits.size() > 5) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

}  // namespace

std::size_t normalize_host(std::string_view host, char* out) {
  if (host.empty()) return 0;
  std::size_t n = 0;
  if (host.front() == '[') {  // IPv6 literal, optionally with a port
    const auto close = host.find(']');
    if (close == std::string_view::npos) return 0;
    const auto rest = host.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !is_port(rest.substr(1)))) return 0;
    for (std::size_t i = 0; i <= close; ++i) {
      const char c = ascii_lower(host[i]);
      const bool ok = c == '[' || c == ']' || c == ':' || c == '.' || (c >= '0' && c <= '9') ||
                      (c >= 'a' && c <= 'f');
      if (!ok) return 0;
      out[n++] = c;
    }
    return n;
  }
  const auto colon = host.rfind(':');
  if (colon != std::string_view::npos) {
    if (!is_port(host.substr(colon + 1))) return 0;
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  // An empty label ("a..", ".a", "a..b") names no DNS host; refusing it keeps "auth.x.net.."
  // from missing the route of "auth.x.net" while still reaching it through a lenient proxy.
  if (host.empty() || host.front() == '.' || host.back() == '.' ||
      host.find("..") != std::string_view::npos) {
    return 0;
  }
  for (char c : host) {
    c = ascii_lower(c);
    if (!is_host_char(c)) return 0;
    out[n++] = c;
  }
  return n;
}

}  // namespace edgeguard
