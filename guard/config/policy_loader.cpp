#include "guard/config/policy_loader.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "guard/config/duration.h"
#include "guard/net/host_port.h"
#include "guard/request/forward_request.h"
#include "guard/request/path_normalize.h"
#include "guard/tailnet/node_list_format.h"
#include "guard/text/ascii.h"

namespace edgeguard {
namespace {

// Thrown only inside the loader and turned into PolicyLoad::error at its boundary.
struct ConfigError {
  YAML::Mark mark;
  std::string message;
};

[[noreturn]] void fail(const YAML::Node& at, std::string message) {
  throw ConfigError{at.Mark(), std::move(message)};
}

// Reads one YAML mapping, remembering which keys were used, so leftovers are reported.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string what) : node_(node), what_(std::move(what)) {
    if (!node.IsMap()) fail(node, what_ + " must be a mapping");
  }
  YAML::Node get(const std::string& key) {
    seen_.insert(key);
    return node_[key];
  }
  bool has(const std::string& key) const { return static_cast<bool>(node_[key]); }
  void finish() const {
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>();
      if (!seen_.count(key)) fail(kv.first, "unknown key '" + key + "' in " + what_);
    }
  }

 private:
  YAML::Node node_;
  std::string what_;
  std::set<std::string> seen_;
};

std::string as_string(const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) fail(n, what + " must be a string");
  return n.Scalar();
}

long long as_int(const YAML::Node& n, const std::string& what, long long lo, long long hi) {
  if (!n.IsScalar()) fail(n, what + " must be a number");
  long long v = 0;
  const std::string& s = n.Scalar();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) fail(n, what + " must be a whole number");
  if (v < lo || v > hi) {
    fail(n, what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return v;
}

double as_number(const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) fail(n, what + " must be a number");
  double v = 0;
  const std::string& s = n.Scalar();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
    fail(n, what + " must be a number");
  }
  return v;
}

bool as_bool(const YAML::Node& n, const std::string& what) {
  const std::string s = as_string(n, what);
  if (s == "true") return true;
  if (s == "false") return false;
  fail(n, what + " must be true or false");
}

std::int64_t as_duration(const YAML::Node& n, const std::string& what) {
  const auto d = parse_duration_ns(as_string(n, what));
  if (!d || *d <= 0) fail(n, what + " must be a duration like 500ms, 30s, 1m or 1h");
  return *d;
}

std::vector<YAML::Node> as_list(const YAML::Node& n, const std::string& what) {
  if (n.IsScalar()) return {n};  // a single value where a list is expected
  if (!n.IsSequence()) fail(n, what + " must be a list");
  std::vector<YAML::Node> out;
  for (const auto& item : n) out.push_back(item);
  return out;
}

std::vector<std::string> as_strings(const YAML::Node& n, const std::string& what) {
  std::vector<std::string> out;
  for (const auto& item : as_list(n, what)) out.push_back(as_string(item, what + " entry"));
  return out;
}

Cidr as_cidr(const YAML::Node& n, const std::string& what) {
  std::string why;
  const auto c = Cidr::parse(as_string(n, what), &why);
  if (!c) fail(n, what + ": '" + n.Scalar() + "': " + why);
  return *c;
}

