#pragma once
// The one Lua script that decides a request in Redis: GCRA (guard/limit/gcra.h, same integer
// math) over every key of one script, with Redis `TIME` as the clock so replicas whose clocks
// disagree still share one timeline.
//
// KEYS[i]  bucket keys (all in one hash slot in a Cluster); with a ban section, the bans' index
//          key last (ban_keys.h).
// ARGV[1]  mode: 0 check all then charge all, 1 dry run (charge nothing), 2 refund one emission
//          interval on every key (undo a charge whose sibling group in a Cluster denied).
// ARGV[2i], ARGV[2i+1]  emission_ns (T) and tolerance_ns (tau) of KEYS[i].
// Then, optionally, a ban section (standalone Redis only: in a Cluster the bans' slot is not
// the buckets'): key prefix, channel, factor, max_ns, memory_ms, max_active (ban_script.h), and
// per ban order six arguments: the 1-based bucket it belongs to, subject, scope, reason,
// source, for_ns. The script tells the section is there by ARGV being longer than 1 + 2 x KEYS.
// Reply: {allowed 0|1, denied_index (0-based) or -1, retry_after_ns, remaining, reset_ns,
//         ban state, ban ns left, ban count}: when charging and the denying bucket has a ban
//         order, the same script made (or found) the ban (ban_script.h, BanStep); else 0 0 0.
//
// Each TAT is stored as a decimal string of integer nanoseconds in Redis's clock. Lua numbers
// are doubles (exact below 2^53), so the script never holds an absolute nanosecond value: it
// splits the string into microseconds and a 0..999 ns remainder and computes relative to now.
#include <string_view>

namespace edgeguard {

enum class GcraScriptMode { charge = 0, dry_run = 1, refund = 2 };

std::string_view gcra_script_source();
// Lower-case hex SHA1 of the source, as EVALSHA wants it.
std::string_view gcra_script_sha1();

}  // namespace edgeguard
