#pragma once
// The shapes of node list edgeguard reads, and their names as the config writes them
// (`tailnet.nodes.format`). One table: the loader, the parser and messages all read it.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace edgeguard {

enum class NodeListFormat { tailscale_status, tailscale_api, headscale, list };

inline constexpr std::array<std::pair<std::string_view, NodeListFormat>, 4> kNodeListFormats{{
    {"tailscale-status", NodeListFormat::tailscale_status},
    {"tailscale-api", NodeListFormat::tailscale_api},
    {"headscale", NodeListFormat::headscale},
    {"list", NodeListFormat::list},
}};

// "tailscale-status", "tailscale-api", "headscale", "list"; anything else is nullopt.
constexpr std::optional<NodeListFormat> parse_node_list_format(std::string_view name) {
  for (const auto& [text, format] : kNodeListFormats) {
    if (text == name) return format;
  }
  return std::nullopt;
}

constexpr std::string_view node_list_format_name(NodeListFormat format) {
  for (const auto& [text, f] : kNodeListFormats) {
    if (f == format) return text;
  }
  return "unknown";
}

// "tailscale-status, tailscale-api, headscale or list", for error messages.
inline std::string node_list_format_choices() {
  std::string out;
  for (std::size_t i = 0; i < kNodeListFormats.size(); ++i) {
    if (i > 0) out += i + 1 == kNodeListFormats.size() ? " or " : ", ";
    out += kNodeListFormats[i].first;
  }
  return out;
}

}  // namespace edgeguard
