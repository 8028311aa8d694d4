#pragma once
// Durations as Go writes them (time.Duration): LAPI's `duration` fields ("3h59m58.123456789s",
// "-1.5s" once expired, "500ms", "1µs") and what it parses back in an alert's decision.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgeguard {

// Go's time.ParseDuration: an optional sign, then one or more <number><unit> with a decimal
// fraction allowed on each number; units ns, us, µs (U+00B5 or U+03BC), ms, s, m, h; "0" alone
// needs no unit. Computed as Go computes it (fractions through float64, as there), so both
// sides agree to the nanosecond; nullopt on anything else or when the value does not fit in
// int64 nanoseconds (about 292 years).
std::optional<std::int64_t> parse_go_duration_ns(std::string_view text);

// Go's Duration.String(): "15m0s", "1h0m0s", "1.5s", "500ms", "0s", "-2s".
std::string format_go_duration(std::int64_t ns);

}  // namespace edgeguard
