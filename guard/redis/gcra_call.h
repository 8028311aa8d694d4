#pragma once
// The calling convention of the GCRA script (gcra_script.h), both ways: the EVALSHA argv for a
// group of limit keys (with their ban orders in a standalone Redis), and the 8-integer reply
// read back into a verdict and what became of the ban. The reply parser is a
// pure function of the reply tree, so malformed replies are tested and fuzzed without a server.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guard/bans/ban.h"
#include "guard/limit/gcra.h"
#include "guard/redis/ban_keys.h"
#include "guard/redis/ban_script.h"
#include "guard/redis/gcra_script.h"

namespace edgeguard {

// The Redis key of a limit key: `prefix{key}`. The braces make the limit key its own hash tag,
// so in a Cluster per-client keys spread over every master.
std::string gcra_redis_key(std::string_view prefix, std::string_view key);

// Writes `prefix{key}` into `out` (its capacity reused).
void gcra_redis_key(std::string& out, std::string_view prefix, std::string_view key);

// The ban section of a script run: the ban orders of the buckets that carry one. All share the
// escalation of the first order (every order of a policy points at its `bans.escalation`).
struct GcraBanSection {
  const BanKeys* keys = nullptr;
  std::size_t max_active = 0;
  struct Order {
    std::size_t bucket = 0;  // 0-based, into the `keys` of the run
    const BanOrder* order = nullptr;
  };
  std::vector<Order> orders;
};

// The ban section's length: prefix, channel and the escalation arguments, then per order its
// bucket, subject, scope, reason, source and duration.
inline constexpr std::size_t kGcraBanSectionHead = 2 + kEscalationArgs;
inline constexpr std::size_t kGcraBanOrderArgs = 6;

// EVALSHA sha numkeys KEYS... mode (T tau)... [ban section]: `keys` (limit keys, written as
// gcra_redis_key with `prefix`) and `rates` are parallel; `bans` null or without orders: no
// section. Written into the first N strings of `argv` (N returned), reusing the strings already
// there and never shrinking it: the store recycles its requests, so a command costs no
// allocation once one as long has been written.
[[nodiscard]] std::size_t gcra_evalsha_argv(std::vector<std::string>& argv, std::string_view prefix,
                                            std::span<const std::string_view> keys,
                                            std::span<const GcraRate> rates, GcraScriptMode mode,
                                            const GcraBanSection* bans = nullptr);
// Where the mode sits in an argv whose numkeys is `keys` (a refund re-sends it with another
// mode).
inline std::size_t gcra_mode_arg(std::size_t keys) {
  return 3 + keys;
}
// The same, read from an argv built by gcra_evalsha_argv.
std::size_t gcra_mode_arg_of(const std::vector<std::string>& argv);
// Turns an EVALSHA argv into EVAL with the script source (after NOSCRIPT).
void gcra_argv_to_eval(std::vector<std::string>& argv);

// The script's verdict on one group of keys.
struct GcraReply {
  bool allowed = true;
  int denied = -1;  // which key of the group denied (0-based), -1 when allowed
  std::int64_t retry_after_ns = 0, remaining = 0, reset_ns = 0;
  BanStepReply ban;  // state none unless the denying key's ban order was run
};

// Times in a reply stay below this (146 years), so adding one to a monotonic `now` cannot
// overflow.
inline constexpr std::int64_t kGcraReplyMaxNs = std::int64_t{1} << 62;

// Reads {allowed 0|1, denied_index, retry_after_ns, remaining, reset_ns, ban state, ban ns
// left, ban count} for a script run over `keys` bucket keys. nullopt for anything else: not an
// array of exactly 8 integers, a verdict other than 0 or 1, a denied index that is not -1 when
// allowed or not one of the `keys` when denied, a negative or huge time or count, a ban that
// read_ban_step refuses or one reported for an allowed request. Error replies are the caller's
// to read first.
std::optional<GcraReply> parse_gcra_reply(const redisReply* reply, std::size_t keys);

}  // namespace edgeguard
