#pragma once
// `ip_sets:`: named CIDR lists, and the readers for the places that take "a set name or a CIDR"
// (bypass, allow_ips, deny_ips, client_ip.trusted_hops). Sets are read first, so any later
// section can name them.
#include <map>
#include <string>
#include <vector>

#include "guard/config/yaml_reader.h"
#include "guard/net/cidr_set.h"

namespace edgeguard::config {

class IpSets {
 public:
  void read(const YAML::Node& n);
  // One entry: an ip_sets name or a CIDR.
  std::vector<Cidr> cidrs(const YAML::Node& n, const std::string& what) const;
  // A list (or one) of such entries, merged into one set.
  CidrSet set(const YAML::Node& n, const std::string& what) const;

 private:
  std::map<std::string, std::vector<Cidr>> sets_;
};

}  // namespace edgeguard::config
