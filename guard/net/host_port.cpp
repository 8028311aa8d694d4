#include "guard/net/host_port.h"

#include <charconv>

namespace edgeguard {

std::optional<HostPort> parse_host_port(std::string_view text, HostPortError* error) {
  auto fail = [error](HostPortError e) -> std::optional<HostPort> {
    if (error != nullptr) *error = e;
    return std::nullopt;
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return fail(HostPortError::no_port);
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view digits = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || port > 65535) {
    return fail(HostPortError::bad_port);
  }
  if (host.empty()) return fail(HostPortError::no_port);
  if (error != nullptr) *error = HostPortError::none;
  return HostPort{std::string(host), static_cast<std::uint16_t>(port)};
}

}  // namespace edgeguard
