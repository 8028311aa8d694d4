#pragma once
// The enrolled nodes, indexed by address, built once per node-list load and then only read.
// find() is a binary search over a sorted vector of (address bits, entry index): ~log2(n) steps,
// no allocation, no locks. Everything the request path needs is precomputed per node
// (DirectoryEntry::tags_header), so the server never formats while answering.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guard/net/cidr_set.h"
#include "guard/net/ip_address.h"
#include "guard/tailnet/tailnet_node.h"

namespace edgeguard {

struct DirectoryEntry {
  TailnetNode node;
  std::string tags_header;  // node.tags joined with "," (no spaces); empty when untagged
};

class NodeDirectory {
 public:
  NodeDirectory() = default;
  // If two nodes claim one address the first keeps it (parse_node_list already refuses that).
  explicit NodeDirectory(std::vector<TailnetNode> nodes);

  const DirectoryEntry* find_entry(const IpAddress& ip) const;
  const TailnetNode* find(const IpAddress& ip) const {
    const DirectoryEntry* e = find_entry(ip);
    return e ? &e->node : nullptr;
  }

  std::size_t size() const { return entries_.size(); }         // nodes
  std::size_t address_count() const { return index_.size(); }  // indexed addresses
  const std::vector<DirectoryEntry>& entries() const { return entries_; }

 private:
  std::vector<DirectoryEntry> entries_;
  std::vector<std::pair<u128, std::uint32_t>> index_;  // sorted by address bits
};

// The directory narrowed to `ranges` (tailnet.ranges): an address outside them is not a tailnet
// address, so it is dropped, and a node left with none is not enrolled. Returns `all` itself
// when every address is inside (the common case: nothing is copied).
std::shared_ptr<const NodeDirectory> within_ranges(std::shared_ptr<const NodeDirectory> all,
                                                   const CidrSet& ranges);

// The `tailnet:` rule's narrowing. Linear over the rule's short lists; no allocation.
// tags: the node has ANY of `wanted` (exact, case-sensitive, as Tailscale compares tags).
bool has_any_tag(const TailnetNode& node, std::span<const std::string> wanted);
bool has_tag(const TailnetNode& node, std::string_view tag);
// users: the node's login is one of `logins` (ASCII case-insensitive: logins are e-mail-like).
// A node with an empty login (e.g. from a plain list) never matches.
bool login_in(const TailnetNode& node, std::span<const std::string> logins);

}  // namespace edgeguard
