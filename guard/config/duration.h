#pragma once
// Durations as operators write them: "1m", "500ms", "30s", "1h", "2h30m", "20ms", "100us", and
// days for ban lengths ("7d"). A bare number is seconds (Traefik's `period: 60` means 60 s).
#include <cstdint>
#include <optional>
#include <string_view>

namespace edgeguard {

std::optional<std::int64_t> parse_duration_ns(std::string_view text);

}  // namespace edgeguard
