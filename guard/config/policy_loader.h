#pragma once
// YAML -> compiled Policy. Strict: an unknown key, a wrong type or a bad value is an error that
// names the place as FILE:LINE:COL. Loading never half-succeeds: either a whole new policy or
// an error, so a refused reload leaves the old policy serving.
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "guard/policy/policy.h"

namespace edgeguard {

// A place in the config file, from 1.
struct SourcePosition {
  int line = 1;
  int column = 1;
};

struct PolicyLoad {
  std::shared_ptr<const Policy> policy;
  std::string error;  // "FILE:LINE:COL: message" when policy is null
  // Where the file writes each restart-only setting and each section holding one ("listen",
  // "store", "store.redis", "store.redis.on_error", …), so a reload refusal can point at it.
  std::map<std::string, SourcePosition, std::less<>> positions;

  // "FILE:LINE:COL" of `setting`, else of its nearest enclosing section the file writes, else
  // FILE:1:1 (a setting removed from the file). Needs `policy`.
  std::string locate(std::string_view setting) const;
};

PolicyLoad load_policy_file(const std::string& path);
// `source_name` stands for the file in error messages; relative data paths resolve against
// `base_dir`.
PolicyLoad parse_policy(std::string_view yaml, const std::string& source_name,
                        const std::string& base_dir = ".");

}  // namespace edgeguard
