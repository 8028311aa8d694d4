#pragma once
// Facts about a client, resolved from the snapshot's data sources before the core decides: its
// country and AS from GeoIP, and the enrolled tailnet node at its address. Lookups only: memory-
// mapped databases and sorted tables, no I/O, no allocation.
#include "guard/core/decision.h"
#include "guard/pipeline/snapshot.h"

namespace edgeguard {

enum class FactLookups : std::uint8_t {
  for_route,  // only what the route's rules read (serve, replay: the request path)
  all,        // everything known about the client (explain shows it all)
};

Facts resolve_facts(const Snapshot& snap, const Route& route, const IpAddress& client_ip,
                    FactLookups lookups = FactLookups::for_route);

}  // namespace edgeguard
