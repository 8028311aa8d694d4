#pragma once
// `admin:`: the admin API's credentials.
//
//   admin:
//     token_file: secrets/admin-token   # one line; /v1 endpoints then need "Bearer <token>"
//
// The token file is read here, when the policy loads (at start and on every reload), so a
// rotated token takes effect with the reload that follows and an unreadable or malformed file
// is a config error (a refused reload keeps the old token). The token itself never appears in
// an error message.
#include <optional>
#include <string>
#include <string_view>

#include "guard/config/yaml_reader.h"
#include "guard/policy/policy.h"

namespace edgeguard::config {

// A relative token_file resolves against `base_dir` (the config file's directory).
void read_admin(const YAML::Node& n, const std::string& base_dir, AdminSettings& admin);

// The token in a token file's text: one line of 16 to 4096 printable ASCII characters without
// spaces (what `openssl rand -hex 32` writes), surrounding whitespace and the final newline
// dropped. nullopt and `error` (never quoting the text) otherwise.
std::optional<std::string> parse_admin_token(std::string_view text, std::string* error);

// Reads the token file at `path` (the YAML value `v`, named `what` in errors), as above.
std::string read_token_file(const YAML::Node& v, const std::string& what, const std::string& path);

}  // namespace edgeguard::config
