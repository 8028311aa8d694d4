#pragma once
// Which address is the client's, from an X-Forwarded-For-style list, with Traefik's ipStrategy
// semantics. The rightmost entry is the peer Traefik saw; entries to its left were sent by the
// client (or proxies before Traefik) and are trusted only as far as configured.
#include <optional>
#include <span>
#include <string_view>

#include "guard/net/cidr_set.h"
#include "guard/net/ip_address.h"

namespace edgeguard {

struct ClientIpStrategy {
  int depth = 1;  // take the Nth entry from the right (1 = the peer Traefik saw)
  const CidrSet* trusted_hops = nullptr;  // when set: skip entries from the right while trusted
};

enum class ClientIpError { none, missing, too_few_entries, all_trusted, unparseable };

struct ClientIpResult {
  IpAddress ip;
  ClientIpError error = ClientIpError::none;
};

// `value` is the header value (several header lines already joined with ","). Entries are
// trimmed; "1.2.3.4:80", "[2001:db8::1]:443", "[2001:db8::1]" and "::ffff:1.2.3.4" all parse.
ClientIpResult resolve_client_ip(std::string_view value, const ClientIpStrategy& strategy);

// One list entry to an address (the trimming and stripping above); nullopt if unparseable.
std::optional<IpAddress> parse_forwarded_entry(std::string_view entry);

const char* describe(ClientIpError error);

}  // namespace edgeguard
