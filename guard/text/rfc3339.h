#pragma once
// Unix time as RFC 3339 text, UTC, whole seconds ("2026-11-30T18:00:00Z"): the form logs, the
// admin API, ban answers and CrowdSec alerts use. Written once, by arithmetic: no gmtime_r (it
// takes glibc's time-zone lock) and no strftime on the log path.
#include <cstddef>
#include <cstdint>
#include <string>

namespace edgeguard {

// "YYYY-MM-DDTHH:MM:SS", the 19 bytes written to `out`, for a Unix time in whole seconds in
// years 0000-9999 (every int64 nanosecond time is: 1677-2262).
inline constexpr std::size_t kUtcSecondsBytes = 19;
void write_utc_seconds(char* out, std::int64_t unix_s);

// The same with its "Z", kRfc3339Bytes written to `out`: Unix nanoseconds rounded down to the
// second. For a caller that must not allocate (a ban's answer).
inline constexpr std::size_t kRfc3339Bytes = kUtcSecondsBytes + 1;
void write_rfc3339(char* out, std::int64_t unix_ns);

// The same as strings: seconds as given, or nanoseconds rounded down to the second.
std::string format_rfc3339_seconds(std::int64_t unix_s);
std::string format_rfc3339(std::int64_t unix_ns);

}  // namespace edgeguard
