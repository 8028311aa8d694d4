#include "guard/tailnet/node_directory.h"

#include <algorithm>

#include "guard/text/ascii.h"

namespace edgeguard {

NodeDirectory::NodeDirectory(std::vector<TailnetNode> nodes) {
  entries_.reserve(nodes.size());
  for (TailnetNode& node : nodes) {
    DirectoryEntry entry;
    for (const std::string& tag : node.tags) {
      if (!entry.tags_header.empty()) entry.tags_header += ',';
      entry.tags_header += tag;
    }
    entry.node = std::move(node);
    entries_.push_back(std::move(entry));
  }
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    for (const IpAddress& ip : entries_[i].node.addresses) {
      index_.emplace_back(ip.bits(), static_cast<std::uint32_t>(i));
    }
  }
  // Stable so that, for a duplicated address, the earlier node sorts first and is kept.
  std::stable_sort(index_.begin(), index_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  index_.erase(std::unique(index_.begin(), index_.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               index_.end());
}

const DirectoryEntry* NodeDirectory::find_entry(const IpAddress& ip) const {
  const u128 bits = ip.bits();
  const auto it = std::lower_bound(index_.begin(), index_.end(), bits,
                                   [](const auto& slot, u128 key) { return slot.first < key; });
  if (it == index_.end() || it->first != bits) return nullptr;
  return &entries_[it->second];
}

std::shared_ptr<const NodeDirectory> within_ranges(std::shared_ptr<const NodeDirectory> all,
                                                   const CidrSet& ranges) {
  const auto inside = [&](const IpAddress& ip) { return ranges.contains(ip); };
  const bool every = std::all_of(all->entries().begin(), all->entries().end(), [&](const auto& e) {
    return std::all_of(e.node.addresses.begin(), e.node.addresses.end(), inside);
  });
  if (every) return all;
  std::vector<TailnetNode> kept;
  for (const DirectoryEntry& e : all->entries()) {
    TailnetNode node = e.node;
    std::erase_if(node.addresses, [&](const IpAddress& ip) { return !inside(ip); });
    if (!node.addresses.empty()) kept.push_back(std::move(node));
  }
  return std::make_shared<const NodeDirectory>(std::move(kept));
}

bool has_tag(const TailnetNode& node, std::string_view tag) {
  return std::find(node.tags.begin(), node.tags.end(), tag) != node.tags.end();
}

bool has_any_tag(const TailnetNode& node, std::span<const std::string> wanted) {
  return std::any_of(wanted.begin(), wanted.end(),
                     [&](const std::string& tag) { return has_tag(node, tag); });
}

bool login_in(const TailnetNode& node, std::span<const std::string> logins) {
  if (node.login.empty()) return false;
  return std::any_of(logins.begin(), logins.end(),
                     [&](const std::string& login) { return iequals(node.login, login); });
}

}  // namespace edgeguard
