#pragma once
// One device enrolled in the tailnet, as any node-list source describes it.
#include <string>
#include <vector>

#include "guard/net/ip_address.h"

namespace edgeguard {

struct TailnetNode {
  std::string id;                 // stable node id (Tailscale "ID"/"nodeId", headscale "id")
  std::string name;               // MagicDNS / host name, without trailing dot
  std::string login;              // user login name, e.g. alice@example.com
  std::string user;               // user display name (falls back to login)
  std::vector<std::string> tags;  // e.g. "tag:admin"
  std::vector<IpAddress> addresses;

  bool operator==(const TailnetNode&) const = default;
};

}  // namespace edgeguard
