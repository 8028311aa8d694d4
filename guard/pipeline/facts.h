#pragma once
// Facts about a client, resolved from the snapshot's data sources before the core decides: its
// country and AS from GeoIP, the enrolled tailnet node at its address, and whether one of the
// request's subjects is banned on the route. Lookups only: memory-mapped databases, sorted
// tables, the lock-free ban index; no I/O, no allocation.
#include <optional>

#include "guard/bans/ban.h"
#include "guard/core/decision.h"
#include "guard/pipeline/snapshot.h"

namespace edgeguard {

enum class FactLookups : std::uint8_t {
  for_route,  // only what the route's rules read (serve, replay: the request path)
  all,        // everything known about the client (explain shows it all)
};

// `username`: the canonical login name the route read (a view the caller keeps), or empty.
Facts resolve_facts(const Snapshot& snap, const Route& route, const ForwardRequest& request,
                    std::string_view username, std::int64_t now_ns,
                    FactLookups lookups = FactLookups::for_route);

// The ban behind `facts.banned_until_ns`: of the request's subjects banned on `route` (or on
// every route), the one that ends last, with its record (subject, scope, count, reason).
// Off the request path (explain): it copies strings.
std::optional<Ban> find_ban(const Snapshot& snap, const Route& route, const ForwardRequest& request,
                            const Facts& facts, std::int64_t now_ns);

}  // namespace edgeguard
