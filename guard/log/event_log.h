#pragma once
// JSON-lines logs on stdout: one object per line, `ts` and `event` first. Rare events (startup,
// reload, store state) are written at once; decisions go through a per-thread buffer that the
// io thread flushes when it fills or on its flush timer, so a flood of denials costs one write
// per few hundred lines instead of one per request.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

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
// A line's level, its event and its field names. They are literals in our own source, so each is
// checked when it is compiled (a quote, a backslash or a control byte does not build) and written
// as it is: escaping them cost a decision line 12 of its 22 JSON string scans (bench/README.md,
// "Log names written as they are"). Implicit, so that call sites write {"name", value}; a name
// chosen at run time is two literals: `open ? LogName("error") : LogName("info")`.
class LogName {
 public:
  template <std::size_t N>
  consteval LogName(const char (&name)[N]) : text_(name, N - 1) {
    for (const char c : text_) {  // a byte over 0x7f is negative here: ASCII only
      if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) throw "a log name needs escaping";
    }
  }
  std::string_view text() const { return text_; }

 private:
  std::string_view text_;
};

struct LogField {
  LogName name;
  LogValue value;
};

// Appends one JSON line ({"ts":..., "level":..., "event":..., fields...}\n) to `out`.
void format_log_line(std::string& out, LogName level, LogName event,
                     std::initializer_list<LogField> fields);

// Writes one line now (thread-safe). For rare events.
void log_event(LogName level, LogName event, std::initializer_list<LogField> fields);

// Per-thread buffered decision log.
void log_buffered(LogName level, LogName event, std::initializer_list<LogField> fields);
void flush_log_buffer();

// Tests and tools silence logs (replay prints its own report).
void set_log_enabled(bool enabled);

}  // namespace edgeguard
