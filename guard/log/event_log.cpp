#include "guard/log/event_log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "guard/text/rfc3339.h"
#include "guard/text/sized_text.h"

namespace edgeguard {
namespace {

constexpr std::size_t kFlushBytes = 32 * 1024;
std::atomic<bool> g_enabled{true};
std::mutex g_write_mu;

void write_all(std::string_view s) {
  std::lock_guard lock(g_write_mu);
  while (!s.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, s.data(), s.size());
    if (n <= 0) return;  // stdout gone: logging must never stop the service
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Writes the time now as 2006-01-02T15:04:05.000Z: kTimestampBytes.
constexpr std::size_t kTimestampBytes = kUtcSecondsBytes + 5;
void write_timestamp(char* out) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  write_utc_seconds(out, ms.count() / 1000);  // the clock is past 1970: no negative remainder
  out += kUtcSecondsBytes;
  const int f = static_cast<int>(ms.count() % 1000);
  out[0] = '.';
  out[1] = static_cast<char>('0' + f / 100);
  out[2] = static_cast<char>('0' + f / 10 % 10);
  out[3] = static_cast<char>('0' + f % 10);
  out[4] = 'Z';
}

thread_local std::string t_buffer;

}  // namespace

// The line is sized once and written with plain stores (guard/text/sized_text.h).
void format_log_line(std::string& out, LogName level, LogName event,
                     std::initializer_list<LogField> fields) {
  char timestamp[kTimestampBytes];  // read once: both passes write the same time
  write_timestamp(timestamp);
  sized_text::append(out, [&](auto& t) {
    // Level, event and field names were checked when compiled (LogName): nothing to escape.
    t.text("{\"ts\":\"");
    t.text(std::string_view(timestamp, kTimestampBytes));
    t.text("\",\"level\":\"");
    t.text(level.text());
    t.text("\",\"event\":\"");
    t.text(event.text());
    t.text("\"");
    for (const auto& [name, value] : fields) {
      t.text(",\"");
      t.text(name.text());
      t.text("\":");
      if (value.is_number) {
        t.number(value.number);
      } else {
        t.json(value.text);
      }
    }
    t.text("}\n");
  });
}

void log_event(LogName level, LogName event, std::initializer_list<LogField> fields) {
  if (!g_enabled.load(std::memory_order_relaxed)) return;
  std::string line;
  format_log_line(line, level, event, fields);
  write_all(line);
}

void log_buffered(LogName level, LogName event, std::initializer_list<LogField> fields) {
  if (!g_enabled.load(std::memory_order_relaxed)) return;
  format_log_line(t_buffer, level, event, fields);
  if (t_buffer.size() >= kFlushBytes) flush_log_buffer();
}

void flush_log_buffer() {
  if (t_buffer.empty()) return;
  write_all(t_buffer);
  t_buffer.clear();
}

void set_log_enabled(bool enabled) {
  g_enabled.store(enabled, std::memory_order_relaxed);
}

}  // namespace edgeguard
