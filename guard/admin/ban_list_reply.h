#pragma once
// GET /v1/bans read back: the client's side of append_ban_json() (ban_endpoints.h), for
// `edgeguard explain --admin` which loads a running instance's bans into its own table. The
// reply is data from another process: every field is checked (a subject in canonical form, a
// route, `until` in RFC 3339, a count >= 1, a known source), and the first bad one is named.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guard/bans/ban.h"

namespace edgeguard {

// At most this many bans are read (a table holds at most bans.max_active, far fewer).
inline constexpr std::size_t kMaxListedBans = 10'000'000;

// {"bans": [{"subject", "route", "until", "count", "reason", "source"}, ...]}; Ban::until_ns is
// Unix time. `ipv6_prefix` canonicalises subjects as the server did. nullopt and `error` when
// the body is not such a list.
std::optional<std::vector<Ban>> parse_ban_list(std::string_view body, int ipv6_prefix,
                                               std::string* error);

}  // namespace edgeguard
