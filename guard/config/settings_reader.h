#pragma once
// The restart-only settings (RestartSettings: listen addresses, threads, the limit store, the
// GeoIP database paths, the tailnet node source), and the `tailnet:` section whose ranges and
// refresh a reload does apply. Each restart-only setting's position is recorded, so a reload
// that changes one can be refused pointing at it.
#include <map>
#include <string>

#include "guard/config/policy_loader.h"
#include "guard/config/yaml_reader.h"
#include "guard/policy/policy.h"

namespace edgeguard::config {

using SettingPositions = std::map<std::string, SourcePosition, std::less<>>;

class SettingsReader {
 public:
  // Relative file paths (password_file, databases, node list) resolve against `base_dir`.
  SettingsReader(std::string base_dir, SettingPositions& positions)
      : base_dir_(std::move(base_dir)), positions_(positions) {}

  // `listen`, `admin_listen`: IP:PORT ("[::1]:9090" for IPv6; listen also takes "*").
  std::string address(const YAML::Node& n, const std::string& name) const;
  int threads(const YAML::Node& n) const;
  void store(const YAML::Node& n, StoreSettings& s) const;
  const std::string& base_dir() const { return base_dir_; }
  void geoip(const YAML::Node& n, GeoIpSettings& g) const;
  void tailnet(const YAML::Node& n, TailnetSettings& t, NodeSourceSettings& source) const;
  // Records where restart-only setting `name` is written (sections outside this file, such as
  // bans.max_active, note theirs here too).
  void note(const std::string& name, const YAML::Node& n) const;

 private:
  void redis(const YAML::Node& n, RedisSettings& r) const;

  std::string base_dir_;
  SettingPositions& positions_;
};

// 100.64.0.0/10 and fd7a:115c:a1e0::/48: the addresses Tailscale hands out.
CidrSet default_tailnet_ranges();

}  // namespace edgeguard::config
