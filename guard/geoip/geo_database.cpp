#include "guard/geoip/geo_database.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>

namespace edgeguard {

struct GeoDatabase::Handle {
  MMDB_s mmdb{};
  bool open = false;  // MMDB_open frees its own state on failure; close only what opened
  ~Handle() {
    if (open) MMDB_close(&mmdb);
  }
};

namespace {

constexpr const char* kIsoCodePath[] = {"country", "iso_code", nullptr};
constexpr const char* kCountryCodePath[] = {"country_code", nullptr};
constexpr const char* kAsnPath[] = {"autonomous_system_number", nullptr};

// Bounds on the probe that detects the record shape: enough to get past the records without a
// country (continent-only, anonymous networks) that sit at the start of real databases.
constexpr std::size_t kProbeMaxNodes = 1 << 16;
constexpr std::size_t kProbeMaxRecords = 4096;

bool has_string(MMDB_entry_s entry, const char* const* path) {
  MMDB_entry_data_s data{};
  return MMDB_aget_value(&entry, &data, path) == MMDB_SUCCESS && data.has_data &&
         data.type == MMDB_DATA_TYPE_UTF8_STRING;
}

enum class Shape { kUnknown, kMaxMind, kIpLocationDb };

// Walks the search tree depth-first and looks at the first data records it meets. The tree of an
// IPv6 database with IPv4 aliases is a graph (aliases point back into the IPv4 subtree), so the
// walk is bounded by count rather than by a visited set.
Shape probe_shape(MMDB_s& mmdb) {
  const std::uint32_t node_count = mmdb.metadata.node_count;
  std::vector<std::uint32_t> stack{0};
  std::size_t nodes = 0;
  std::size_t records = 0;
  while (!stack.empty() && nodes < kProbeMaxNodes && records < kProbeMaxRecords) {
    const std::uint32_t n = stack.back();
    stack.pop_back();
    ++nodes;
    MMDB_search_node_s node{};
    if (n >= node_count || MMDB_read_node(&mmdb, n, &node) != MMDB_SUCCESS) continue;
    // Right first so that the left child is popped first: low addresses come first.
    const std::pair<std::uint8_t, std::uint64_t> children[2] = {
        {node.right_record_type, node.right_record}, {node.left_record_type, node.left_record}};
    const MMDB_entry_s entries[2] = {node.right_record_entry, node.left_record_entry};
    for (int i = 0; i < 2; ++i) {
      if (children[i].first == MMDB_RECORD_TYPE_SEARCH_NODE) {
        stack.push_back(static_cast<std::uint32_t>(children[i].second));
      } else if (children[i].first == MMDB_RECORD_TYPE_DATA) {
        ++records;
        const bool iso = has_string(entries[i], kIsoCodePath);
        const bool code = has_string(entries[i], kCountryCodePath);
        if (iso) return Shape::kMaxMind;
        if (code) return Shape::kIpLocationDb;
      }
    }
  }
  return Shape::kUnknown;
}

bool starts_with_any(std::string_view text, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [text](std::string_view p) { return text.starts_with(p); });
}

std::vector<std::string> split_path(std::string_view dotted) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = dotted.find('.', start);
    parts.emplace_back(dotted.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

}  // namespace

std::unique_ptr<GeoDatabase::Handle> GeoDatabase::open_file(const std::string& path,
                                                            const char* key, std::string* error) {
  auto handle = std::make_unique<Handle>();
  const int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &handle->mmdb);
  const int saved_errno = errno;
  if (status != MMDB_SUCCESS) {
    if (error) {
      *error = std::string("geoip.") + key + " '" + path + "': " + MMDB_strerror(status);
      if (status == MMDB_IO_ERROR || status == MMDB_FILE_OPEN_ERROR) {
        *error += std::string(" (") + std::strerror(saved_errno) + ")";
      }
    }
    return nullptr;
  }
  handle->open = true;
  return handle;
}

