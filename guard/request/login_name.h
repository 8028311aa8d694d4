#pragma once
// The login name in a forwarded request body (Traefik >= 3.3 with forwardBody: true), for limits
// and bans keyed on the account under attack rather than the address (SPEC section 9):
//   application/json                    Authentik's flow executor: {"component":
//                                        "ak-stage-identification", "uid_field": "alice"}
//   application/x-www-form-urlencoded   classic login forms (ERPNext: usr=alice&pwd=...)
// Only the named field is read; nothing else of the body is kept, copied or logged. The name is
// canonical: surrounding white space trimmed and ASCII lower-cased, so "Alice " and "alice" are
// one account. No body, another media type, a body that does not parse, no such field, a value
// that is not a string, empty, longer than kMaxUsernameBytes or with a control character: no
// name (an empty view).
#include <span>
#include <string_view>

namespace edgeguard {

inline constexpr std::size_t kMaxUsernameBytes = 256;

// Writes the name into `out` (at least kMaxUsernameBytes long) and returns a view of it.
std::string_view extract_username(std::string_view content_type, std::string_view body,
                                  std::string_view field, std::span<char> out);

// The canonical form of a name given outright (explain --username, a failure report): the same
// trimming, lower-casing and refusals. Writes into `out` like extract_username().
std::string_view canonical_username(std::string_view name, std::span<char> out);

}  // namespace edgeguard
