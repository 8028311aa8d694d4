#pragma once
// A response's bytes in two passes over one function. The first pass adds up the most each piece
// can take; the second writes the pieces into a string resized once for that sum, through a plain
// pointer. Both passes run the same code, so every byte written was counted first.
//
// Appended piece by piece, a denial made about thirty std::string appends (each checking the
// capacity and copying through a call to memcpy) and copied header values a byte at a time:
// ~3 300 instructions of each denied call and ~1 400 of an allowed one (bench/README.md,
// "Responses sized once").
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "guard/log/json_string.h"
#include "guard/text/swar.h"

namespace edgeguard::response_text {

inline constexpr std::size_t kNumberBytes = 20;  // "-9223372036854775808"

// Whether `value` holds a control byte (below 0x20, or DEL): a word at a time, the last word
// overlapping the one before rather than reading past the end.
inline bool has_control_byte(std::string_view value) {
  const char* const p = value.data();
  const std::size_t n = value.size();
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(p[i]);
      if (c < 0x20 || c == 0x7f) return true;
    }
    return false;
  }
  for (std::size_t i = 0; i + 8 < n; i += 8) {
    if (swar::below_or_del(swar::load8(p + i), 0x20) != 0) return true;
  }
  return swar::below_or_del(swar::load8(p + n - 8), 0x20) != 0;
}

// Writes `value` at `out` without its control bytes, so nothing a node list or the policy holds
// can split a header (response splitting). Returns the end; writes at most value.size() bytes.
// Values nearly always have none, and are copied whole.
inline char* write_header_value(char* out, std::string_view value) {
  if (!has_control_byte(value)) {
    if (!value.empty()) std::memcpy(out, value.data(), value.size());
    return out + value.size();
  }
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) *out++ = c;
  }
  return out;
}

// The first pass: the most bytes each piece can take.
class Counter {
 public:
  void text(std::string_view s) { size_ += s.size(); }
  void header_value(std::string_view s) { size_ += s.size(); }
  void json(std::string_view s) { size_ += json_string_bound(s.size()); }
  void number(std::int64_t) { size_ += kNumberBytes; }
  std::size_t size() const { return size_; }

 private:
  std::size_t size_ = 0;
};

// The second pass: the pieces themselves, at a pointer with room for what Counter counted.
class Writer {
 public:
  explicit Writer(char* at) : p_(at) {}
  void text(std::string_view s) {
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());  // an empty view may have no data()
    p_ += s.size();
  }
  void header_value(std::string_view s) { p_ = write_header_value(p_, s); }
  void json(std::string_view s) { p_ = write_json_string(p_, s); }
  void number(std::int64_t v) { p_ = std::to_chars(p_, p_ + kNumberBytes, v).ptr; }
  char* end() const { return p_; }

 private:
  char* p_;
};

// Appends what `compose(pieces)` writes to `out`. `compose` is called twice, once with a
// Counter and once with a Writer, and must make the same calls with the same values both times:
// anything that can change between two calls (the clock) is read before.
template <class Compose>
void append(std::string& out, Compose&& compose) {
  Counter counter;
  compose(counter);
  const std::size_t at = out.size();
  out.resize(at + counter.size());
  Writer writer(out.data() + at);
  compose(writer);
  // Two passes that disagree are a bug here, not bad input: stop before the heap is harmed
  // further rather than send what follows. One comparison a response.
  if (writer.end() > out.data() + at + counter.size()) std::abort();
  out.resize(static_cast<std::size_t>(writer.end() - out.data()));
}

}  // namespace edgeguard::response_text
