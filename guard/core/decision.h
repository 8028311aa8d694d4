#pragma once
// What the core answers: the verdict, the rule that decided and why, and for rate limits the
// numbers the response headers carry. Plain data; the HTTP layer turns it into a response.
#include <cstdint>
#include <string>
#include <vector>

#include "guard/crowdsec/crowdsec_decision.h"
#include "guard/geoip/geo_facts.h"
#include "guard/net/ip_address.h"
#include "guard/policy/policy.h"
#include "guard/tailnet/node_directory.h"

namespace edgeguard {

enum class Verdict : std::uint8_t { allow, deny, shadow_deny };

// Why a request was denied (or would have been). Also the `reason` label of the decision metric.
enum class Reason : std::uint8_t {
  none,
  caller,
  ip,
  tailnet,
  geo,
  rate_limit,
  default_deny,
  ban,
  crowdsec,
};
inline constexpr int kReasonCount = 9;

// Facts about the client, resolved by adapters before the core runs (guard/pipeline/facts.h).
struct Facts {
  IpAddress client_ip;
  bool client_ip_known = true;  // false only for a failure report that names no address
  GeoFacts geo;
  const DirectoryEntry* node = nullptr;  // the enrolled tailnet node at client_ip, if any
  // The login name the route read from the body (canonical), or given outright; empty: none.
  std::string_view username;
  // The end of the longest active ban among the request's subjects on its route (0: none).
  std::int64_t banned_until_ns = 0;
  // The CrowdSec decision on the client's address, range, country or AS (null: none), from the
  // snapshot's decision set (which outlives the request).
  const CrowdsecDecision* crowdsec = nullptr;
};

struct Decision {
  Verdict verdict = Verdict::allow;
  Reason reason = Reason::none;
  const Route* route = nullptr;
  const char* rule =
      "none";            // bypass | deny_ips | allow_ips | tailnet | geo | limit | default | none
  int limit_index = -1;  // the limit that denied (or came nearest, when allowed)
  std::int64_t retry_after_ns = 0;  // rate limit: until a token is back; ban: until its end
  std::int64_t remaining = -1;      // tokens left in the tightest limit; -1 when no limit ran
  bool ban_made = false;            // this request's limit denial made the ban (the store said so)
  const CrowdsecDecision* crowdsec = nullptr;  // reason crowdsec: the decision (its scenario)
  // Admitted with at most a fifth of the nearest limit's burst left: the early sign that a limit
  // is about to bite legitimate users (edgeguard_limit_near_total).
  bool near_limit = false;

  bool allowed() const { return verdict != Verdict::deny; }
  // Refused (or would be, in shadow) by a limit: rate limited, or banned by the limit's denial.
  bool denied_by_limit() const {
    return verdict != Verdict::allow && limit_index >= 0 &&
           (reason == Reason::rate_limit || reason == Reason::ban);
  }
  // The limit named by limit_index, or null when no limit decided.
  const LimitPolicy* limit() const;
  // HTTP status for the response: 200, or the route's configured deny statuses.
  int status() const;
};

// A step of the decision, for `edgeguard explain`. Only built when asked for.
struct TraceStep {
  std::string rule;
  std::string result;
  std::string detail;
};
using Trace = std::vector<TraceStep>;

const char* to_string(Verdict v);
const char* to_string(Reason r);
// Retry-After is whole seconds, rounded up, and at least 1 for a denial.
std::int64_t retry_after_seconds(std::int64_t retry_after_ns);

}  // namespace edgeguard
