#pragma once
// Strict reading of YAML config values, shared by every config section: a mapping reader that
// reports unknown keys, typed readers (`as_int`, `as_duration`, `as_cidr`…) that name what they
// read, and errors that carry the YAML position so they print as FILE:LINE:COL. A section reader
// is a function over these; a new section (bans, failures, …) needs nothing else.
//
// Errors are thrown as ConfigError and turned into a value at the loader's boundary
// (parse_policy): config loading is not on the request path, and every reader stays a plain
// sequence of checks instead of threading an error out of each call.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "guard/net/cidr_set.h"

namespace edgeguard::config {

struct ConfigError {
  YAML::Mark mark;
  std::string message;
};

[[noreturn]] void fail(const YAML::Node& at, std::string message);

// "FILE:LINE:COL: message" (LINE and COL from 1; an unknown position is 1:1).
std::string format_error(const std::string& source, const YAML::Mark& mark,
                         const std::string& message);

// Reads one YAML mapping, remembering which keys were used, so leftovers are reported.
class MapReader {
 public:
  // `what` names the mapping in messages: "store.redis", "route login".
  MapReader(const YAML::Node& node, std::string what);
  YAML::Node get(const std::string& key);
  bool has(const std::string& key) const { return static_cast<bool>(node_[key]); }
  // Fails at the first key that no get() asked for.
  void finish() const;

 private:
  YAML::Node node_;
  std::string what_;
  std::set<std::string> seen_;
};

std::string as_string(const YAML::Node& n, const std::string& what);
long long as_int(const YAML::Node& n, const std::string& what, long long lo, long long hi);
double as_number(const YAML::Node& n, const std::string& what);          // finite
bool as_bool(const YAML::Node& n, const std::string& what);              // true | false
std::int64_t as_duration(const YAML::Node& n, const std::string& what);  // > 0, in ns
// A list, or a single scalar standing for a one-element list.
std::vector<YAML::Node> as_list(const YAML::Node& n, const std::string& what);
std::vector<std::string> as_strings(const YAML::Node& n, const std::string& what);
Cidr as_cidr(const YAML::Node& n, const std::string& what);
int as_status(const YAML::Node& n, const std::string& what);  // an HTTP status, 200..599
// HOST:PORT, returned as written.
std::string as_address(const YAML::Node& n, const std::string& what);
// A file path; a relative one resolves against `base_dir` (the config file's directory).
std::string as_path(const YAML::Node& n, const std::string& what, const std::string& base_dir);

// Names that scope buckets and label metrics: 1-64 of letters, digits, '-', '_', '.'.
bool is_simple_name(const std::string& s);

}  // namespace edgeguard::config
