#pragma once
// `routes:` entries -> compiled Routes: host lists split into exact names and suffixes, paths
// normalised like requests (or compiled RE2), methods as a bitmask, ip rules as CIDR sets,
// tailnet and geo rules checked against the data sources the policy configures, limits turned
// into integer GCRA rates with their bucket-key prefix and RateLimit-Policy text.
#include <string>

#include "guard/config/ip_sets.h"
#include "guard/config/yaml_reader.h"
#include "guard/policy/policy.h"

namespace edgeguard::config {

// `responses:` at the top level and per route: statuses for deny answers.
void read_responses(const YAML::Node& n, Responses& r);

class RouteCompiler {
 public:
  // `policy` supplies what routes refer to (default responses, geoip and tailnet settings) and
  // collects the header names limit keys use (Policy::key_header_names).
  RouteCompiler(const IpSets& sets, Policy& policy) : sets_(sets), policy_(policy) {}

  Route compile(const YAML::Node& n);

 private:
  void hosts(const YAML::Node& n, Route& r);
  void paths(const YAML::Node& n, Route& r);
  void methods(const YAML::Node& n, Route& r);
  void tailnet_rule(const YAML::Node& n, Route& r);
  void geo_rule(const YAML::Node& n, Route& r);
  KeyPart key_part(const YAML::Node& n);
  enum class LimitKind : std::uint8_t { request, failure };
  LimitPolicy limit(const YAML::Node& n, const Route& r, LimitKind kind);
  std::vector<LimitPolicy> limits(const YAML::Node& n, const Route& r, LimitKind kind);

  const IpSets& sets_;
  Policy& policy_;
};

}  // namespace edgeguard::config
