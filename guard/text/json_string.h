#pragma once
// A JSON string literal, quotes included: what logs and problem+json bodies both write.
// Control characters are escaped, so nothing a client or a node list sends can break a line.
// Written at a pointer with room for its bound; append_json_string (guard/text/sized_text.h)
// appends one to a string.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "guard/text/swar.h"

namespace edgeguard {

namespace json_string_detail {

// The first byte at or after `p` that JSON must escape (a quote, a backslash, a control byte or
// DEL), or `end`. Eight bytes a test: byte by byte, escaping was ~6 200 instructions of each
// denied call (its log line and problem body: 26 strings), 4 450 this way (bench/README.md).
inline const char* find_special(const char* p, const char* end) {
  while (end - p >= 8) {
    const std::uint64_t w = swar::load8(p);
    const std::uint64_t mask =
        swar::below_or_del(w, 0x20) | swar::equal_to(w, '"') | swar::equal_to(w, '\\');
    if (mask != 0) return p + swar::first_flagged(mask);
    p += 8;
  }
  for (; p < end; ++p) {
    const auto u = static_cast<unsigned char>(*p);
    if (u < 0x20 || u == '"' || u == '\\' || u == 0x7f) return p;
  }
  return end;
}

}  // namespace json_string_detail

// The most bytes write_json_string writes for `n` bytes of text: both quotes, and every byte
// escaped as \u00XX.
constexpr std::size_t json_string_bound(std::size_t n) {
  return 2 + 6 * n;
}

// Writes `s` as a JSON string at `out`, which has room for json_string_bound(s.size()) bytes,
// and returns the end. Runs of plain characters are copied whole, found a word at a time.
inline char* write_json_string(char* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out++ = '"';
  const char* run = s.data();
  const char* const end = s.data() + s.size();
  for (;;) {
    const char* special = json_string_detail::find_special(run, end);
    const auto n = static_cast<std::size_t>(special - run);
    if (n != 0) std::memcpy(out, run, n);  // a string_view may be empty with a null data()
    out += n;
    if (special == end) break;
    const auto u = static_cast<unsigned char>(*special);
    if (u == '"' || u == '\\') {
      *out++ = '\\';
      *out++ = static_cast<char>(u);
    } else {
      std::memcpy(out, "\\u00", 4);
      out[4] = kHex[u >> 4];
      out[5] = kHex[u & 15];
      out += 6;
    }
    run = special + 1;
  }
  *out++ = '"';
  return out;
}

}  // namespace edgeguard
