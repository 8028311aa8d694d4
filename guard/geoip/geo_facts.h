#pragma once
// What GeoIP knows about one address, resolved before the core decides.
#include <cstdint>

namespace edgeguard {

struct GeoFacts {
  char country[3] = {0, 0, 0};  // ISO 3166-1 alpha-2, upper case; empty when unknown
  std::uint32_t asn = 0;        // 0 when unknown
  bool has_country() const { return country[0] != 0; }
  bool has_asn() const { return asn != 0; }
};

}  // namespace edgeguard
