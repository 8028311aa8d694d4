#pragma once
// A JSON string literal, quotes included: what logs and problem+json bodies both write.
// Control characters are escaped, so nothing a client or a node list sends can break a line.
#include <string>
#include <string_view>

namespace edgeguard {

inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace edgeguard
