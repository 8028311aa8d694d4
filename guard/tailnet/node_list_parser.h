#pragma once
// Turns a node list, in one of the shapes the tailnet tools print, into TailnetNodes. Pure: no
// I/O, no clock; errors are values naming where the input went wrong (a line number, or a JSON
// path such as `Peer["nodekey:ab"].TailscaleIPs[1]`). Survives arbitrary bytes.
//
// Shapes (field names as the tools print them):
//  - tailscale-status: `tailscale status --json` (ipnstate.Status). `Self` and every `Peer` value
//    are nodes: `ID`, `DNSName` (trailing dot dropped; `HostName` when empty), `TailscaleIPs`,
//    `Tags`, `UserID` looked up in the top-level `User` map (`LoginName`, `DisplayName`).
//  - tailscale-api: `GET /api/v2/tailnet/-/devices` → `{"devices": [...]}`: `nodeId` (else `id`),
//    `name` (else `hostname`), `addresses`, `tags`, `user` (the login). Only devices with
//    `"authorized": true` are enrolled; others (false or missing) are skipped.
//  - headscale: `headscale nodes list -o json` → an array of nodes, or `{"nodes": [...]}`: `id`
//    (number or string), `given_name` (else `name`), `ip_addresses`, the union of `valid_tags`,
//    `forced_tags` and `tags`, `user` {`name`, `display_name`, `email`}; login is the email, else
//    the user name.
//  - list: one address per line, optionally followed by whitespace-separated `tag:` tokens; `#`
//    starts a comment; blank lines are ignored. The node name and id are empty.
//
// Every string that can reach a response header (name, login, user, id) has control bytes replaced
// by '?', so a display name cannot inject a header. A tag must be `tag:` followed by bytes that are
// not space, comma or control (the Tailscale-Tags header joins tags with commas). An address that
// does not parse is an error, as is one address claimed by two nodes.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guard/tailnet/node_list_format.h"
#include "guard/tailnet/tailnet_node.h"

namespace edgeguard {

struct NodeListParse {
  std::vector<TailnetNode> nodes;
  std::string error;  // empty on success
  bool ok() const { return error.empty(); }
};

NodeListParse parse_node_list(NodeListFormat format, std::string_view text);

// True when `tag` is a tag the parsers accept: "tag:" plus at least one byte that is not space,
// comma, control or DEL.
bool is_valid_tag(std::string_view tag);

}  // namespace edgeguard
