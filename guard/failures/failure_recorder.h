#pragma once
// Failures that count (SPEC section 9): a failed login reported by Authentik's webhook, or a
// 401/403 seen in Traefik's access log, charges the failure limits of its route; the failure
// that exhausts one bans its subject (the limit's `ban`, 15m by default). A failure limit never
// refuses a request itself: the ban does. A success ("event": "login") forgets the failures of
// that account, so a user who mistypes and then logs in starts afresh.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "guard/metrics/registry.h"
#include "guard/net/ip_address.h"
#include "guard/pipeline/snapshot.h"
#include "guard/store/store.h"

namespace edgeguard {

enum class FailureSource : std::uint8_t { webhook, access_log };
const char* to_string(FailureSource source);

struct FailureReport {
  std::string route;
  std::optional<IpAddress> client_ip;
  std::string username;  // as reported; made canonical like a body's
  bool success = false;  // a login that worked: reset, not a failure
};

// edgeguard_failures_total{route,source}: failures charged (successes are not failures).
class FailureStats {
 public:
  void count(const std::string& route, FailureSource source);
  void write(MetricsWriter& w) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, FailureSource>, std::uint64_t> counts_;
};

class FailureRecorder {
 public:
  using SnapshotSource = std::function<std::shared_ptr<const Snapshot>()>;
  // `store` must answer on the caller's thread (its event loop, for Redis) and outlive this.
  FailureRecorder(SnapshotSource snapshot, LimitStore& store, FailureStats& stats)
      : snapshot_(std::move(snapshot)), store_(store), stats_(stats) {}

  enum class Outcome : std::uint8_t {
    charged,          // a failure charged to at least one failure limit (or a success reset)
    unknown_route,    // the policy has no route of that name
    nothing_applies,  // the route has no failure limit keyed on what the report names
  };
  // With `made`, a ban the failure made is written there when the store answered at once
  // (replay reports what failure limits would have banned).
  Outcome record(const FailureReport& report, FailureSource source, std::int64_t now_ns,
                 Ban* made = nullptr);

 private:
  SnapshotSource snapshot_;
  LimitStore& store_;
  FailureStats& stats_;
};

}  // namespace edgeguard
