#include "tests/support/mmdb_writer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>

namespace edgeguard::testing {

namespace {

// Data-section type numbers from the spec; 8 and above are "extended" types.
enum Type : int {
  kUtf8String = 2,
  kUint16 = 5,
  kUint32 = 6,
  kMap = 7,
  kUint64 = 9,
  kArray = 11,
  kBoolean = 14,
};

void put_control(std::string& out, int type, std::size_t size) {
  std::string size_bytes;
  int size_field = 0;
  if (size < 29) {
    size_field = static_cast<int>(size);
  } else if (size < 29 + 256) {
    size_field = 29;
    size_bytes.push_back(static_cast<char>(size - 29));
  } else if (size < 285 + 65536) {
    size_field = 30;
    const std::size_t v = size - 285;
    size_bytes.push_back(static_cast<char>(v >> 8));
    size_bytes.push_back(static_cast<char>(v));
  } else {
    size_field = 31;
    const std::size_t v = size - 65821;
    size_bytes.push_back(static_cast<char>(v >> 16));
    size_bytes.push_back(static_cast<char>(v >> 8));
    size_bytes.push_back(static_cast<char>(v));
  }
  const int first_type = type <= 7 ? type : 0;
  out.push_back(static_cast<char>((first_type << 5) | size_field));
  if (type > 7) out.push_back(static_cast<char>(type - 7));
  out += size_bytes;
}

// Unsigned integers are stored big-endian with leading zero bytes dropped.
void put_uint(std::string& out, int type, std::uint64_t value) {
  std::string bytes;
  while (value != 0) {
    bytes.insert(bytes.begin(), static_cast<char>(value & 0xff));
    value >>= 8;
  }
  put_control(out, type, bytes.size());
  out += bytes;
}

void put_big_endian(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

}  // namespace

MmdbValue MmdbValue::string(std::string text) {
  MmdbValue v;
  v.kind_ = Kind::kString;
  v.text_ = std::move(text);
  return v;
}

MmdbValue MmdbValue::uint16(std::uint16_t value) {
  MmdbValue v;
  v.kind_ = Kind::kUint16;
  v.number_ = value;
  return v;
}

MmdbValue MmdbValue::uint32(std::uint32_t value) {
  MmdbValue v;
  v.kind_ = Kind::kUint32;
  v.number_ = value;
  return v;
}

MmdbValue MmdbValue::uint64(std::uint64_t value) {
  MmdbValue v;
  v.kind_ = Kind::kUint64;
  v.number_ = value;
  return v;
}

MmdbValue MmdbValue::boolean(bool value) {
  MmdbValue v;
  v.kind_ = Kind::kBool;
  v.number_ = value ? 1 : 0;
  return v;
}

MmdbValue MmdbValue::map(std::initializer_list<std::pair<std::string, MmdbValue>> entries) {
  MmdbValue v;
  v.kind_ = Kind::kMap;
  for (const auto& [key, value] : entries) {
    v.keys_.push_back(key);
    v.items_.push_back(value);
  }
  return v;
}

MmdbValue MmdbValue::array(std::vector<MmdbValue> items) {
  MmdbValue v;
  v.kind_ = Kind::kArray;
  v.items_ = std::move(items);
  return v;
}

void MmdbValue::encode(std::string& out) const {
  switch (kind_) {
    case Kind::kString:
      put_control(out, kUtf8String, text_.size());
      out += text_;
      break;
    case Kind::kUint16:
      put_uint(out, kUint16, number_);
      break;
    case Kind::kUint32:
      put_uint(out, kUint32, number_);
      break;
    case Kind::kUint64:
      put_uint(out, kUint64, number_);
      break;
    case Kind::kBool:
      put_control(out, kBoolean, number_);  // the size field is the value
      break;
    case Kind::kMap:
      put_control(out, kMap, keys_.size());
      for (std::size_t i = 0; i < keys_.size(); ++i) {
        MmdbValue::string(keys_[i]).encode(out);
        items_[i].encode(out);
      }
      break;
    case Kind::kArray:
      put_control(out, kArray, items_.size());
      for (const MmdbValue& item : items_) item.encode(out);
      break;
  }
}

MmdbValue maxmind_country(std::string_view iso_code) {
  return MmdbValue::map(
      {{"country", MmdbValue::map({{"iso_code", MmdbValue::string(std::string(iso_code))}})}});
}

MmdbValue ip_location_country(std::string_view code) {
  return MmdbValue::map({{"country_code", MmdbValue::string(std::string(code))}});
}

MmdbValue asn_record(std::uint32_t asn, std::string org) {
  return MmdbValue::map({{"autonomous_system_number", MmdbValue::uint32(asn)},
                         {"autonomous_system_organization", MmdbValue::string(std::move(org))}});
}

MmdbWriter::MmdbWriter(int ip_version, std::string database_type)
    : ip_version_(ip_version), database_type_(std::move(database_type)), nodes_(1) {}

bool MmdbWriter::insert(std::string_view network, MmdbValue value) {
  const std::size_t slash = network.find('/');
  const std::string address(network.substr(0, slash));
  std::array<unsigned char, 16> bytes{};
  int prefix = -1;
  int family_bits = 0;
  if (inet_pton(AF_INET, address.c_str(), bytes.data() + 12) == 1) {
    family_bits = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
    if (ip_version_ == 4) return false;
    family_bits = 128;
  } else {
    return false;
  }
  if (slash == std::string_view::npos) {
    prefix = family_bits;
  } else {
    const std::string_view digits = network.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || prefix < 1 ||
        prefix > family_bits) {
      return false;
    }
  }
  // Bit positions in the tree: an IPv4 tree is 32 deep and starts at byte 12 of our buffer.
  const int first_bit = ip_version_ == 4 ? 96 : 128 - family_bits;
  const int depth = ip_version_ == 4 ? prefix : (128 - family_bits) + prefix;

