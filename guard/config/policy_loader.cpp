#include "guard/config/policy_loader.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "guard/config/admin_reader.h"
#include "guard/config/bans_section.h"
#include "guard/config/crowdsec_section.h"
#include "guard/config/failures_section.h"
#include "guard/config/ip_sets.h"
#include "guard/config/route_compiler.h"
#include "guard/config/settings_reader.h"
#include "guard/config/yaml_reader.h"

namespace edgeguard {
namespace {

using namespace config;

// The top level: reads each section in a fixed order (ip sets first, routes last, as later
// sections refer to earlier ones) into one Policy.
class Loader {
 public:
  Loader(std::string base_dir, SettingPositions& positions)
      : settings_(std::move(base_dir), positions) {}

  std::shared_ptr<Policy> load(const YAML::Node& root) {
    auto p = std::make_shared<Policy>();
    if (!root || root.IsNull()) fail(root, "the file is empty");
    MapReader top(root, "the top level");
    if (auto n = top.get("ip_sets")) sets_.read(n);  // first: later sections name these sets
    RestartSettings& s = p->settings;
    if (auto n = top.get("listen")) s.listen = settings_.address(n, "listen");
    if (auto n = top.get("admin_listen")) s.admin_listen = settings_.address(n, "admin_listen");
    if (auto n = top.get("threads")) s.threads = settings_.threads(n);
    if (auto n = top.get("callers")) {
      for (const auto& c : as_list(n, "callers")) p->callers.add(as_cidr(c, "callers"));
    } else {
      for (const char* c : {"127.0.0.0/8", "::1/128"}) p->callers.add(*Cidr::parse(c));
    }
    p->callers.finish();
    if (auto n = top.get("client_ip")) client_ip(n, *p);
    if (auto n = top.get("responses")) read_responses(n, p->responses);
    if (auto n = top.get("store")) settings_.store(n, s.store);
    if (auto n = top.get("geoip")) settings_.geoip(n, s.geoip);
    p->tailnet.ranges = default_tailnet_ranges();
    if (auto n = top.get("tailnet")) settings_.tailnet(n, p->tailnet, s.tailnet_nodes);
    if (auto n = top.get("log")) log(n, p->log);
    if (auto n = top.get("server")) server(n, p->server);
    if (auto n = top.get("bans")) read_bans(n, sets_, p->bans, s.bans_max_active, settings_);
    if (auto n = top.get("failures"))
      read_failures(n, settings_, p->failures, s.failures_access_log);
    if (auto n = top.get("crowdsec")) {
      read_crowdsec(n, settings_, settings_.base_dir(), s.crowdsec.emplace());
    }
    if (auto n = top.get("admin")) read_admin(n, settings_.base_dir(), p->admin);
    if (auto n = top.get("routes")) {
      RouteCompiler routes(sets_, *p);
      std::set<std::string> names;
      for (const auto& r : as_list(n, "routes")) {
        p->routes.push_back(routes.compile(r));
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
      p.client_ip.trusted_hops = sets_.set(v, "client_ip.trusted_hops");
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
    if (auto v = m.get("max_body_bytes")) {
      s.max_body_bytes =
          static_cast<std::size_t>(as_int(v, "server.max_body_bytes", 1024, 1024 * 1024));
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

  SettingsReader settings_;
  IpSets sets_;
};

}  // namespace

PolicyLoad parse_policy(std::string_view yaml, const std::string& source_name,
                        const std::string& base_dir) {
  PolicyLoad out;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    Loader loader(base_dir, out.positions);
    auto policy = loader.load(root);
    policy->source_path = source_name;
    out.policy = std::move(policy);
  } catch (const ConfigError& e) {
    out.error = format_error(source_name, e.mark, e.message);
  } catch (const YAML::Exception& e) {
    out.error = format_error(source_name, e.mark, e.msg);
  }
  if (!out.policy) out.positions.clear();
  return out;
}

std::string PolicyLoad::locate(std::string_view setting) const {
  const std::string source = policy ? policy->source_path : std::string("-");
  for (std::string_view name = setting; !name.empty();) {
    if (auto it = positions.find(name); it != positions.end()) {
      return source + ":" + std::to_string(it->second.line) + ":" +
             std::to_string(it->second.column);
    }
    const auto dot = name.rfind('.');
    name = name.substr(0, dot == std::string_view::npos ? 0 : dot);
  }
  return source + ":1:1";
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
