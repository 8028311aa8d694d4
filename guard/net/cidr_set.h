#pragma once
// A set of networks answering "is this address in it" by binary search over merged, sorted
// 128-bit ranges: O(log n) for 10 or 10 000 entries, one contiguous array, no allocation per
// lookup. Built once at config load and then immutable.
#include <span>
#include <vector>

#include "guard/net/ip_address.h"

namespace edgeguard {

class CidrSet {
 public:
  CidrSet() = default;
  explicit CidrSet(std::span<const Cidr> networks);

  void add(const Cidr& network);  // Only while building; call finish() before lookups.
  void finish();

  bool contains(const IpAddress& ip) const;
  bool empty() const { return ranges_.empty(); }
  std::size_t range_count() const { return ranges_.size(); }

 private:
  struct Range {
    u128 first;
    u128 last;
  };
  std::vector<Range> ranges_;
};

}  // namespace edgeguard