  values_.push_back(std::move(value));
  const std::int64_t data = -2 - static_cast<std::int64_t>(values_.size() - 1);
  std::int64_t node = 0;
  for (int i = 0; i < depth; ++i) {
    const int pos = (ip_version_ == 4 ? first_bit : 0) + i;
    const int bit = (bytes[pos / 8] >> (7 - pos % 8)) & 1;
    if (i == depth - 1) {
      nodes_[node].child[bit] = data;
      break;
    }
    const std::int64_t child = nodes_[node].child[bit];
    if (child >= 0) {
      node = child;
      continue;
    }
    // Empty or a broader network's data: split it, both halves keep what was there.
    Node split;
    split.child[0] = split.child[1] = child;
    nodes_.push_back(split);
    const auto index = static_cast<std::int64_t>(nodes_.size() - 1);
    nodes_[node].child[bit] = index;
    node = index;
  }
  return true;
}

std::string MmdbWriter::build() const {
  std::string data;
  std::vector<std::uint64_t> offsets;
  offsets.reserve(values_.size());
  for (const MmdbValue& v : values_) {
    offsets.push_back(data.size());
    v.encode(data);
  }

  const std::uint64_t node_count = nodes_.size();
  auto record = [&](std::int64_t child) -> std::uint64_t {
    if (child >= 0) return static_cast<std::uint64_t>(child);
    if (child == kEmpty) return node_count;
    return node_count + 16 + offsets[static_cast<std::size_t>(-2 - child)];
  };
  std::uint64_t largest = node_count;
  for (const Node& n : nodes_)
    largest = std::max({largest, record(n.child[0]), record(n.child[1])});
  const int record_size = largest < (1ULL << 24) ? 24 : 32;

  std::string out;
  for (const Node& n : nodes_) {
    put_big_endian(out, record(n.child[0]), record_size / 8);
    put_big_endian(out, record(n.child[1]), record_size / 8);
  }
  out.append(16, '\0');
  out += data;
  out += "\xAB\xCD\xEFMaxMind.com";
  MmdbValue::map({
                     {"node_count", MmdbValue::uint32(static_cast<std::uint32_t>(node_count))},
                     {"record_size", MmdbValue::uint16(static_cast<std::uint16_t>(record_size))},
                     {"ip_version", MmdbValue::uint16(static_cast<std::uint16_t>(ip_version_))},
                     {"database_type", MmdbValue::string(database_type_)},
                     {"languages", MmdbValue::array({MmdbValue::string("en")})},
                     {"binary_format_major_version", MmdbValue::uint16(2)},
                     {"binary_format_minor_version", MmdbValue::uint16(0)},
                     {"build_epoch", MmdbValue::uint64(build_epoch_)},
                     {"description", MmdbValue::map({{"en", MmdbValue::string("edgeguard test")}})},
                 })
      .encode(out);
  return out;
}

bool MmdbWriter::write_file(const std::string& path) const {
  const std::string bytes = build();
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  return static_cast<bool>(file);
}

}  // namespace edgeguard::testing
