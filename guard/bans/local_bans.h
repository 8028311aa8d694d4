#pragma once
// Bans made in this process: in local mode, in the Redis store's local fallback, and in replay.
// A ban order becomes a ban unless its subject is banned there already (then nothing is made
// and nothing escalates: a burst of denials is one offence), escalated by the subject's offence
// count within the memory, held in the table, and announced to the events sink (logs, metrics,
// the CrowdSec reporter).
#include <cstdint>
#include <string>

#include "guard/bans/ban_table.h"
#include "guard/bans/offence_log.h"

namespace edgeguard {

// Who hears of bans made and lifted in this process. Times in `Ban` are the table's clock.
class BanEvents {
 public:
  virtual ~BanEvents() = default;
  virtual void made(const Ban& ban, std::int64_t now_ns) = 0;
  virtual void lifted(const std::string& subject, std::size_t bans, std::int64_t now_ns) = 0;
};

class LocalBans {
 public:
  // `events` may be null. Offences are remembered for 4 x the table's bound of subjects.
  LocalBans(BanTable& table, BanEvents* events)
      : table_(table), offences_(table.max_active() * 4), events_(events) {}

  struct Result {
    std::int64_t until_ns = 0;  // 0: nothing could be held (a full table refused it)
    std::int64_t count = 0;
    bool made = false;
  };
  Result make(const BanOrder& order, std::int64_t now_ns);
  // A ban by hand: replaces any ban of (subject, route), counted as an offence.
  Ban make_manual(std::string subject, std::string route, std::int64_t for_ns,
                  const Escalation& escalation, std::int64_t now_ns);
  // A ban made outside this class (by the Redis script, or by another replica and learned from
  // Redis): held in the table as it is, and announced to the events sink only when `announce`
  // (this process made it: each ban is logged and counted once, by the replica that made it).
  // False when a full table refused it.
  bool hold(const Ban& ban, std::int64_t now_ns, bool announce);
  // Lifts every ban of `subject`; announced (when there was one) only when `announce`.
  std::size_t lift(const std::string& subject, std::int64_t now_ns, bool announce = true);

  BanTable& table() { return table_; }
  BanEvents* events() const { return events_; }
  const OffenceLog& offences() const { return offences_; }

 private:
  BanTable& table_;
  OffenceLog offences_;
  BanEvents* events_;
};

}  // namespace edgeguard
