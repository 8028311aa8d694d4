#pragma once
// Who may call an admin endpoint. Decided per request from the Authorization header, the peer
// address and the policy in force (so a reload that rotates a token applies to the next
// request). Three kinds:
//   open               anyone who reaches the listener (/metrics, /healthz, /readyz)
//   token_or_loopback  admin.token_file's token when one is configured, else loopback callers
//                      only (127.0.0.0/8, ::1): the /v1 endpoints
//   token              a token of the endpoint's own that must be presented; with none
//                      configured nobody may call (the failures webhook, issue 13)
// A token is compared in time that does not depend on the presented value, and no refusal
// quotes what was presented.
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "guard/admin/admin_response.h"
#include "guard/net/ip_address.h"
#include "guard/policy/policy.h"

namespace edgeguard {

struct AdminAuth {
  enum class Kind : std::uint8_t { open, token_or_loopback, token };
  Kind kind = Kind::open;
  // The token in force in `policy`; empty when none is configured.
  std::function<std::string_view(const Policy& policy)> token;

  static AdminAuth open();
  static AdminAuth admin_token();
  static AdminAuth bearer(std::function<std::string_view(const Policy& policy)> token);
};

// What the auth check sees of a request.
struct AdminCredentials {
  std::string_view authorization;  // the Authorization header's value ("" when absent)
  int authorization_count = 0;     // how many Authorization headers came
  IpAddress peer;
};

// nullopt: admitted. Otherwise the refusal: 401 with a Bearer challenge, 403 for a
// non-loopback caller when no token is configured, 400 for two Authorization headers.
std::optional<AdminResponse> check_auth(const AdminAuth& auth, const Policy& policy,
                                        const AdminCredentials& credentials);

// 127.0.0.0/8 and ::1 (IPv4 written v4-mapped is IPv4).
bool is_loopback(const IpAddress& ip);

// The token of "Bearer <token>" (the scheme in any case, one or more spaces); nullopt for
// another scheme or no token.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// Equal, in a time that depends on `expected`'s length only.
bool constant_time_equal(std::string_view presented, std::string_view expected);

}  // namespace edgeguard