int as_status(const YAML::Node& n, const std::string& what) {
  return static_cast<int>(as_int(n, what, 200, 599));
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

class Loader {
 public:
  Loader(std::string base_dir) : base_dir_(std::move(base_dir)) {}

  std::shared_ptr<Policy> load(const YAML::Node& root) {
    auto p = std::make_shared<Policy>();
    if (!root || root.IsNull()) fail(root, "the file is empty");
    MapReader top(root, "the top level");
    if (auto n = top.get("ip_sets")) ip_sets(n);  // first: later sections name these sets
    if (auto n = top.get("listen")) p->listen = address(n, "listen");
    if (auto n = top.get("admin_listen")) p->admin_listen = address(n, "admin_listen");
    if (auto n = top.get("threads")) p->threads = static_cast<int>(as_int(n, "threads", 0, 256));
    if (auto n = top.get("callers")) {
      for (const auto& c : as_list(n, "callers")) p->callers.add(as_cidr(c, "callers"));
    } else {
      for (const char* c : {"127.0.0.0/8", "::1/128"}) p->callers.add(*Cidr::parse(c));
    }
    p->callers.finish();
    if (auto n = top.get("client_ip")) client_ip(n, *p);
    if (auto n = top.get("responses")) responses(n, p->responses);
    if (auto n = top.get("store")) store(n, p->store);
    if (auto n = top.get("geoip")) geoip(n, p->geoip);
    if (auto n = top.get("tailnet")) tailnet(n, p->tailnet);
    if (auto n = top.get("log")) log(n, p->log);
    if (auto n = top.get("server")) server(n, p->server);
    if (auto n = top.get("routes")) {
      std::set<std::string> names;
      for (const auto& r : as_list(n, "routes")) {
        p->routes.push_back(route(r, *p));
        p->routes.back().index = static_cast<int>(p->routes.size() - 1);
        if (!names.insert(p->routes.back().name).second) {
          fail(r, "route name '" + p->routes.back().name + "' is used twice");
        }
      }
    }
    p->default_route.name = "default";
    p->default_route.index = static_cast<int>(p->routes.size());
    p->default_route.is_default = true;
    p->default_route.responses = p->responses;
    if (auto n = top.get("default")) {
      const auto v = as_string(n, "default");
      if (v != "allow" && v != "deny") fail(n, "default must be allow or deny");
      p->default_route.default_deny = v == "deny";
    }
    top.finish();
    return p;
  }

 private:
  std::string address(const YAML::Node& n, const std::string& what) {
    const auto s = as_string(n, what);
    HostPortError why = HostPortError::none;
    if (!parse_host_port(s, &why)) {
      if (why == HostPortError::no_port) fail(n, what + " must be HOST:PORT");
      fail(n, what + ": bad port '" + s.substr(s.rfind(':') + 1) + "'");
    }
    return s;
  }

  std::string path(const YAML::Node& n, const std::string& what) {
    auto s = as_string(n, what);
    if (s.empty()) fail(n, what + " must not be empty");
    if (s.front() != '/') s = (std::filesystem::path(base_dir_) / s).string();
    return s;
  }

  void client_ip(const YAML::Node& n, Policy& p) {
    MapReader m(n, "client_ip");
    if (auto v = m.get("header")) p.client_ip.header = as_string(v, "client_ip.header");
    if (auto v = m.get("depth")) {
      p.client_ip.depth = static_cast<int>(as_int(v, "client_ip.depth", 1, 32));
    }
    if (auto v = m.get("ipv6_prefix")) {
      p.client_ip.ipv6_prefix = static_cast<int>(as_int(v, "client_ip.ipv6_prefix", 1, 128));
    }
    if (auto v = m.get("trusted_hops")) {
      if (m.has("depth")) fail(v, "client_ip: use either depth or trusted_hops, not both");
      CidrSet set;
      for (const auto& c : as_list(v, "client_ip.trusted_hops")) {
        for (const auto& cidr : cidr_or_set(c, "client_ip.trusted_hops")) set.add(cidr);
      }
      set.finish();
      p.client_ip.trusted_hops = std::move(set);
    }
    m.finish();
  }

  void responses(const YAML::Node& n, Responses& r) {
    MapReader m(n, "responses");
    if (auto v = m.get("rate_limited")) r.rate_limited = as_status(v, "responses.rate_limited");
    if (auto v = m.get("forbidden")) r.forbidden = as_status(v, "responses.forbidden");
    m.finish();
  }

  OnError on_error(const YAML::Node& n) {
    const auto v = as_string(n, "store.redis.on_error");
    if (v == "local") return OnError::local;
    if (v == "allow") return OnError::allow;
    if (v == "deny") return OnError::deny;
    fail(n, "store.redis.on_error must be local, allow or deny");
  }

  void store(const YAML::Node& n, StoreSettings& s) {
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
      if (auto a = r.get("address")) s.redis.address = address(a, "store.redis.address");
      if (auto a = r.get("nodes")) {
        for (const auto& node : as_list(a, "store.redis.nodes")) {
          s.redis.nodes.push_back(address(node, "store.redis.nodes entry"));
        }
      }
      if (auto a = r.get("username")) s.redis.username = as_string(a, "store.redis.username");
      if (auto a = r.get("password_file")) s.redis.password_file = path(a, "password_file");
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

  void geoip(const YAML::Node& n, GeoIpSettings& g) {
    MapReader m(n, "geoip");
    if (auto v = m.get("country_db")) g.country_db = path(v, "geoip.country_db");
    if (auto v = m.get("asn_db")) g.asn_db = path(v, "geoip.asn_db");
    if (auto v = m.get("country_field")) g.country_field = as_string(v, "geoip.country_field");
    m.finish();
  }

  void tailnet(const YAML::Node& n, TailnetSettings& t) {
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
      if (auto f = nodes.get("file")) t.file = path(f, "tailnet.nodes.file");
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

  void log(const YAML::Node& n, LogSettings& l) {
    MapReader m(n, "log");
    if (auto v = m.get("allow")) l.allow = as_bool(v, "log.allow");
    if (auto v = m.get("allow_sample")) {
      l.allow_sample = as_number(v, "log.allow_sample");
      if (l.allow_sample < 0 || l.allow_sample > 1) fail(v, "log.allow_sample must be in [0, 1]");
    }
    m.finish();
  }

  void server(const YAML::Node& n, ServerSettings& s) {
    MapReader m(n, "server");
    if (auto v = m.get("max_connections")) {
      s.max_connections =
          static_cast<std::size_t>(as_int(v, "server.max_connections", 1, 1'000'000));
    }
    if (auto v = m.get("max_header_bytes")) {
      s.max_header_bytes =
          static_cast<std::size_t>(as_int(v, "server.max_header_bytes", 1024, 65536));
    }
    if (auto v = m.get("header_timeout"))
      s.header_timeout_ns = as_duration(v, "server.header_timeout");
    if (auto v = m.get("idle_timeout")) s.idle_timeout_ns = as_duration(v, "server.idle_timeout");
    m.finish();
  }

  void ip_sets(const YAML::Node& n) {
    if (!n.IsMap()) fail(n, "ip_sets must be a mapping of name to a list of CIDRs");
    for (const auto& kv : n) {
      const auto name = kv.first.as<std::string>();
      if (!valid_name(name)) fail(kv.first, "ip set name '" + name + "' is not a simple name");
      std::vector<Cidr> list;
      for (const auto& c : as_list(kv.second, "ip_sets." + name)) {
        list.push_back(as_cidr(c, "ip_sets." + name));
      }
      sets_[name] = std::move(list);
    }
  }

  // A set name or a CIDR, as bypass/allow_ips/deny_ips accept.
  std::vector<Cidr> cidr_or_set(const YAML::Node& n, const std::string& what) {
    const auto s = as_string(n, what);
    if (auto it = sets_.find(s); it != sets_.end()) return it->second;
    std::string why;
    if (auto c = Cidr::parse(s, &why)) return {*c};
    fail(n, what + ": '" + s + "' is neither an ip_sets name nor a CIDR (" + why + ")");
  }

  CidrSet cidr_set(const YAML::Node& n, const std::string& what) {
    CidrSet set;
    for (const auto& item : as_list(n, what)) {
      for (const auto& c : cidr_or_set(item, what)) set.add(c);
    }
    set.finish();
    return set;
  }

  void hosts(const YAML::Node& n, Route& r) {
    for (const auto& item : as_list(n, "hosts")) {
      auto h = ascii_lower(as_string(item, "hosts entry"));
      if (!h.empty() && h.back() == '.') h.pop_back();
      if (h.starts_with("*.")) {
        if (h.size() < 3) fail(item, "hosts: '*.' needs a domain after it");
        r.host_suffixes.push_back(h.substr(1));
      } else if (h.empty() || h.find_first_of("*/ :@") != std::string::npos) {
        fail(item, "hosts: '" + h + "' is not a host name (wildcards are written *.example.com)");
      } else {
        r.exact_hosts.push_back(h);
      }
    }
  }

  void paths(const YAML::Node& n, Route& r) {
    for (const auto& item : as_list(n, "paths")) {
      const auto s = as_string(item, "paths entry");
      PathMatcher m;
      std::string text = s;
      if (s.starts_with("= ")) {
        m.kind = PathMatcher::Kind::exact;
        text = s.substr(2);
      } else if (s.starts_with("~ ")) {
        m.kind = PathMatcher::Kind::regex;
        m.regex = std::make_shared<const re2::RE2>(s.substr(2), re2::RE2::Quiet);
        if (!m.regex->ok()) {
          fail(item, "paths: bad regular expression '" + s.substr(2) + "': " + m.regex->error());
        }
        m.text = s.substr(2);
        r.paths.push_back(std::move(m));
        continue;
      }
      // Prefixes and exact paths are normalised like requests, so both sides compare alike.
      std::string out(text.size() + 1, '\0');
      PathError err = PathError::none;
      const auto len = normalize_path(text, out.data(), err);
      if (err != PathError::none) fail(item, "paths: '" + text + "' " + describe(err));
      out.resize(len);
      m.text = out;
      r.paths.push_back(std::move(m));
    }
  }

  void methods(const YAML::Node& n, Route& r) {
    for (const auto& item : as_list(n, "methods")) {
      const auto m = ascii_upper(as_string(item, "methods entry"));
      if (m.empty() || m.find_first_of(" /:") != std::string::npos) {
        fail(item, "methods: '" + m + "' is not an HTTP method");
      }
      if (const auto bit = method_bit(m)) {
        r.method_mask |= bit;
      } else {
        r.other_methods.push_back(m);
      }
    }
  }

  void tailnet_rule(const YAML::Node& n, Route& r, Policy& p) {
    MapReader m(n, "tailnet rule of route " + r.name);
    TailnetRule t;
    if (auto v = m.get("require")) {
      if (as_string(v, "tailnet.require") != "enrolled")
        fail(v, "tailnet.require must be enrolled");
    }
    if (auto v = m.get("tags")) {
      t.tags = as_strings(v, "tailnet.tags");
      for (const auto& tag : t.tags) {
        if (!tag.starts_with("tag:")) fail(v, "tailnet.tags: '" + tag + "' must start with tag:");
      }
    }
    if (auto v = m.get("users")) t.users = as_strings(v, "tailnet.users");
    if (auto v = m.get("shadow")) t.shadow = as_bool(v, "tailnet.shadow");
    m.finish();
    if (!p.tailnet.configured || (p.tailnet.file.empty() && p.tailnet.command.empty())) {
      fail(n, "route " + r.name + " has a tailnet rule but the top-level tailnet.nodes is not set");
    }
    r.tailnet = std::move(t);
  }

  void geo_rule(const YAML::Node& n, Route& r, Policy& p) {
    MapReader m(n, "geo rule of route " + r.name);
    GeoRule g;
    auto countries = [&](const YAML::Node& v, const std::string& what) {
      auto list = as_strings(v, what);
      for (auto& c : list) {
        c = ascii_upper(c);
        if (c.size() != 2 || !std::isalpha(static_cast<unsigned char>(c[0])) ||
            !std::isalpha(static_cast<unsigned char>(c[1]))) {
          fail(v, what + ": '" + c + "' is not an ISO 3166 two-letter code");
        }
      }
      return list;
    };
    auto asns = [&](const YAML::Node& v, const std::string& what) {
      std::vector<std::uint32_t> out;
      for (const auto& item : as_list(v, what)) {
        auto s = as_string(item, what);
        if (s.size() > 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's')) {
          s = s.substr(2);
        }
        long long value = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
        if (ec != std::errc() || end != s.data() + s.size() || value <= 0 || value > 4294967295LL) {
          fail(item, what + ": '" + item.Scalar() + "' is not an AS number");
        }
        out.push_back(static_cast<std::uint32_t>(value));
      }
      return out;
    };
    if (auto v = m.get("allow_countries")) g.allow_countries = countries(v, "geo.allow_countries");
    if (auto v = m.get("deny_countries")) g.deny_countries = countries(v, "geo.deny_countries");
    if (auto v = m.get("allow_asns")) g.allow_asns = asns(v, "geo.allow_asns");
    if (auto v = m.get("deny_asns")) g.deny_asns = asns(v, "geo.deny_asns");
    if (auto v = m.get("unknown")) {
      const auto u = as_string(v, "geo.unknown");
      if (u != "allow" && u != "deny") fail(v, "geo.unknown must be allow or deny");
      g.unknown_allow = u == "allow";
    }
    if (auto v = m.get("shadow")) g.shadow = as_bool(v, "geo.shadow");
    m.finish();
    if (!g.allow_countries.empty() && !g.deny_countries.empty()) {
      fail(n, "geo: use allow_countries or deny_countries, not both");
    }
    if ((!g.allow_countries.empty() || !g.deny_countries.empty()) && p.geoip.country_db.empty()) {
      fail(n, "route " + r.name + " has country rules but geoip.country_db is not set");
    }
    if ((!g.allow_asns.empty() || !g.deny_asns.empty()) && p.geoip.asn_db.empty()) {
      fail(n, "route " + r.name + " has ASN rules but geoip.asn_db is not set");
    }
    r.geo = std::move(g);
  }

  KeyPart key_part(const YAML::Node& n, Policy& p) {
    const auto s = as_string(n, "limit key");
    KeyPart k;
    if (s == "client_ip") {
      k.kind = KeyPart::Kind::client_ip;
    } else if (s == "route") {
      k.kind = KeyPart::Kind::route;
    } else if (s == "host") {
      k.kind = KeyPart::Kind::host;
    } else if (s.starts_with("header:") && s.size() > 7) {
      k.kind = KeyPart::Kind::header;
      const auto name = ascii_lower(s.substr(7));
      auto& names = p.key_header_names;
      auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end()) {
        if (names.size() == kMaxKeyHeaders) {
          fail(n, "at most " + std::to_string(kMaxKeyHeaders) + " distinct header: keys");
        }
        names.push_back(name);
        it = names.end() - 1;
      }
      k.header_slot = static_cast<int>(it - names.begin());
    } else {
      fail(n, "limit key '" + s + "' must be client_ip, route, host or header:NAME");
    }
    return k;
  }

  LimitPolicy limit(const YAML::Node& n, const Route& r, Policy& p) {
    MapReader m(n, "limit of route " + r.name);
    LimitPolicy l;
    if (auto v = m.get("name")) {
      l.name = as_string(v, "limit name");
      if (!valid_name(l.name))
        fail(v, "limit name '" + l.name + "' must be letters, digits, - _ .");
    } else {
      fail(n, "a limit needs a name (it scopes the buckets and names the metric)");
    }
    if (auto v = m.get("average")) {
      l.average = as_number(v, "average");
      if (l.average <= 0) fail(v, "average must be greater than 0");
    } else {
      fail(n, "limit " + l.name + " needs an average");
    }
    l.period_ns = 1'000'000'000;
    if (auto v = m.get("period")) l.period_ns = as_duration(v, "period");
    std::int64_t burst = 1;
    if (auto v = m.get("burst")) burst = as_int(v, "burst", 1, 1'000'000'000);
    if (auto v = m.get("key")) {
      for (const auto& part : as_list(v, "key")) l.key.push_back(key_part(part, p));
    } else {
      l.key.push_back(KeyPart{KeyPart::Kind::client_ip, -1});
    }
    m.finish();
    const double emission = static_cast<double>(l.period_ns) / l.average;
    if (emission < 1 || emission * static_cast<double>(burst) > 9e18) {
      fail(n, "limit " + l.name + ": average/period/burst out of range");
    }
    l.rate.emission_ns = static_cast<std::int64_t>(std::llround(emission));
    l.rate.burst = burst;
    l.rate.tolerance_ns = l.rate.emission_ns * burst;
    // IETF RateLimit-Policy: quota q per window w seconds.
    const double window_s = static_cast<double>(l.period_ns) / 1e9;
    l.rate_limit_policy = "\"" + l.name + "\";q=" + format_number(l.average) +
                          ";w=" + format_number(std::max(1.0, std::round(window_s)));
    l.key_prefix = r.name + kKeySeparator + l.name;
    return l;
  }

  Route route(const YAML::Node& n, Policy& p) {
    Route r;
    r.responses = p.responses;
    if (!n.IsMap()) fail(n, "a route must be a mapping");
    if (auto v = n["name"]) {
      r.name = as_string(v, "route name");
      if (!valid_name(r.name) || r.name == "default") {
        fail(v, "route name '" + r.name + "' must be letters, digits, - _ . (and not 'default')");
      }
    } else {
      fail(n, "a route needs a name");
    }
    MapReader m(n, "route " + r.name);
    m.get("name");
    if (auto v = m.get("hosts")) hosts(v, r);
    if (auto v = m.get("paths")) paths(v, r);
    if (auto v = m.get("methods")) methods(v, r);
    if (auto v = m.get("mode")) {
      const auto mode = as_string(v, "mode");
      if (mode != "enforce" && mode != "shadow") fail(v, "mode must be enforce or shadow");
      r.mode = mode == "shadow" ? Mode::shadow : Mode::enforce;
    }
    if (auto v = m.get("bypass")) r.bypass = cidr_set(v, "bypass");
    if (auto v = m.get("deny_ips")) r.deny_ips = cidr_set(v, "deny_ips");
    if (auto v = m.get("allow_ips")) {
      r.allow_ips = cidr_set(v, "allow_ips");
      r.has_allow_ips = true;
    }
    if (auto v = m.get("tailnet")) tailnet_rule(v, r, p);
    if (auto v = m.get("geo")) geo_rule(v, r, p);
    if (auto v = m.get("limits")) {
      std::set<std::string> names;
      for (const auto& l : as_list(v, "limits")) {
        r.limits.push_back(limit(l, r, p));
        if (!names.insert(r.limits.back().name).second) {
          fail(l, "limit name '" + r.limits.back().name + "' is used twice in route " + r.name);
        }
      }
      if (r.limits.size() > 8) fail(v, "a route may have at most 8 limits");
    }
    if (auto v = m.get("responses")) responses(v, r.responses);
    m.finish();
    return r;
  }

  std::string base_dir_;
  std::map<std::string, std::vector<Cidr>> sets_;
};

std::string format_error(const std::string& source, const YAML::Mark& mark,
                         const std::string& message) {
  if (mark.is_null()) return source + ":1:1: " + message;
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) +
         ": " + message;
}

}  // namespace

PolicyLoad parse_policy(std::string_view yaml, const std::string& source_name,
                        const std::string& base_dir) {
  PolicyLoad out;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    Loader loader(base_dir);
    auto policy = loader.load(root);
    policy->source_path = source_name;
    out.policy = std::move(policy);
  } catch (const ConfigError& e) {
    out.error = format_error(source_name, e.mark, e.message);
  } catch (const YAML::Exception& e) {
    out.error = format_error(source_name, e.mark, e.msg);
  }
  return out;
}

PolicyLoad load_policy_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    PolicyLoad out;
    out.error = path + ":1:1: cannot read the file";
    return out;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const auto dir = std::filesystem::path(path).parent_path();
  return parse_policy(text.str(), path, dir.empty() ? "." : dir.string());
}

}  // namespace edgeguard
