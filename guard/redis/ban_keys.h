#pragma once
// How bans live in Redis (README "Shared state in Redis"): every ban key carries the hash tag
// `{bans}`, so in a Cluster one slot holds them all and one atomic script can check, escalate,
// make, list and lift them. Keys under the configured prefix P:
//
//   P{bans}:ban:<scope>:<subject>   a string per ban, PX = its duration; the value is a record
//                                   (below). <scope> is a route name (letters, digits, - _ .)
//                                   or "*", so the first ':' after "ban:" ends it.
//   P{bans}:scopes:<subject>        a set of the scopes the subject is banned on (unban by
//                                   subject), PX = its longest ban
//   P{bans}:index                   a sorted set of "<scope>:<subject>" by end (Unix ms): the
//                                   bound (bans.max_active, as each replica's table) and the
//                                   resync's list
//   P{bans}:offences, P{bans}:offence-counts
//                                   a sorted set of subject by last ban (Unix ms) and a hash of
//                                   subject -> n: the escalation memory, bounded like the local
//                                   OffenceLog (4 x max_active subjects)
//
// and the channel `P bans` (not a key; `P bans:<db>` on a database other than 0, since pub/sub
// ignores databases) on which the script announces each ban and unban.
//
// A record (the value of a ban key), written by the script:
//   "<count> <source> <until Unix ms> <reason length>:<reason><scope>:<subject>"
// A message on the channel:
//   "ban <ns left when published> <record>"   or   "unban <subject>"
// The parsers are strict (fuzzed: tests/fuzz, target ban_message): what another process wrote
// into Redis is input like any other.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "guard/bans/ban.h"

namespace edgeguard {

class BanKeys {
 public:
  explicit BanKeys(std::string prefix, int db = 0);

  const std::string& prefix() const { return prefix_; }
  const std::string& channel() const { return channel_; }
  // The key every ban script names first: Redis Cluster routes the script by its slot.
  const std::string& index() const { return index_; }
  int slot() const { return slot_; }

  std::string ban(std::string_view scope, std::string_view subject) const;
  std::string scopes(std::string_view subject) const;
  std::string offences() const;
  std::string offence_counts() const;

 private:
  std::string prefix_, channel_, index_;
  int slot_ = 0;
};

// Longest subject and reason a record may carry (a limit key's subject is at most its key).
inline constexpr std::size_t kMaxBanText = 4096;

struct BanRecord {
  std::int64_t count = 1;
  BanSource source = BanSource::limit;
  std::int64_t until_ms = 0;  // Unix ms in Redis's clock, for whoever reads the key
  std::string reason;
  std::string scope;  // a route name or "*"
  std::string subject;
};

std::string format_ban_record(const BanRecord& record);
std::optional<BanRecord> parse_ban_record(std::string_view value);

struct BanMessage {
  enum class Kind : std::uint8_t { ban, unban };
  Kind kind = Kind::ban;
  std::int64_t left_ns = 0;  // ban: its duration left when the script published it
  BanRecord record;          // unban: only the subject
};

std::optional<BanMessage> parse_ban_message(std::string_view payload);

}  // namespace edgeguard
