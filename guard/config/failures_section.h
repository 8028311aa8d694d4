#pragma once
// `failures:` at the top level (SPEC section 9): where failures come from.
//
//   failures:
//     webhook: {token_file: secrets/webhook-token}   # POST /v1/failures on admin_listen
//     access_log: {file: /var/log/traefik/access.log, status: [401, 403]}
//
// The webhook's token file is read whenever the policy loads (a reload rotates it, as for
// admin.token_file); the statuses apply on reload; the access log's path is restart-only.
#include <string>

#include "guard/config/settings_reader.h"
#include "guard/config/yaml_reader.h"
#include "guard/policy/policy.h"

namespace edgeguard::config {

void read_failures(const YAML::Node& n, const SettingsReader& settings, FailureSettings& f,
                   std::string& access_log_file);

}  // namespace edgeguard::config
