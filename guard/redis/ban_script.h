#pragma once
// The bans' Lua (ban_keys.h says where bans live in Redis), in two parts:
// - a library of functions that the GCRA script embeds (gcra_script.h), so that in a
//   standalone Redis the script that denies a request also makes its ban: one round trip;
// - the ban script, one operation per call on the {bans} slot:
//     order   a limit's ban order after a denial, in a Redis Cluster (the denying bucket lives
//             in another slot: README "Shared state in Redis" says why this is still correct)
//     manual  a ban by hand (admin API)
//     unban   lifts every ban of a subject
//     resync  one page of the active bans (ZSCAN of the index) with their time left
//
// A ban order is idempotent: if (subject, scope) or (subject, every route) is banned already,
// the ban in force is reported and nothing escalates (a burst of denials is one offence).
// Otherwise the offence is recorded (n-th within the memory), the ban lasts
// min(for x factor^(n-1), max) exactly as ban_duration() in guard/bans/ban.cpp computes it
// (the same double arithmetic), its key is set with PX, the index keeps at most max_active bans
// (the ones nearest their end give way, as in each replica's BanTable), and the ban is
// PUBLISHed so every replica holds it.
//
// Calls: KEYS[1] = the index (it routes the script to the {bans} slot); ARGV[1] op, ARGV[2] key
// prefix, ARGV[3] channel, then the op's arguments as the argv builders below write them.
// Replies: order/manual {state, ns left, count}; unban {lifted}; resync {cursor, record,
// ms left, record, ms left, ...}. Times come from Redis's TIME.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guard/bans/ban.h"
#include "guard/redis/ban_keys.h"

namespace edgeguard {

std::string_view ban_lua_library();
std::string_view ban_script_source();
std::string_view ban_script_sha1();

// What a ban order came to.
enum class BanStep : std::uint8_t {
  none = 0,      // no ban was asked for (an allowed request, or a denying key without an order)
  made = 1,      // this call made the ban
  in_force = 2,  // a ban was in force already: reported, not escalated
  refused = 3,   // the index was full of bans that end later: nobody was banned
};

struct BanStepReply {
  BanStep state = BanStep::none;
  std::int64_t left_ns = 0;  // from Redis's now
  std::int64_t count = 0;    // n-th ban of the subject within the memory
};

// The escalation and bound arguments, as the GCRA script's ban section and the order op take
// them: factor (17 significant digits: the script's double is the caller's), max ns, memory
// ms, max_active.
void append_escalation_args(std::vector<std::string>& argv, const Escalation& e,
                            std::size_t max_active);
// Writes `v` in decimal into `out`'s capacity (through a buffer: no allocation once `out` has
// held a number), as the scripts' argv writers recycle their strings.
void assign_number(std::string& out, long long v);
// The escalation arguments into `out` (kEscalationArgs strings), their capacity reused: the GCRA
// script's ban section is written on every charge of a route that bans.
inline constexpr std::size_t kEscalationArgs = 4;
void write_escalation_args(std::span<std::string> out, const Escalation& e, std::size_t max_active);

std::vector<std::string> ban_order_argv(const BanKeys& keys, const BanOrder& order,
                                        std::size_t max_active);
std::vector<std::string> manual_ban_argv(const BanKeys& keys, std::string_view subject,
                                         std::string_view scope, std::int64_t for_ns,
                                         const Escalation& e, std::size_t max_active);
std::vector<std::string> unban_argv(const BanKeys& keys, std::string_view subject);
std::vector<std::string> resync_argv(const BanKeys& keys, std::string_view cursor,
                                     std::size_t count);
// Turns an EVALSHA argv of the ban script into EVAL with its source (after NOSCRIPT).
void ban_argv_to_eval(std::vector<std::string>& argv);

// {state, ns left, count} as three integers: state 0 has nothing else; made and in force have
// time left (below 2^62) and a count >= 1; refused has no time left. nullopt otherwise.
std::optional<BanStepReply> read_ban_step(long long state, long long left_ns, long long count);
// The order and manual ops' reply: an array of exactly those three integers, state not 0.
std::optional<BanStepReply> parse_ban_step_reply(const redisReply* reply);
// The unban op's reply: a non-negative integer.
std::optional<std::int64_t> parse_unban_reply(const redisReply* reply);

struct ResyncPage {
  std::string cursor;                                    // "0": the last page
  std::vector<std::pair<BanRecord, std::int64_t>> bans;  // record and ms left (> 0)
  std::size_t unreadable = 0;                            // records that did not parse: skipped
};
// The resync op's reply: a cursor (decimal) and pairs of a record string and a positive integer.
std::optional<ResyncPage> parse_resync_reply(const redisReply* reply);

}  // namespace edgeguard
