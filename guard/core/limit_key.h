#pragma once
// A limit's bucket key: route name, limit name and the key parts the limit counts by, in one
// canonical byte string ("route\x1flimit\x1f203.0.113.7"), plus its seeded 64-bit hash for the
// local store. Built into a caller-owned buffer: no allocation per request.
#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "guard/core/decision.h"
#include "guard/request/forward_request.h"
#include "guard/store/store.h"

namespace edgeguard {

inline constexpr std::size_t kKeyBufferBytes = 4096;

struct LimitCalls {
  std::array<LimitCall, kMaxLimitsPerRoute> calls{};
  std::array<BanOrder, kMaxLimitsPerRoute> bans{};  // what calls[i].ban points to
  std::size_t count = 0;
  std::array<char, kKeyBufferBytes> buffer;  // written before read: not zeroed per session
  std::span<const LimitCall> view() const { return {calls.data(), count}; }
};

// Fills `out` with one call per limit of `limits` (a route's limits or its failure limits) that
// applies: a limit keyed on the username does not without one. With `escalation`, a limit that
// bans carries its ban order (subject, scope, duration); without, nobody is banned (shadow,
// exempt clients).
void build_limit_calls(const Route& route, std::span<const LimitPolicy> limits,
                       const ForwardRequest& request, const Facts& facts, int ipv6_prefix,
                       LimitCalls& out, const Escalation* escalation = nullptr,
                       BanSource source = BanSource::limit);
inline void build_limit_calls(const Route& route, const ForwardRequest& request, const Facts& facts,
                              int ipv6_prefix, LimitCalls& out,
                              const Escalation* escalation = nullptr) {
  build_limit_calls(route, route.limits, request, facts, ipv6_prefix, out, escalation);
}

// The subject a ban of `limit` names for this request (ban.h): "ip:<client>" for a limit keyed
// on the client address alone, "user:<name>" for one keyed on the username alone, else
// "key:<route>/<limit>/<value parts>". Returns its length in `out` (0 when it does not fit).
std::size_t ban_subject(const Route& route, const LimitPolicy& limit, const ForwardRequest& request,
                        const Facts& facts, int ipv6_prefix, std::span<char> out);

// The human-readable part of a key (what follows route and limit name), for logs and replay.
std::string_view key_value(std::string_view key);

}  // namespace edgeguard
