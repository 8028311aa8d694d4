#include "guard/log/event_log.h"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstring>
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

// Writes the time now as 2006-01-02T15:04:05.000Z (kTimestampBytes) and returns the end.
constexpr std::size_t kTimestampBytes = kUtcSecondsBytes + 5;
char* write_timestamp(char* out) {
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
  return out + 5;
}

char* put(char* out, std::string_view s) {
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

thread_local std::string t_buffer;

}  // namespace

// The line is sized once, to the most it can take, and written with plain stores: appended piece
// by piece, a decision line made about forty appends, each checking the string's capacity
// (bench/README.md, "Log names written as they are"). Sizing zero-fills the bound, six times
// each string value: about the cost of copying it, and a thread's buffer keeps that capacity.
void format_log_line(std::string& out, LogName level, LogName event,
                     std::initializer_list<LogField> fields) {
  // The bound and the writes below add up the same pieces: a byte written is a byte counted.
  static constexpr std::string_view kTs = "{\"ts\":\"", kLevel = "\",\"level\":\"",
                                    kEvent = "\",\"event\":\"", kEventEnd = "\"", kNameOpen = ",\"",
                                    kNameClose = "\":", kEnd = "}\n";
  constexpr std::size_t kNumberBytes = 20;  // "-9223372036854775808"
  std::size_t bound = kTs.size() + kTimestampBytes + kLevel.size() + level.text().size() +
                      kEvent.size() + event.text().size() + kEventEnd.size() + kEnd.size();
  for (const auto& [name, value] : fields) {
    bound += kNameOpen.size() + name.text().size() + kNameClose.size() +
             (value.is_number ? kNumberBytes : json_string_bound(value.text.size()));
  }
  const std::size_t at = out.size();
  out.resize(at + bound);
  char* p = out.data() + at;
  // Level, event and field names were checked when compiled (LogName): nothing to escape.
  p = put(p, kTs);
  p = write_timestamp(p);
  p = put(p, kLevel);
  p = put(p, level.text());
  p = put(p, kEvent);
  p = put(p, event.text());
  p = put(p, kEventEnd);
  for (const auto& [name, value] : fields) {
    p = put(p, kNameOpen);
    p = put(p, name.text());
    p = put(p, kNameClose);
    if (value.is_number) {
      p = std::to_chars(p, p + kNumberBytes, value.number).ptr;
    } else {
      p = write_json_string(p, value.text);
    }
  }
  p = put(p, kEnd);
  out.resize(static_cast<std::size_t>(p - out.data()));
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
