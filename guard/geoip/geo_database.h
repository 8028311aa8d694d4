#pragma once
// One opened pair of GeoIP databases (country and/or ASN), immutable once open and shared by every
// request thread. Reloading builds a new GeoDatabase aside (see geoip_source.h); a lookup never
// sees a half-opened one.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "guard/geoip/geo_facts.h"
#include "guard/net/ip_address.h"

namespace edgeguard {

struct GeoIpConfig {
  std::string country_db;     // path; empty = no country database
  std::string asn_db;         // path; empty = no ASN database
  std::string country_field;  // dotted path ("country.iso_code"); empty = detect at open
};

class GeoDatabase {
 public:
  // Opens the configured files with MMDB_MODE_MMAP. Returns null and fills `error` (naming the
  // file and what is wrong) when a configured file cannot be opened, is not a MaxMind DB, or its
  // country field cannot be detected. With neither file configured it opens an empty database
  // that knows nothing.
  static std::shared_ptr<const GeoDatabase> open(const GeoIpConfig& config, std::string* error);

 private:
  struct PrivateTag {};  // only open() constructs, yet make_shared needs a public constructor

 public:
  explicit GeoDatabase(PrivateTag);
  ~GeoDatabase();
  GeoDatabase(const GeoDatabase&) = delete;
  GeoDatabase& operator=(const GeoDatabase&) = delete;

  // Country and ASN of `ip`; empty facts when unknown or when `ip` is private, loopback,
  // link-local or in the tailnet range (never judged by country). Allocation-free. IPv4 is looked
  // up as IPv4, so trees without the ::ffff:0:0/96 alias (ip-location-db) answer too.
  GeoFacts lookup(const IpAddress& ip) const;

  // Oldest metadata build_epoch of the opened databases (Unix seconds); 0 with none open.
  std::int64_t build_epoch() const;

  bool has_country_db() const { return country_ != nullptr; }
  bool has_asn_db() const { return asn_ != nullptr; }
  // The record path used for the country code, dotted ("country.iso_code" or "country_code").
  std::string country_field() const;

 private:
  struct Handle;  // one open MMDB file (libmaxminddb's MMDB_s), closed on destruction

  static std::unique_ptr<Handle> open_file(const std::string& path, const char* key,
                                           std::string* error);

  std::unique_ptr<Handle> country_;
  std::unique_ptr<Handle> asn_;
  // The country path split once at open; country_path_ptrs_ is the null-terminated array that
  // MMDB_aget_value walks, pointing into country_path_ (never resized after open).
  std::vector<std::string> country_path_;
  std::vector<const char*> country_path_ptrs_;
};

}  // namespace edgeguard
