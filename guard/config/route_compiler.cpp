#include "guard/config/route_compiler.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "guard/config/bans_section.h"
#include "guard/limit/traefik_rate.h"
#include "guard/request/forward_request.h"
#include "guard/request/path_normalize.h"
#include "guard/text/ascii.h"

namespace edgeguard::config {
namespace {

std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

void read_responses(const YAML::Node& n, Responses& r) {
  MapReader m(n, "responses");
  if (auto v = m.get("rate_limited")) r.rate_limited = as_status(v, "responses.rate_limited");
  if (auto v = m.get("forbidden")) r.forbidden = as_status(v, "responses.forbidden");
  m.finish();
}

void RouteCompiler::hosts(const YAML::Node& n, Route& r) {
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

void RouteCompiler::paths(const YAML::Node& n, Route& r) {
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

void RouteCompiler::methods(const YAML::Node& n, Route& r) {
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

void RouteCompiler::tailnet_rule(const YAML::Node& n, Route& r) {
  MapReader m(n, "tailnet rule of route " + r.name);
  TailnetRule t;
  if (auto v = m.get("require")) {
    if (as_string(v, "tailnet.require") != "enrolled") fail(v, "tailnet.require must be enrolled");
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
  if (!policy_.settings.tailnet_nodes.configured()) {
    fail(n, "route " + r.name + " has a tailnet rule but the top-level tailnet.nodes is not set");
  }
  r.tailnet = std::move(t);
}

void RouteCompiler::geo_rule(const YAML::Node& n, Route& r) {
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
  g.tailnet_ranges = policy_.tailnet.ranges;
  if (!g.allow_countries.empty() && !g.deny_countries.empty()) {
    fail(n, "geo: use allow_countries or deny_countries, not both");
  }
  if ((!g.allow_countries.empty() || !g.deny_countries.empty()) &&
      policy_.settings.geoip.country_db.empty()) {
    fail(n, "route " + r.name + " has country rules but geoip.country_db is not set");
  }
  if ((!g.allow_asns.empty() || !g.deny_asns.empty()) && policy_.settings.geoip.asn_db.empty()) {
    fail(n, "route " + r.name + " has ASN rules but geoip.asn_db is not set");
  }
  r.geo = std::move(g);
}

KeyPart RouteCompiler::key_part(const YAML::Node& n) {
  const auto s = as_string(n, "limit key");
  KeyPart k;
  if (s == "client_ip") {
    k.kind = KeyPart::Kind::client_ip;
  } else if (s == "route") {
    k.kind = KeyPart::Kind::route;
  } else if (s == "host") {
    k.kind = KeyPart::Kind::host;
  } else if (s == "username") {
    k.kind = KeyPart::Kind::username;
  } else if (s.starts_with("header:") && s.size() > 7) {
    k.kind = KeyPart::Kind::header;
    const auto name = ascii_lower(s.substr(7));
    auto& names = policy_.key_header_names;
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
    fail(n, "limit key '" + s + "' must be client_ip, route, host, username or header:NAME");
  }
  return k;
}

LimitPolicy RouteCompiler::limit(const YAML::Node& n, const Route& r, LimitKind kind) {
  const bool failure = kind == LimitKind::failure;
  MapReader m(n, std::string(failure ? "failure limit" : "limit") + " of route " + r.name);
  LimitPolicy l;
  if (auto v = m.get("name")) {
    l.name = as_string(v, "limit name");
    if (!is_simple_name(l.name))
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
    for (const auto& part : as_list(v, "key")) {
      l.key.push_back(key_part(part));
      const KeyPart::Kind k = l.key.back().kind;
      if (failure && k != KeyPart::Kind::client_ip && k != KeyPart::Kind::username) {
        fail(part, "a failure limit is keyed on client_ip, username or both");
      }
      if (!failure && k == KeyPart::Kind::username && r.username_field.empty()) {
        fail(part, "key username needs `username: {field: ...}` on route " + r.name +
                       " (where the login name is read from)");
      }
    }
  } else {
    l.key.push_back(KeyPart{KeyPart::Kind::client_ip, -1});
  }
  if (auto v = m.get("ban")) l.ban = read_ban_rule(v, "limit " + l.name + " ban");
  if (failure && !l.ban) l.ban = BanRule{};  // a failure limit always bans: 15m by default
  m.finish();
  const double emission = static_cast<double>(l.period_ns) / l.average;
  // Traefik's maxDelay adds at most 500 ms to T × burst: 9e18 leaves room for it in 63 bits.
  if (emission < 1 || emission * static_cast<double>(burst) > 9e18) {
    fail(n, "limit " + l.name + ": average/period/burst out of range");
  }
  const auto emission_ns = static_cast<std::int64_t>(std::llround(emission));
  if (!failure) {
    // Traefik's meaning, its maxDelay included: the same long-run rate under any load.
    l.rate = traefik_gcra_rate(l.average, l.period_ns, emission_ns, burst);
  } else {
    // A failure limit bans on the failure that empties it (the burst-th in a row), not on the
    // one after: the question a failure asks is "would one more still fit?". No maxDelay
    // here: a failure has already happened, there is no request to schedule, and a failure
    // limit is edgeguard's, not Traefik's; so a ban comes on the very failure it came on before.
    l.rate.emission_ns = emission_ns;
    l.rate.burst = burst - 1;
    l.rate.tolerance_ns = emission_ns * (burst - 1);
  }
  // IETF RateLimit-Policy: quota q per window w seconds.
  const double window_s = static_cast<double>(l.period_ns) / 1e9;
  l.rate_limit_policy = "\"" + l.name + "\";q=" + format_number(l.average) +
                        ";w=" + format_number(std::max(1.0, std::round(window_s)));
  // Failure limits have buckets of their own, apart from request limits of the same name.
  l.key_prefix = r.name + kKeySeparator + (failure ? "failure:" : "") + l.name;
  return l;
}

std::vector<LimitPolicy> RouteCompiler::limits(const YAML::Node& v, const Route& r,
                                               LimitKind kind) {
  std::vector<LimitPolicy> out;
  std::set<std::string> names;
  for (const auto& l : as_list(v, kind == LimitKind::failure ? "failure_limits" : "limits")) {
    out.push_back(limit(l, r, kind));
    if (!names.insert(out.back().name).second) {
      fail(l, "limit name '" + out.back().name + "' is used twice in route " + r.name);
    }
  }
  if (out.size() > kMaxLimitsPerRoute) {
    fail(v, "a route may have at most " + std::to_string(kMaxLimitsPerRoute) +
                (kind == LimitKind::failure ? " failure limits" : " limits"));
  }
  return out;
}

Route RouteCompiler::compile(const YAML::Node& n) {
  Route r;
  r.responses = policy_.responses;
  if (!n.IsMap()) fail(n, "a route must be a mapping");
  if (auto v = n["name"]) {
    r.name = as_string(v, "route name");
    if (!is_simple_name(r.name) || r.name == "default") {
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
  if (auto v = m.get("bypass")) r.bypass = sets_.set(v, "bypass");
  if (auto v = m.get("deny_ips")) r.deny_ips = sets_.set(v, "deny_ips");
  if (auto v = m.get("allow_ips")) {
    r.allow_ips = sets_.set(v, "allow_ips");
    r.has_allow_ips = true;
  }
  if (auto v = m.get("tailnet")) tailnet_rule(v, r);
  if (auto v = m.get("geo")) geo_rule(v, r);
  if (auto v = m.get("username")) {
    MapReader u(v, "route " + r.name + " username");
    if (auto f = u.get("field")) {
      r.username_field = as_string(f, "username.field");
      if (r.username_field.empty() || r.username_field.size() > 128) {
        fail(f, "username.field names a body field (1 to 128 bytes)");
      }
    } else {
      fail(v, "username needs a field: the body field holding the login name");
    }
    u.finish();
    policy_.reads_bodies = true;
  }
  if (auto v = m.get("crowdsec")) {
    // YAML reads a bare off/on as a boolean; both spellings mean the same here.
    const auto mode = as_string(v, "crowdsec");
    if (mode == "on" || mode == "true") {
      r.crowdsec = Route::Crowdsec::on;
    } else if (mode == "off" || mode == "false") {
      r.crowdsec = Route::Crowdsec::off;
    } else if (mode == "shadow") {
      r.crowdsec = Route::Crowdsec::shadow;
    } else {
      fail(v, "crowdsec on a route is on, off or shadow");
    }
  }
  if (auto v = m.get("limits")) r.limits = limits(v, r, LimitKind::request);
  if (auto v = m.get("failure_limits")) r.failure_limits = limits(v, r, LimitKind::failure);
  if (auto v = m.get("responses")) read_responses(v, r.responses);
  m.finish();
  return r;
}

}  // namespace edgeguard::config
