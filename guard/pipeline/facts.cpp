#include "guard/pipeline/facts.h"

namespace edgeguard {

Facts resolve_facts(const Snapshot& snap, const Route& route, const IpAddress& client_ip,
                    FactLookups lookups) {
  Facts facts;
  facts.client_ip = client_ip;
  const bool all = lookups == FactLookups::all;
  if (snap.geo && (all || route.geo)) facts.geo = snap.geo->lookup(client_ip);
  if (snap.nodes && (all || route.tailnet)) facts.node = snap.nodes->find_entry(client_ip);
  return facts;
}

}  // namespace edgeguard
