#pragma once
// YAML -> compiled Policy. Strict: an unknown key, a wrong type or a bad value is an error that
// names the place as FILE:LINE:COL. Loading never half-succeeds: either a whole new policy or
// an error, so a refused reload leaves the old policy serving.
#include <memory>
#include <string>
#include <string_view>

#include "guard/policy/policy.h"

namespace edgeguard {

struct PolicyLoad {
  std::shared_ptr<const Policy> policy;
  std::string error;  // "FILE:LINE:COL: message" when policy is null
};

PolicyLoad load_policy_file(const std::string& path);
// `source_name` stands for the file in error messages; relative data paths resolve against
// `base_dir`.
PolicyLoad parse_policy(std::string_view yaml, const std::string& source_name,
                        const std::string& base_dir = ".");

}  // namespace edgeguard
