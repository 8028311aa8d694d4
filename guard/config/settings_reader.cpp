#include "guard/config/settings_reader.h"

namespace edgeguard::config {
namespace {

OnError on_error(const YAML::Node& n) {
  const auto v = as_string(n, "store.redis.on_error");
  if (v == "local") return OnError::local;
  if (v == "allow") return OnError::allow;
  if (v == "deny") return OnError::deny;
  fail(n, "store.redis.on_error must be local, allow or deny");
}

}  // namespace

void SettingsReader::store(const YAML::Node& n, StoreSettings& s) const {
  MapReader m(n, "store");
  if (auto v = m.get("type")) {
    const auto t = as_string(v, "store.type");
    if (t == "local") {
      s.type = StoreType::local;
    } else if (t == "redis") {
      s.type = StoreType::redis;
    } else {
      fail(v, "store.type must be local or redis");
    }
  }
  if (auto v = m.get("local")) {
    MapReader l(v, "store.local");
    if (auto b = l.get("max_buckets")) {
      s.max_buckets =
          static_cast<std::size_t>(as_int(b, "store.local.max_buckets", 1000, 1'000'000'000));
    }
    l.finish();
  }
  if (auto v = m.get("redis")) {
    MapReader r(v, "store.redis");
    if (auto a = r.get("address")) s.redis.address = as_address(a, "store.redis.address");
    if (auto a = r.get("nodes")) {
      for (const auto& node : as_list(a, "store.redis.nodes")) {
        s.redis.nodes.push_back(as_address(node, "store.redis.nodes entry"));
      }
    }
    if (auto a = r.get("username")) s.redis.username = as_string(a, "store.redis.username");
    if (auto a = r.get("password_file"))
      s.redis.password_file = as_path(a, "password_file", base_dir_);
    if (auto a = r.get("db")) s.redis.db = static_cast<int>(as_int(a, "store.redis.db", 0, 15));
    if (auto a = r.get("timeout")) s.redis.timeout_ns = as_duration(a, "store.redis.timeout");
    if (auto a = r.get("on_error")) s.redis.on_error = on_error(a);
    if (auto a = r.get("connections")) {
      s.redis.connections = static_cast<int>(as_int(a, "store.redis.connections", 1, 16));
    }
    if (s.redis.address.empty() && s.redis.nodes.empty()) {
      s.redis.address = "127.0.0.1:6379";
    }
    if (!s.redis.address.empty() && !s.redis.nodes.empty() && r.has("address")) {
      fail(v, "store.redis: give either address (one Redis) or nodes (Redis Cluster)");
    }
    r.finish();
  }
  m.finish();
}

void SettingsReader::geoip(const YAML::Node& n, GeoIpSettings& g) const {
  MapReader m(n, "geoip");
  if (auto v = m.get("country_db")) g.country_db = as_path(v, "geoip.country_db", base_dir_);
  if (auto v = m.get("asn_db")) g.asn_db = as_path(v, "geoip.asn_db", base_dir_);
  if (auto v = m.get("country_field")) g.country_field = as_string(v, "geoip.country_field");
  m.finish();
}

void SettingsReader::tailnet(const YAML::Node& n, TailnetSettings& t) const {
  MapReader m(n, "tailnet");
  t.configured = true;
  if (auto v = m.get("ranges")) {
    for (const auto& c : as_list(v, "tailnet.ranges"))
      t.ranges.push_back(as_cidr(c, "tailnet.ranges"));
  } else {
    t.ranges = {*Cidr::parse("100.64.0.0/10"), *Cidr::parse("fd7a:115c:a1e0::/48")};
  }
  if (auto v = m.get("nodes")) {
    MapReader nodes(v, "tailnet.nodes");
    if (auto f = nodes.get("format")) {
      const auto format = parse_node_list_format(as_string(f, "tailnet.nodes.format"));
      if (!format) fail(f, "tailnet.nodes.format must be " + node_list_format_choices());
      t.format = *format;
    } else {
      fail(v, "tailnet.nodes needs a format");
    }
    if (auto f = nodes.get("file")) t.file = as_path(f, "tailnet.nodes.file", base_dir_);
    if (auto f = nodes.get("command")) {
      t.command = as_strings(f, "tailnet.nodes.command");
      if (t.command.empty()) fail(f, "tailnet.nodes.command must not be empty");
    }
    if (auto f = nodes.get("refresh")) t.refresh_ns = as_duration(f, "tailnet.nodes.refresh");
    if (t.file.empty() == t.command.empty()) {
      fail(v, "tailnet.nodes needs exactly one of file or command");
    }
    nodes.finish();
  }
  m.finish();
}

}  // namespace edgeguard::config
