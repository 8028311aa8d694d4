#pragma once
// The calling convention of the GCRA script (gcra_script.h), both ways: the EVALSHA argv for a
// group of limit keys, and the 5-integer reply read back into a verdict. The reply parser is a
// pure function of the reply tree, so malformed replies are tested and fuzzed without a server.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guard/limit/gcra.h"
#include "guard/redis/gcra_script.h"

namespace edgeguard {

// The Redis key of a limit key: `prefix{key}`. The braces make the limit key its own hash tag,
// so in a Cluster per-client keys spread over every master.
std::string gcra_redis_key(std::string_view prefix, std::string_view key);

// Writes `prefix{key}` into `out` (its capacity reused).
void gcra_redis_key(std::string& out, std::string_view prefix, std::string_view key);

// EVALSHA sha numkeys KEYS... mode (T tau)...: `keys` (limit keys, written as gcra_redis_key
// with `prefix`) and `rates` are parallel. Written into `argv`, reusing the capacity of the
// strings already there: the store recycles its requests, so a command costs no allocation.
void gcra_evalsha_argv(std::vector<std::string>& argv, std::string_view prefix,
                       std::span<const std::string_view> keys, std::span<const GcraRate> rates,
                       GcraScriptMode mode);
// Where the mode sits in an argv built for `keys` keys (a refund re-sends it with another mode).
inline std::size_t gcra_mode_arg(std::size_t keys) {
  return 3 + keys;
}
// Turns an EVALSHA argv into EVAL with the script source (after NOSCRIPT).
void gcra_argv_to_eval(std::vector<std::string>& argv);

// The script's verdict on one group of keys.
struct GcraReply {
  bool allowed = true;
  int denied = -1;  // which key of the group denied (0-based), -1 when allowed
  std::int64_t retry_after_ns = 0, remaining = 0, reset_ns = 0;
};

// Times in a reply stay below this (146 years), so adding one to a monotonic `now` cannot
// overflow.
inline constexpr std::int64_t kGcraReplyMaxNs = std::int64_t{1} << 62;

// Reads {allowed 0|1, denied_index, retry_after_ns, remaining, reset_ns} for a script run over
// `keys` keys. nullopt for anything else: not an array of exactly 5 integers, a verdict other
// than 0 or 1, a denied index that is not -1 when allowed or not one of the `keys` when denied,
// a negative or huge time or count. Error replies are the caller's to read first.
std::optional<GcraReply> parse_gcra_reply(const redisReply* reply, std::size_t keys);

}  // namespace edgeguard
