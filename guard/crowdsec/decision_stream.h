#pragma once
// One answer of LAPI's GET /v1/decisions/stream, read into decisions edgeguard can match:
//   {"new": [{"id": 1, "scope": "Ip", "value": "1.2.3.4", "type": "ban",
//             "duration": "3h59m58.4s", "scenario": "...", "origin": "cscli"}, ...] | null,
//    "deleted": [...] | null}
// A pure function with no clock: durations stay relative, the decision set turns them into
// deadlines. An entry edgeguard cannot use (a scope not configured, such as Username, or a value
// that does not parse) is skipped and counted, not an error: one odd decision must not cost the
// whole list. A body that is not such an object is an error, and the caller keeps its set.
// Read as a stream of JSON events (no document is built): a startup answer of 100 000
// decisions is about 16 MB of JSON, and its document would be several times that.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "guard/crowdsec/crowdsec_decision.h"

namespace edgeguard {

struct StreamDecision {
  std::int64_t id = 0;  // 0 when LAPI sent none (then key() derives one from the content)
  DecisionScope scope = DecisionScope::ip;
  DecisionType type = DecisionType::ban;
  IpAddress address;  // ip, range (network address, host bits cleared)
  std::uint8_t prefix = 0;
  std::uint32_t target = 0;      // as: number; country: pack_country()
  std::int64_t duration_ns = 0;  // time left as LAPI counted it; negative once expired
  bool has_duration = false;     // `deleted` entries need none
  // Views into strings the StreamUpdate keeps (one copy of each distinct string).
  std::string_view type_name, scenario, origin;

  // What identifies the decision across answers: LAPI's id, or for an entry without one a
  // negative hash of scope, value, type, scenario and origin (so it never meets a real id).
  std::int64_t key() const;
};

// Owns the strings the decisions' views point into, so it neither copies nor moves.
class StreamUpdate {
 public:
  StreamUpdate() = default;
  StreamUpdate(const StreamUpdate&) = delete;
  StreamUpdate& operator=(const StreamUpdate&) = delete;

  std::vector<StreamDecision> added;    // "new"
  std::vector<StreamDecision> deleted;  // "deleted"
  std::size_t skipped = 0;              // entries edgeguard cannot use
  std::string first_skip;               // why the first one was skipped, for the log

  bool empty() const { return added.empty() && deleted.empty(); }

 private:
  friend bool parse_decision_stream(std::string_view, ScopeMask, StreamUpdate&, std::string*);
  std::unordered_set<std::string> strings_;  // node-based: views into it stay valid
};

// Parses `body` into `out` (which must be fresh). Only decisions of `scopes` are kept. Returns
// false with `error` set when the body is not a stream answer.
bool parse_decision_stream(std::string_view body, ScopeMask scopes, StreamUpdate& out,
                           std::string* error);

}  // namespace edgeguard
