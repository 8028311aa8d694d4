#include "guard/admin/admin_auth.h"

#include "guard/text/ascii.h"

namespace edgeguard {
namespace {

constexpr std::string_view kChallenge = "Bearer realm=\"edgeguard\"";

AdminResponse unauthorized(std::string_view detail, bool invalid_token) {
  AdminResponse r = problem(401, detail);
  std::string challenge(kChallenge);
  // RFC 6750 section 3: a token was presented and is not valid.
  if (invalid_token) challenge += ", error=\"invalid_token\"";
  r.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  return r;
}

}  // namespace

AdminAuth AdminAuth::open() {
  return {};
}

AdminAuth AdminAuth::admin_token() {
  AdminAuth a;
  a.kind = Kind::token_or_loopback;
  a.token = [](const Policy& p) { return std::string_view(p.admin.token); };
  return a;
}

AdminAuth AdminAuth::bearer(std::function<std::string_view(const Policy& policy)> token) {
  AdminAuth a;
  a.kind = Kind::token;
  a.token = std::move(token);
  return a;
}

bool is_loopback(const IpAddress& ip) {
  if (ip.is_v4()) return (ip.v4() >> 24) == 127;
  return ip.bits() == 1;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !iequals_lower(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty() || token.find(' ') != std::string_view::npos) return std::nullopt;
  return token;
}

bool constant_time_equal(std::string_view presented, std::string_view expected) {
  // Every byte of `expected` is compared whatever the presented bytes are; a length mismatch
  // only sets the result, so timing reveals the expected length at most.
  unsigned diff = presented.size() == expected.size() ? 0u : 1u;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0u;
    diff |= p ^ static_cast<unsigned char>(expected[i]);
  }
  volatile unsigned result = diff;  // keeps the loop from being turned into an early exit
  return result == 0;
}

std::optional<AdminResponse> check_auth(const AdminAuth& auth, const Policy& policy,
                                        const AdminCredentials& credentials) {
  if (auth.kind == AdminAuth::Kind::open) return std::nullopt;
  if (credentials.authorization_count > 1) {
    return problem(400, "send one Authorization header");
  }
  const std::string_view expected = auth.token ? auth.token(policy) : std::string_view();
  if (expected.empty()) {
    if (auth.kind == AdminAuth::Kind::token) {
      return unauthorized("this endpoint's token file is not configured: nobody may call it",
                          false);
    }
    if (is_loopback(credentials.peer)) return std::nullopt;
    return problem(403,
                   "no admin.token_file is configured: only loopback callers (127.0.0.0/8, ::1) "
                   "may use the admin API");
  }
  if (credentials.authorization.empty()) {
    return unauthorized("this endpoint needs Authorization: Bearer <token>", false);
  }
  const auto presented = bearer_token(credentials.authorization);
  if (!presented) {
    return unauthorized("this endpoint takes the Bearer scheme: Authorization: Bearer <token>",
                        false);
  }
  if (!constant_time_equal(*presented, expected)) {
    return unauthorized("the token is not valid", true);
  }
  return std::nullopt;
}

}  // namespace edgeguard
