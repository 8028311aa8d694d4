#pragma once
// JSON-lines logs on stdout: one object per line, `ts` and `event` first. Rare events (startup,
// reload, store state) are written at once; decisions go through a per-thread buffer that the
// io thread flushes when it fills or on its flush timer, so a flood of denials costs one write
// per few hundred lines instead of one per request.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace edgeguard {

// A field value: a string (escaped) or a number.
struct LogValue {
  LogValue(std::string_view s) : text(s) {}
  LogValue(const char* s) : text(s) {}
  LogValue(const std::string& s) : text(s) {}
  LogValue(std::int64_t n) : number(n), is_number(true) {}
  LogValue(int n) : number(n), is_number(true) {}
  LogValue(std::size_t n) : number(static_cast<std::int64_t>(n)), is_number(true) {}
  std::string_view text;
  std::int64_t number = 0;
  bool is_number = false;
};
using LogField = std::pair<std::string_view, LogValue>;

// Appends one JSON line ({"ts":..., "level":..., "event":..., fields...}\n) to `out`.
void format_log_line(std::string& out, std::string_view level, std::string_view event,
                     std::initializer_list<LogField> fields);

// Writes one line now (thread-safe). For rare events.
void log_event(std::string_view level, std::string_view event,
               std::initializer_list<LogField> fields);

// Per-thread buffered decision log.
void log_buffered(std::string_view level, std::string_view event,
                  std::initializer_list<LogField> fields);
void flush_log_buffer();

// Tests and tools silence logs (replay prints its own report).
void set_log_enabled(bool enabled);

}  // namespace edgeguard
