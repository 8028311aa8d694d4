#pragma once
// Unix time in nanoseconds as RFC 3339 text, UTC, whole seconds ("2026-11-30T18:00:00Z"): the
// form logs, the admin API and ban answers use.
#include <cstdint>
#include <string>

namespace edgeguard {

std::string format_rfc3339(std::int64_t unix_ns);

}  // namespace edgeguard
