#pragma once
// The settings a running process cannot change: what it listens on, how many event loops it
// runs, which limit store it built and how that store connects, which GeoIP database files it
// mapped and where its tailnet node list comes from. A reload that changes any of them is
// refused, naming the setting; everything else in the config is applied by a reload.
//
// They live in one struct compared whole (defaulted operator==, here and in every member), so a
// field added later is restart-only at once and can never be silently ignored by a reload;
// restart_setting_change() then names which one changed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "guard/crowdsec/crowdsec_settings.h"
#include "guard/tailnet/node_list_format.h"

namespace edgeguard {

enum class StoreType : std::uint8_t { local, redis };
enum class OnError : std::uint8_t { local, allow, deny };

struct RedisSettings {
  std::string address;             // host:port
  std::vector<std::string> nodes;  // Redis Cluster seed nodes
  std::string username;
  std::string password_file;
  int db = 0;
  std::int64_t timeout_ns = 20'000'000;
  OnError on_error = OnError::local;
  int connections = 1;  // per io thread and per Redis node
  bool operator==(const RedisSettings&) const = default;
};

struct StoreSettings {
  StoreType type = StoreType::local;
  std::size_t max_buckets = 1'000'000;
  RedisSettings redis;
  bool operator==(const StoreSettings&) const = default;
};

struct GeoIpSettings {
  std::string country_db;
  std::string asn_db;
  std::string country_field;
  bool operator==(const GeoIpSettings&) const = default;
};

// `tailnet.nodes` without `refresh` (which a reload applies).
struct NodeSourceSettings {
  NodeListFormat format = NodeListFormat::tailscale_status;
  std::string file;                  // exactly one of file / command when configured
  std::vector<std::string> command;  // argv
  bool configured() const { return !file.empty() || !command.empty(); }
  bool operator==(const NodeSourceSettings&) const = default;
};

struct RestartSettings {
  std::string listen = "127.0.0.1:8080";
  std::string admin_listen = "127.0.0.1:9090";
  int threads = 0;  // 0 = one per core
  StoreSettings store;
  GeoIpSettings geoip;
  NodeSourceSettings tailnet_nodes;
  std::size_t bans_max_active = 100'000;  // the ban table is sized once
  // `crowdsec:` (the LAPI the puller and reporter talk to); absent: no CrowdSec.
  std::optional<CrowdsecSettings> crowdsec;
  std::string failures_access_log;  // failures.access_log.file: the follower opens it once
  bool operator==(const RestartSettings&) const = default;
};

// The first setting that differs, named as the config file writes it ("store.redis.on_error");
// empty when the two are equal. A difference no name covers (a field added without one) is
// still reported, as "restart-only settings".
std::string restart_setting_change(const RestartSettings& running, const RestartSettings& loaded);

}  // namespace edgeguard
