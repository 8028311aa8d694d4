#pragma once
// Text sized once, in two passes over one function: what the decision log's lines and the
// responses are written with. The first pass adds up the most each piece can take; the second
// writes the pieces into a string resized once for that sum, through a plain pointer. Both passes
// run the same code, so every byte written was counted first.
//
// Appended piece by piece, a decision line made about forty std::string appends and a denial's
// response about thirty, each checking the capacity and copying through a call to memcpy
// (bench/README.md, "Log names written as they are" and "Responses sized once").
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "guard/text/json_string.h"
#include "guard/text/swar.h"

namespace edgeguard::sized_text {

inline constexpr std::size_t kNumberBytes = 20;  // "-9223372036854775808"

// Whether `text` holds a control byte (below 0x20, or DEL): a word at a time, the last word
// overlapping the one before rather than reading past the end.
inline bool has_control_byte(std::string_view text) {
  const char* const p = text.data();
  const std::size_t n = text.size();
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

// Writes `text` at `out` without its control bytes, so that nothing a node list or the policy
// holds can split a response header (response splitting). Returns the end; writes at most
// text.size() bytes. Such text nearly always has none, and is copied whole.
inline char* write_without_controls(char* out, std::string_view text) {
  if (!has_control_byte(text)) {
    if (!text.empty()) std::memcpy(out, text.data(), text.size());
    return out + text.size();
  }
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) *out++ = c;
  }
  return out;
}

// The first pass: the most bytes each piece can take.
class Counter {
 public:
  void text(std::string_view s) { size_ += s.size(); }
  void text_without_controls(std::string_view s) { size_ += s.size(); }
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
  void text_without_controls(std::string_view s) { p_ = write_without_controls(p_, s); }
  void json(std::string_view s) { p_ = write_json_string(p_, s); }
  void number(std::int64_t v) { p_ = std::to_chars(p_, p_ + kNumberBytes, v).ptr; }
  char* end() const { return p_; }

 private:
  char* p_;
};

// Appends what `compose(pieces)` writes to `out`. `compose` is called twice, once with a
// Counter and once with a Writer, and must make the same calls with the same values both times:
// anything that can change between two calls (the clock) is read before. Sizing zero-fills the
// bound (six bytes for each byte of a JSON string): about the cost of copying the text, and a
// reused string keeps that capacity.
template <class Compose>
void append(std::string& out, Compose&& compose) {
  Counter counter;
  compose(counter);
  const std::size_t at = out.size();
  out.resize(at + counter.size());
  Writer writer(out.data() + at);
  compose(writer);
  // Two passes that disagree are a bug here, not bad input: stop before the heap is harmed
  // further rather than send what follows. One comparison a piece of text.
  if (writer.end() > out.data() + at + counter.size()) std::abort();
  out.resize(static_cast<std::size_t>(writer.end() - out.data()));
}

}  // namespace edgeguard::sized_text

namespace edgeguard {

// Appends `s` as a JSON string to `out`: one piece, sized once. For text built a value at a time
// (the admin API's answers); a whole line or response composes its pieces with
// sized_text::append.
inline void append_json_string(std::string& out, std::string_view s) {
  sized_text::append(out, [&](auto& t) { t.json(s); });
}

}  // namespace edgeguard
