#pragma once
// A ban (penalty box, SPEC section 9): a subject refused on one route or on every route until a
// time. Subjects name who is banned, in the form the admin API and the logs show:
//   ip:203.0.113.9            an IPv4 client
//   ip:2001:db8:1:2::/64      an IPv6 client, by its /ipv6_prefix (as limit keys group it)
//   user:alice                a login name (usernames, issue 13)
//   key:erp/per-tenant/acme   another limit key: route/limit/value
// The n-th ban of a subject within the escalation memory lasts for x factor^(n-1), capped.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "guard/net/ip_address.h"

namespace edgeguard {

inline constexpr std::string_view kEveryRoute = "*";

enum class BanSource : std::uint8_t { limit, failure, manual };
const char* to_string(BanSource source);

struct Ban {
  std::string subject;
  std::string route;          // a route name, or kEveryRoute
  std::int64_t until_ns = 0;  // in the clock of the table that holds it
  std::int64_t count = 1;     // n-th ban of the subject within the escalation memory
  std::string reason;         // the limit that tripped, or "manual"
  BanSource source = BanSource::limit;
  // Redis mode: when Redis last confirmed this ban (table clock), so a resync can tell a ban
  // Redis no longer holds (lifted or evicted while this replica was not listening) from one it
  // simply has not seen yet. 0: this process made it alone (local mode, or the Redis store's
  // fallback during an outage), and only its end or an unban lifts it.
  std::int64_t confirmed_ns = 0;
};

struct Escalation {
  double factor = 2;
  std::int64_t max_ns = 24 * 3'600'000'000'000;
  std::int64_t memory_ns = 7 * 24 * 3'600'000'000'000;
};

// What to ban when a limit denies (its `ban:`), as the request path hands it to a store.
struct BanOrder {
  std::string_view subject;  // "ip:203.0.113.9", "user:alice", "key:route/limit/value"
  std::string_view scope;    // the route's name, or kEveryRoute
  std::string_view reason;   // the limit's name
  std::int64_t for_ns = 0;   // the first ban; the n-th is escalated
  const Escalation* escalation = nullptr;
  BanSource source = BanSource::limit;
};

// How long the n-th ban (n >= 1) lasts: min(for x factor^(n-1), max).
std::int64_t ban_duration(std::int64_t for_ns, std::int64_t n, const Escalation& e);

// The subject of a client address: "ip:<addr>", IPv6 grouped by `ipv6_prefix`. Writes at most
// kMaxIpSubject bytes to `out`.
inline constexpr std::size_t kMaxIpSubject = 3 + 46 + 4;
std::size_t format_ip_subject(const IpAddress& ip, int ipv6_prefix, char* out);

// A subject as an operator types it (admin API, CLI), in canonical form: "ip:" with an address
// (IPv6 masked to `ipv6_prefix` and written with it), "user:" with a non-empty name, "key:"
// with a non-empty value. nullopt (and `error`) for anything else.
std::optional<std::string> canonical_subject(std::string_view text, int ipv6_prefix,
                                             std::string* error);

}  // namespace edgeguard
