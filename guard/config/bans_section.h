#pragma once
// `bans:` at the top level ({exempt, escalation: {factor, max, memory}, max_active}) and `ban:`
// on a limit ({for, scope: route | all}): SPEC section 9.
#include <string>

#include "guard/config/ip_sets.h"
#include "guard/config/settings_reader.h"
#include "guard/config/yaml_reader.h"
#include "guard/policy/policy.h"

namespace edgeguard::config {

// bans.max_active is restart-only: it goes to `max_active` and its position to `settings`.
void read_bans(const YAML::Node& n, const IpSets& sets, BanSettings& b, std::size_t& max_active,
               const SettingsReader& settings);
BanRule read_ban_rule(const YAML::Node& n, const std::string& what);

}  // namespace edgeguard::config
