#pragma once
// The typed requests of the bans endpoints, parsed strictly against the policy in force:
//   POST /v1/bans    {"subject": "ip:203.0.113.9", "for": "1h", "route": "*"}
//   DELETE /v1/bans/<subject>
// A subject is canonicalised as limit keys group clients (IPv6 by client_ip.ipv6_prefix);
// `for` is a duration as the config writes them, between kMinBanNs and kMaxBanNs; `route` is
// "*" (every route, the default) or a route of the policy. Anything else is a FieldError
// naming the field, and nothing is changed.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "guard/admin/json_fields.h"
#include "guard/policy/policy.h"

namespace edgeguard {

inline constexpr std::int64_t kMinBanNs = 1'000'000'000;                 // 1s
inline constexpr std::int64_t kMaxBanNs = 365 * 24 * 3'600'000'000'000;  // 365 days (8760h)

struct BanRequest {
  std::string subject;  // canonical
  std::string route;    // a route name, or "*"
  std::int64_t for_ns = 0;
};

std::optional<BanRequest> parse_ban_request(std::string_view body, const Policy& policy,
                                            FieldError* error);

// DELETE's subject, already percent-decoded, in canonical form.
std::optional<std::string> parse_unban_subject(std::string_view subject, const Policy& policy,
                                               FieldError* error);

}  // namespace edgeguard
