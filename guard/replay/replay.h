#pragma once
// Replays access-log records through a policy on the log's own clock: the decision pipeline the
// server runs (guard/pipeline) with a fresh local store, and per route what would have happened.
// This is how an operator tunes a limit before enforcing it (README, "Tuning a limit").
//
// Clock: records are taken in the order given. Traefik writes a line when a request ends, so
// StartUTC is not quite monotonic; the replay clock never goes back: a record that started
// before one already seen is decided at the latest time seen (counted as `late`; its error is
// at most that request's duration). Give files oldest first.
//
// Peak rate per key: requests in the last six 10-second slots (the current one included), the
// maximum over the replay. That window spans 50 to 60 s, so the figure is never above the true
// busiest minute and at most one 10-second slot's requests below it, for 40 bytes per key.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "guard/accesslog/access_log.h"
#include "guard/bans/ban_table.h"
#include "guard/bans/local_bans.h"
#include "guard/core/decision.h"
#include "guard/failures/failure_recorder.h"
#include "guard/pipeline/pipeline.h"
#include "guard/pipeline/snapshot.h"
#include "guard/request/forward_request.h"
#include "guard/store/local_store.h"

namespace edgeguard {

struct KeyReport {
  std::string key;  // client IP, or the limit's key value (key_value() in core/limit_key.h)
  std::uint64_t requests = 0;
  std::uint64_t denied = 0;
  std::uint32_t peak_per_minute = 0;
};

struct LimitReport {
  std::string name;
  double average = 0;
  std::int64_t period_ns = 0;
  std::int64_t burst = 0;
  std::uint64_t denied = 0;         // would-deny by this limit
  std::uint64_t keys = 0;           // distinct keys seen
  std::vector<KeyReport> top_keys;  // most denied first, then highest peak
};

// (Not `BanReport`: that is the CrowdSec reporter's. Two classes of one name in one namespace
// are one class to the linker, and the CrowdSec reporter got this one's constructor.)
struct BannedSubjectReport {
  std::string subject;
  std::uint64_t bans = 0;
  std::int64_t seconds = 0;  // banned for, in all
};

struct RouteReport {
  std::string name;
  std::string mode;  // enforce | shadow
  std::uint64_t requests = 0;
  std::uint64_t allow = 0;
  std::uint64_t deny = 0;
  std::uint64_t shadow_deny = 0;
  std::uint64_t would_deny() const { return deny + shadow_deny; }
  std::vector<std::pair<std::string, std::uint64_t>> would_deny_by_reason;  // non-zero only
  std::vector<LimitReport> limits;
  std::vector<KeyReport> top_denied_clients;  // denials by ip, tailnet, geo, default, bans
  // Logged failures (failures.access_log statuses) charged to the route's failure limits.
  std::uint64_t failures = 0;
  // Bans this policy would have made on the route (limits with `ban:`), replayed with escalation.
  std::uint64_t bans = 0;
  std::uint64_t banned_subjects = 0;
  std::int64_t ban_seconds = 0;
  std::vector<BannedSubjectReport> top_banned;  // longest banned first
};

struct MalformedLine {
  std::string source;
  std::uint64_t line = 0;
  std::string error;
};

struct ReplayReport {
  std::uint64_t lines = 0;      // non-blank lines read
  std::uint64_t requests = 0;   // lines decided
  std::uint64_t malformed = 0;  // lines that are not access-log records
  std::vector<MalformedLine> malformed_examples;
  std::uint64_t bad_requests = 0;  // records edgeguard would answer with 400
  std::vector<MalformedLine> bad_request_examples;
  std::uint64_t late = 0;  // records that started before the replay clock
  std::int64_t first_ns = 0, last_ns = 0;
  std::vector<RouteReport> routes;  // file order, default last
};

class Replay {
 public:
  // The policy and data sources of `snapshot` must outlive this. Bans are replayed in a table
  // of the replay's own, on the log's clock.
  explicit Replay(const Snapshot& snapshot);
  ~Replay();

  // The headers a record must capture for this policy (AccessLogParser's constructor).
  std::vector<std::string> header_names() const;

  void add(const AccessRecord& record, std::string_view source, std::uint64_t line);
  void add_malformed(std::string_view source, std::uint64_t line, std::string_view error);

  ReplayReport report(std::size_t top) const;

  static constexpr std::size_t kExamples = 5;

 private:
  struct KeyStats {
    std::uint64_t requests = 0;
    std::uint64_t denied = 0;
    std::int64_t last_slot = -1;
    std::uint32_t slots[6] = {};
    std::uint32_t peak = 0;
    void count(std::int64_t now_ns);
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using KeyMap = std::unordered_map<std::string, KeyStats, StringHash, std::equal_to<>>;
  struct LimitStats {
    std::uint64_t denied = 0;
    KeyMap keys;
  };
  struct BanStats {
    std::uint64_t bans = 0;
    std::int64_t seconds = 0;
  };
  struct RouteStats {
    std::uint64_t requests = 0;
    std::uint64_t verdicts[3] = {};
    std::uint64_t reasons[kReasonCount] = {};  // would-deny (deny or shadow_deny) by reason
    std::vector<LimitStats> limits;
    KeyMap denied_clients;
    std::unordered_map<std::string, BanStats, StringHash, std::equal_to<>> banned;
    std::uint64_t failures = 0;  // logged statuses failures.access_log counts, charged
  };
  void count_ban(RouteStats& rs, std::string_view subject, std::int64_t seconds);

  const Route& route_at(std::size_t index) const;
  KeyStats& find_or_add(KeyMap& map, std::string_view key);

  std::shared_ptr<Snapshot> snapshot_;  // the caller's, with the replay's ban table
  const Policy& policy_;
  BanTable bans_;
  LocalBans local_bans_{bans_, nullptr};
  std::unique_ptr<LocalLimitStore> store_;
  Pipeline pipeline_;
  FailureStats failure_stats_;
  FailureRecorder failures_;
  bool header_is_xff_ = false;
  std::vector<RouteStats> routes_;
  RequestScratch scratch_;
  std::string joined_;  // X-Forwarded-For as Traefik would send it
  std::int64_t clock_ns_ = 0;
  ReplayReport totals_;  // counters and examples; routes are filled by report()
};

// The report as aligned text tables, and as JSON (one object).
std::string render_table(const ReplayReport& report);
std::string render_json(const ReplayReport& report);

}  // namespace edgeguard
