#pragma once
// "HOST:PORT" as the policy writes listen addresses and Redis nodes ("[::1]:6379" for IPv6).
// One parser for the config loader, both listeners and the Redis client.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgeguard {

struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

enum class HostPortError { none, no_port, bad_port };

// Host must be non-empty; port 0..65535 (0: pick a free one, where a listener allows it).
std::optional<HostPort> parse_host_port(std::string_view text, HostPortError* error = nullptr);

}  // namespace edgeguard