std::shared_ptr<const GeoDatabase> GeoDatabase::open(const GeoIpConfig& config,
                                                     std::string* error) {
  auto db = std::make_shared<GeoDatabase>(PrivateTag{});
  if (!config.country_db.empty()) {
    db->country_ = open_file(config.country_db, "country_db", error);
    if (!db->country_) return nullptr;
  }
  if (!config.asn_db.empty()) {
    db->asn_ = open_file(config.asn_db, "asn_db", error);
    if (!db->asn_) return nullptr;
  }

  std::string field = config.country_field;
  if (field.empty() && db->country_) {
    MMDB_s& mmdb = db->country_->mmdb;
    const std::string_view type = mmdb.metadata.database_type ? mmdb.metadata.database_type : "";
    switch (probe_shape(mmdb)) {
      case Shape::kMaxMind:
        field = "country.iso_code";
        break;
      case Shape::kIpLocationDb:
        field = "country_code";
        break;
      case Shape::kUnknown:
        // A database whose sampled records carry no country at all: trust its declared type
        // when it is one of the MaxMind-shaped families, otherwise ask the operator.
        if (starts_with_any(type, {"GeoIP", "GeoLite", "DBIP"})) {
          field = "country.iso_code";
        } else {
          if (error) {
            *error = "geoip.country_db '" + config.country_db + "' (database_type \"" +
                     std::string(type) +
                     "\"): no record has country.iso_code or country_code; set "
                     "geoip.country_field";
          }
          return nullptr;
        }
        break;
    }
  }
  if (field.empty()) field = "country.iso_code";
  db->country_path_ = split_path(field);
  for (const std::string& part : db->country_path_) {
    if (part.empty()) {
      if (error) *error = "geoip.country_field '" + field + "': empty path segment";
      return nullptr;
    }
  }
  db->country_path_ptrs_.reserve(db->country_path_.size() + 1);
  for (const std::string& part : db->country_path_) db->country_path_ptrs_.push_back(part.c_str());
  db->country_path_ptrs_.push_back(nullptr);
  return db;
}

GeoDatabase::GeoDatabase(PrivateTag) {}
GeoDatabase::~GeoDatabase() = default;

GeoFacts GeoDatabase::lookup(const IpAddress& ip) const {
  GeoFacts facts;
  if ((!country_ && !asn_) || ip.is_private_or_local()) return facts;

  sockaddr_in v4{};
  sockaddr_in6 v6{};
  const sockaddr* addr = nullptr;
  if (ip.is_v4()) {
    // As AF_INET, not ::ffff:a.b.c.d: libmaxminddb then starts at the IPv4 subtree (::/96),
    // which every IPv6 database has, while the ::ffff:0:0/96 alias is optional.
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(ip.v4());
    addr = reinterpret_cast<const sockaddr*>(&v4);
  } else {
    v6.sin6_family = AF_INET6;
    const auto bytes = ip.bytes();
    std::memcpy(v6.sin6_addr.s6_addr, bytes.data(), bytes.size());
    addr = reinterpret_cast<const sockaddr*>(&v6);
  }

  if (country_) {
    int err = MMDB_SUCCESS;
    MMDB_lookup_result_s result = MMDB_lookup_sockaddr(&country_->mmdb, addr, &err);
    MMDB_entry_data_s data{};
    if (err == MMDB_SUCCESS && result.found_entry &&
        MMDB_aget_value(&result.entry, &data, country_path_ptrs_.data()) == MMDB_SUCCESS &&
        data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING && data.data_size == 2) {
      const char a = data.utf8_string[0];
      const char b = data.utf8_string[1];
      auto is_alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
      if (is_alpha(a) && is_alpha(b)) {
        facts.country[0] = static_cast<char>(a & ~0x20);  // ASCII upper case
        facts.country[1] = static_cast<char>(b & ~0x20);
      }
    }
  }
  if (asn_) {
    int err = MMDB_SUCCESS;
    MMDB_lookup_result_s result = MMDB_lookup_sockaddr(&asn_->mmdb, addr, &err);
    MMDB_entry_data_s data{};
    if (err == MMDB_SUCCESS && result.found_entry &&
        MMDB_aget_value(&result.entry, &data, kAsnPath) == MMDB_SUCCESS && data.has_data) {
      std::uint64_t asn = 0;
      switch (data.type) {
        case MMDB_DATA_TYPE_UINT16:
          asn = data.uint16;
          break;
        case MMDB_DATA_TYPE_UINT32:
          asn = data.uint32;
          break;
        case MMDB_DATA_TYPE_UINT64:
          asn = data.uint64;
          break;
        case MMDB_DATA_TYPE_INT32:
          asn = data.int32 > 0 ? static_cast<std::uint64_t>(data.int32) : 0;
          break;
        default:
          break;
      }
      if (asn <= std::numeric_limits<std::uint32_t>::max()) {
        facts.asn = static_cast<std::uint32_t>(asn);
      }
    }
  }
  return facts;
}

std::int64_t GeoDatabase::build_epoch() const {
  std::int64_t epoch = 0;
  for (const Handle* h : {country_.get(), asn_.get()}) {
    if (!h) continue;
    const auto e = static_cast<std::int64_t>(h->mmdb.metadata.build_epoch);
    epoch = epoch == 0 ? e : std::min(epoch, e);
  }
  return epoch;
}

std::string GeoDatabase::country_field() const {
  std::string dotted;
  for (const std::string& part : country_path_) {
    if (!dotted.empty()) dotted += '.';
    dotted += part;
  }
  return dotted;
}

}  // namespace edgeguard
