#include "guard/net/cidr_set.h"

#include <algorithm>

namespace edgeguard {

CidrSet::CidrSet(std::span<const Cidr> networks) {
  for (const auto& n : networks) add(n);
  finish();
}

void CidrSet::add(const Cidr& network) {
  ranges_.push_back({network.first(), network.last()});
}

void CidrSet::finish() {
  std::sort(ranges_.begin(), ranges_.end(),
            [](const Range& a, const Range& b) { return a.first < b.first; });
  std::vector<Range> merged;
  merged.reserve(ranges_.size());
  for (const auto& r : ranges_) {
    // Adjacent ranges merge too (last + 1 == first), except at the top of the space.
    if (!merged.empty() && (r.first <= merged.back().last || (merged.back().last != ~u128{0} &&
                                                              r.first == merged.back().last + 1))) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  merged.shrink_to_fit();
  ranges_ = std::move(merged);
}

bool CidrSet::contains(const IpAddress& ip) const {
  const u128 v = ip.bits();
  // First range starting after v; the candidate is the one before it.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), v,
                             [](u128 value, const Range& r) { return value < r.first; });
  if (it == ranges_.begin()) return false;
  --it;
  return v <= it->last;
}

}  // namespace edgeguard
