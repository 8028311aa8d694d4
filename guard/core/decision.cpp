#include "guard/core/decision.h"

namespace edgeguard {

int Decision::status() const {
  if (verdict != Verdict::deny) return 200;
  const Responses& r = route != nullptr ? route->responses : Responses{};
  return reason == Reason::rate_limit ? r.rate_limited : r.forbidden;
}

const LimitPolicy* Decision::limit() const {
  if (route == nullptr || limit_index < 0) return nullptr;
  const auto i = static_cast<std::size_t>(limit_index);
  return i < route->limits.size() ? &route->limits[i] : nullptr;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::allow:
      return "allow";
    case Verdict::deny:
      return "deny";
    case Verdict::shadow_deny:
      return "shadow_deny";
  }
  return "?";
}

const char* to_string(Reason r) {
  switch (r) {
    case Reason::none:
      return "none";
    case Reason::caller:
      return "caller";
    case Reason::ip:
      return "ip";
    case Reason::tailnet:
      return "tailnet";
    case Reason::geo:
      return "geo";
    case Reason::rate_limit:
      return "rate_limit";
    case Reason::default_deny:
      return "default";
    case Reason::ban:
      return "ban";
    case Reason::crowdsec:
      return "crowdsec";
  }
  return "?";
}

std::int64_t retry_after_seconds(std::int64_t retry_after_ns) {
  constexpr std::int64_t kSecond = 1'000'000'000;
  const std::int64_t s = (retry_after_ns + kSecond - 1) / kSecond;
  return s < 1 ? 1 : s;
}

}  // namespace edgeguard
