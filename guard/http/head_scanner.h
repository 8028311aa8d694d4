#pragma once
// One pass over a complete HTTP/1.x request head, for the ForwardAuth parser's fast path: the
// request line, then each header's name and trimmed value, until the blank line. Nearly every
// ForwardAuth call is such a head (Traefik sends ~600-900 bytes of X-Forwarded-* and copied
// client headers, no body), and Beast's parser spends ~7 000 instructions per call on it,
// validating byte by byte and looking every name up in its field table; this scan validates
// eight bytes at a time and leaves the names to the capture plan.
//
// It accepts only what Beast's request parser accepts, with the same values, and declines
// (length 0) everything else, so that Beast reads it and decides: a head not complete in the
// buffer or longer than the header limit, a malformed one (Beast answers 400), obs-fold, any
// Content-Length, Transfer-Encoding or Upgrade (a body or a protocol switch: Beast's business),
// and a Connection header other than one "close" or "keep-alive". tests/unit's differential
// test and the fuzz target forward_auth_scanner hold it to that.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "guard/text/ascii.h"
#include "guard/text/swar.h"

namespace edgeguard {

struct HeadScan {
  std::size_t length = 0;  // bytes of the head through its blank line; 0: declined
  bool keep_alive = false;
};

namespace head_scan_detail {

// tchar (RFC 9110 5.6.2), as Beast's is_token_char.
constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> t{};
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 32] = true;
  return t;
}
inline constexpr std::array<bool, 256> kToken = make_token_table();

inline bool token(char c) {
  return kToken[static_cast<unsigned char>(c)];
}

using swar::below_or_del;
using swar::first_flagged;
using swar::load8;

// Skips bytes allowed in a field value (HTAB, SP..~, obs-text) and returns the first other
// one (CR ends a value; any other control is an error), or `end`.
inline const char* skip_value(const char* p, const char* end) {
  while (end - p >= 8) {
    const std::uint64_t mask = below_or_del(load8(p), 0x20);
    if (mask == 0) {
      p += 8;
      continue;
    }
    p += first_flagged(mask);
    if (*p != '\t') return p;
    ++p;
  }
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return p;
  }
  return end;
}

// Skips request-target bytes (Beast's is_pathchar: anything but controls, SP and DEL).
inline const char* skip_target(const char* p, const char* end) {
  while (end - p >= 8) {
    const std::uint64_t mask = below_or_del(load8(p), 0x21);
    if (mask != 0) return p + first_flagged(mask);
    p += 8;
  }
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x21 || c == 0x7f) return p;
  }
  return end;
}

}  // namespace head_scan_detail

// Scans `in` for a request head no longer than `limit`. `on_field(name, value)` is called for
// each header in order and returns false to give up (the caller's storage is full): the scan
// then declines as well.
template <class OnField>
HeadScan scan_request_head(std::string_view in, std::size_t limit, OnField&& on_field) {
  using namespace head_scan_detail;
  const char* p = in.data();
  const char* const end = in.data() + (in.size() < limit ? in.size() : limit);
  // method SP
  const char* const method = p;
  while (p < end && token(*p)) ++p;
  if (p == method || p >= end || *p != ' ') return {};
  ++p;
  // request-target SP
  const char* const target = p;
  p = skip_target(p, end);
  if (p == target || p >= end || *p != ' ') return {};
  ++p;
  // HTTP/1.0 or HTTP/1.1, CRLF
  if (end - p < 10 || std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
      p[8] != '\r' || p[9] != '\n') {
    return {};
  }
  const bool http11 = p[7] == '1';
  p += 10;
  bool close = false, keep_alive = false;
  for (;;) {
    if (end - p < 2) return {};
    if (p[0] == '\r') {
      if (p[1] != '\n') return {};
      p += 2;
      break;
    }
    const char* const name = p;
    while (p < end && token(*p)) ++p;
    if (p == name || p >= end || *p != ':') return {};
    const std::string_view field(name, static_cast<std::size_t>(p - name));
    ++p;
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    const char* const value = p;
    p = skip_value(p, end);
    // CR LF, and not a continuation line (obs-fold) after it.
    if (end - p < 3 || p[0] != '\r' || p[1] != '\n' || p[2] == ' ' || p[2] == '\t') return {};
    const char* last = p;
    while (last > value && (last[-1] == ' ' || last[-1] == '\t')) --last;
    const std::string_view text(value, static_cast<std::size_t>(last - value));
    p += 2;
    // The fields Beast reads itself (do_field): only the plain Connection values are ours.
    switch (field.size()) {
      case 7:
        if (iequals_lower(field, "upgrade")) return {};
        break;
      case 10:
        if (iequals_lower(field, "connection")) {
          if (iequals_lower(text, "close")) {
            close = true;
          } else if (iequals_lower(text, "keep-alive")) {
            keep_alive = true;
          } else {
            return {};
          }
        }
        break;
      case 14:
        if (iequals_lower(field, "content-length")) return {};
        break;
      case 16:
        if (iequals_lower(field, "proxy-connection")) return {};
        break;
      case 17:
        if (iequals_lower(field, "transfer-encoding")) return {};
        break;
      default:
        break;
    }
    if (!on_field(field, text)) return {};
  }
  HeadScan scan;
  scan.length = static_cast<std::size_t>(p - in.data());
  scan.keep_alive = http11 ? !close : keep_alive;
  return scan;
}

}  // namespace edgeguard
