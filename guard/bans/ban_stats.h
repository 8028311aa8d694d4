#pragma once
// edgeguard_bans_total{route,source} (bans this process made: each ban is counted once across
// replicas, by the one that made it) and edgeguard_bans_active (bans this process enforces).
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "guard/bans/ban.h"
#include "guard/metrics/registry.h"

namespace edgeguard {

class BanStats {
 public:
  void count(const std::string& route, BanSource source) {
    std::lock_guard lock(mu_);
    ++made_[{route, source}];
  }
  void write(MetricsWriter& w, std::size_t active) const {
    w.gauge("edgeguard_bans_active", "Bans in force that this process enforces.",
            static_cast<double>(active));
    w.family("edgeguard_bans_total", "counter", "Bans this process made, by route and source.");
    std::lock_guard lock(mu_);
    for (const auto& [key, n] : made_) {
      w.sample(static_cast<double>(n),
               "route=\"" + key.first + "\",source=\"" + to_string(key.second) + "\"");
    }
  }

 private:
  mutable std::mutex mu_;  // bans are rare: a map under a lock is enough
  std::map<std::pair<std::string, BanSource>, std::uint64_t> made_;
};

}  // namespace edgeguard
