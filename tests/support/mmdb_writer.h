#pragma once
// A small MaxMind DB (MMDB v2) writer for tests: builds tiny databases of the shapes edgeguard must
// read (MaxMind `{country: {iso_code}}`, ip-location-db `{country_code}`, ASN records, IPv4-only
// trees, IPv6 trees without the ::ffff:0:0/96 alias) so tests do not depend on external files.
// Follows the "MaxMind DB File Format Specification" v2.0: search tree, 16-byte separator, data
// section, then "\xAB\xCD\xEFMaxMind.com" and the metadata map.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgeguard::testing {

// One value of the MMDB data section.
class MmdbValue {
 public:
  static MmdbValue string(std::string text);
  static MmdbValue uint16(std::uint16_t value);
  static MmdbValue uint32(std::uint32_t value);
  static MmdbValue uint64(std::uint64_t value);
  static MmdbValue boolean(bool value);
  static MmdbValue map(std::initializer_list<std::pair<std::string, MmdbValue>> entries);
  static MmdbValue array(std::vector<MmdbValue> items);

  // Appends the value's data-section encoding (no pointers, no deduplication).
  void encode(std::string& out) const;

 private:
  enum class Kind { kString, kUint16, kUint32, kUint64, kBool, kMap, kArray };
  Kind kind_ = Kind::kString;
  std::string text_;
  std::uint64_t number_ = 0;
  std::vector<std::string> keys_;  // kMap: keys_[i] -> items_[i]
  std::vector<MmdbValue> items_;
};

// Record shapes seen in the wild.
MmdbValue maxmind_country(std::string_view iso_code);  // {country: {iso_code: "XX"}}
MmdbValue ip_location_country(std::string_view code);  // {country_code: "XX"}
MmdbValue asn_record(std::uint32_t asn,
                     std::string org);  // {autonomous_system_number, ..._organization}

class MmdbWriter {
 public:
  // ip_version 4 (32-bit tree) or 6 (128-bit tree).
  MmdbWriter(int ip_version, std::string database_type);

  // Maps a network ("192.0.2.0/24", "2001:db8::/32", bare address = host route) to `value`. In
  // an IPv6 tree an IPv4 network goes to ::a.b.c.d/(96+len), where readers look for IPv4; no
  // ::ffff:0:0/96 alias is written. A later, shorter network replaces what it covers; insert
  // broad networks first. Returns false on a malformed network or an IPv6 one in an IPv4 tree.
  bool insert(std::string_view network, MmdbValue value);

  void set_build_epoch(std::uint64_t epoch) { build_epoch_ = epoch; }

  std::string build() const;
  // Writes build() to `path` (truncating). Returns false on an I/O error.
  bool write_file(const std::string& path) const;

 private:
  static constexpr std::int64_t kEmpty = -1;
  // child >= 0: node index; kEmpty; <= -2: data record -2 - child.
  struct Node {
    std::int64_t child[2] = {kEmpty, kEmpty};
  };

  int ip_version_;
  std::string database_type_;
  std::uint64_t build_epoch_ = 1'700'000'000;
  std::vector<Node> nodes_;
  std::vector<MmdbValue> values_;
};

}  // namespace edgeguard::testing
