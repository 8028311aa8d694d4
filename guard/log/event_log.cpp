#include "guard/log/event_log.h"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <mutex>

#include "guard/log/json_string.h"
#include "guard/text/rfc3339.h"

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

void append_timestamp(std::string& out) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  char buf[kUtcSecondsBytes];
  write_utc_seconds(buf, ms.count() / 1000);  // the clock is past 1970: no negative remainder
  out.append(buf, sizeof buf);
  char frac[8];
  const int f = static_cast<int>(ms.count() % 1000);
  frac[0] = '.';
  frac[1] = static_cast<char>('0' + f / 100);
  frac[2] = static_cast<char>('0' + f / 10 % 10);
  frac[3] = static_cast<char>('0' + f % 10);
  frac[4] = 'Z';
  out.append(frac, 5);
}

thread_local std::string t_buffer;

}  // namespace

void format_log_line(std::string& out, LogName level, LogName event,
                     std::initializer_list<LogField> fields) {
  out += "{\"ts\":\"";
  append_timestamp(out);
  // Level, event and field names were checked when compiled (LogName): nothing to escape.
  out += "\",\"level\":\"";
  out += level.text();
  out += "\",\"event\":\"";
  out += event.text();
  out += '"';
  for (const auto& [name, value] : fields) {
    out += ",\"";
    out += name.text();
    out += "\":";
    if (value.is_number) {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value.number);
      (void)ec;
      out.append(buf, static_cast<std::size_t>(end - buf));
    } else {
      append_json_string(out, value.text);
    }
  }
  out += "}\n";
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
