#include "guard/config/ip_sets.h"

namespace edgeguard::config {

void IpSets::read(const YAML::Node& n) {
  if (!n.IsMap()) fail(n, "ip_sets must be a mapping of name to a list of CIDRs");
  for (const auto& kv : n) {
    const auto name = kv.first.as<std::string>();
    if (!is_simple_name(name)) fail(kv.first, "ip set name '" + name + "' is not a simple name");
    std::vector<Cidr> list;
    for (const auto& c : as_list(kv.second, "ip_sets." + name)) {
      list.push_back(as_cidr(c, "ip_sets." + name));
    }
    sets_[name] = std::move(list);
  }
}

std::vector<Cidr> IpSets::cidrs(const YAML::Node& n, const std::string& what) const {
  const auto s = as_string(n, what);
  if (auto it = sets_.find(s); it != sets_.end()) return it->second;
  std::string why;
  if (auto c = Cidr::parse(s, &why)) return {*c};
  fail(n, what + ": '" + s + "' is neither an ip_sets name nor a CIDR (" + why + ")");
}

CidrSet IpSets::set(const YAML::Node& n, const std::string& what) const {
  CidrSet set;
  for (const auto& item : as_list(n, what)) {
    for (const auto& c : cidrs(item, what)) set.add(c);
  }
  set.finish();
  return set;
}

}  // namespace edgeguard::config
