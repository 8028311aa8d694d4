#pragma once
// `bans:` at the top level ({exempt, escalation: {factor, max, memory}, max_active}) and `ban:`
// on a limit ({for, scope: route | all}): SPEC section 9.
#include <string>

#include "guard/config/ip_sets.h"
#include "guard/config/yaml_reader.h"
#include "guard/policy/policy.h"

namespace edgeguard::config {

void read_bans(const YAML::Node& n, const IpSets& sets, BanSettings& b);
BanRule read_ban_rule(const YAML::Node& n, const std::string& what);

}  // namespace edgeguard::config
