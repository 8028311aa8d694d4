#pragma once
// `crowdsec:` at the top level (SPEC section 9): where the LAPI is, the bouncer key, how often to
// pull, which scopes, what a captcha decision does, and optionally the machine that reports
// edgeguard's bans. All of it is restart-only (the puller and reporter are built at start).
#include <map>
#include <string>

#include "guard/config/settings_reader.h"
#include "guard/config/yaml_reader.h"
#include "guard/crowdsec/crowdsec_settings.h"

namespace edgeguard::config {

void read_crowdsec(const YAML::Node& n, const SettingsReader& settings, const std::string& base_dir,
                   CrowdsecSettings& c);

}  // namespace edgeguard::config
