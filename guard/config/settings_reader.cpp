#include "guard/config/settings_reader.h"

#include "guard/net/host_port.h"
#include "guard/net/ip_address.h"

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

CidrSet default_tailnet_ranges() {
  CidrSet ranges;
  for (const char* c : {"100.64.0.0/10", "fd7a:115c:a1e0::/48"}) ranges.add(*Cidr::parse(c));
  ranges.finish();
  return ranges;
}

void SettingsReader::note(const std::string& name, const YAML::Node& n) const {
  const YAML::Mark mark = n.Mark();
  if (!mark.is_null()) positions_[name] = SourcePosition{mark.line + 1, mark.column + 1};
}

std::string SettingsReader::address(const YAML::Node& n, const std::string& name) const {
  note(name, n);
  const std::string text = as_address(n, name);
  // A listener binds an address, not a name. Said here, at its position and by `check` too,
  // rather than at start-up once the stores are built.
  const std::string host = parse_host_port(text)->host;
  const bool any = name == "listen" && host == "*";
  if (!any && !IpAddress::parse(host)) {
    fail(n, name + ": '" + host + "' is not an IP address" + (name == "listen" ? " (or *)" : ""));
  }
  return text;
}

int SettingsReader::threads(const YAML::Node& n) const {
  note("threads", n);
  return static_cast<int>(as_int(n, "threads", 0, 256));
}

void SettingsReader::store(const YAML::Node& n, StoreSettings& s) const {
  note("store", n);
  MapReader m(n, "store");
  if (auto v = m.get("type")) {
    note("store.type", v);
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
    note("store.local", v);
    MapReader l(v, "store.local");
    if (auto b = l.get("max_buckets")) {
      note("store.local.max_buckets", b);
      s.max_buckets =
          static_cast<std::size_t>(as_int(b, "store.local.max_buckets", 1000, 1'000'000'000));
    }
    l.finish();
  }
  if (auto v = m.get("redis")) redis(v, s.redis);
  m.finish();
}

void SettingsReader::redis(const YAML::Node& v, RedisSettings& s) const {
  note("store.redis", v);
  MapReader r(v, "store.redis");
  if (auto a = r.get("address")) {
    note("store.redis.address", a);
    s.address = as_address(a, "store.redis.address");
  }
  if (auto a = r.get("nodes")) {
    note("store.redis.nodes", a);
    for (const auto& node : as_list(a, "store.redis.nodes")) {
      s.nodes.push_back(as_address(node, "store.redis.nodes entry"));
    }
  }
  if (auto a = r.get("username")) {
    note("store.redis.username", a);
    s.username = as_string(a, "store.redis.username");
  }
  if (auto a = r.get("password_file")) {
    note("store.redis.password_file", a);
    s.password_file = as_path(a, "password_file", base_dir_);
  }
  if (auto a = r.get("db")) {
    note("store.redis.db", a);
    s.db = static_cast<int>(as_int(a, "store.redis.db", 0, 15));
  }
  if (auto a = r.get("timeout")) {
    note("store.redis.timeout", a);
    s.timeout_ns = as_duration(a, "store.redis.timeout");
  }
  if (auto a = r.get("on_error")) {
    note("store.redis.on_error", a);
    s.on_error = on_error(a);
  }
  if (auto a = r.get("connections")) {
    note("store.redis.connections", a);
    s.connections = static_cast<int>(as_int(a, "store.redis.connections", 1, 16));
  }
  if (s.address.empty() && s.nodes.empty()) s.address = "127.0.0.1:6379";
  if (!s.address.empty() && !s.nodes.empty() && r.has("address")) {
    fail(v, "store.redis: give either address (one Redis) or nodes (Redis Cluster)");
  }
  r.finish();
}

void SettingsReader::geoip(const YAML::Node& n, GeoIpSettings& g) const {
  note("geoip", n);
  MapReader m(n, "geoip");
  if (auto v = m.get("country_db")) {
    note("geoip.country_db", v);
    g.country_db = as_path(v, "geoip.country_db", base_dir_);
  }
  if (auto v = m.get("asn_db")) {
    note("geoip.asn_db", v);
    g.asn_db = as_path(v, "geoip.asn_db", base_dir_);
  }
  if (auto v = m.get("country_field")) {
    note("geoip.country_field", v);
    g.country_field = as_string(v, "geoip.country_field");
  }
  m.finish();
}

void SettingsReader::tailnet(const YAML::Node& n, TailnetSettings& t,
                             NodeSourceSettings& source) const {
  note("tailnet", n);
  MapReader m(n, "tailnet");
  if (auto v = m.get("ranges")) {
    CidrSet ranges;
    for (const auto& c : as_list(v, "tailnet.ranges")) ranges.add(as_cidr(c, "tailnet.ranges"));
    ranges.finish();
    if (ranges.empty()) fail(v, "tailnet.ranges must not be empty: no node could be enrolled");
    t.ranges = std::move(ranges);
  }
  if (auto v = m.get("nodes")) {
    note("tailnet.nodes", v);
    MapReader nodes(v, "tailnet.nodes");
    if (auto f = nodes.get("format")) {
      note("tailnet.nodes.format", f);
      const auto format = parse_node_list_format(as_string(f, "tailnet.nodes.format"));
      if (!format) fail(f, "tailnet.nodes.format must be " + node_list_format_choices());
      source.format = *format;
    } else {
      fail(v, "tailnet.nodes needs a format");
    }
    if (auto f = nodes.get("file")) {
      note("tailnet.nodes.file", f);
      source.file = as_path(f, "tailnet.nodes.file", base_dir_);
    }
    if (auto f = nodes.get("command")) {
      note("tailnet.nodes.command", f);
      source.command = as_strings(f, "tailnet.nodes.command");
      if (source.command.empty()) fail(f, "tailnet.nodes.command must not be empty");
    }
    if (auto f = nodes.get("refresh")) t.refresh_ns = as_duration(f, "tailnet.nodes.refresh");
    if (source.file.empty() == source.command.empty()) {
      fail(v, "tailnet.nodes needs exactly one of file or command");
    }
    nodes.finish();
  }
  m.finish();
}

}  // namespace edgeguard::config
