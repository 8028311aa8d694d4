#pragma once
// The sections that wire the process together: the limit store, the GeoIP databases and the
// tailnet (its address ranges and where the node list comes from).
#include <string>

#include "guard/config/yaml_reader.h"
#include "guard/policy/policy.h"

namespace edgeguard::config {

class SettingsReader {
 public:
  // Relative file paths (password_file, databases, node list) resolve against `base_dir`.
  explicit SettingsReader(std::string base_dir) : base_dir_(std::move(base_dir)) {}

  void store(const YAML::Node& n, StoreSettings& s) const;
  const std::string& base_dir() const { return base_dir_; }
  void geoip(const YAML::Node& n, GeoIpSettings& g) const;
  void tailnet(const YAML::Node& n, TailnetSettings& t) const;

 private:
  void redis(const YAML::Node& n, RedisSettings& r) const;

  std::string base_dir_;
};

}  // namespace edgeguard::config
