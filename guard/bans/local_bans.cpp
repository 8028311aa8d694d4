#include "guard/bans/local_bans.h"

namespace edgeguard {

LocalBans::Result LocalBans::make(const BanOrder& order, std::int64_t now_ns) {
  // A ban in force on this scope (or on every route) already covers it. The lock-free index
  // answers first: most orders come from new offenders, and the records' lock and maps are
  // only read for one that is banned.
  if (table_.banned_until(order.subject, order.scope, now_ns) != 0) {
    if (auto in_force = table_.find(order.subject, order.scope, now_ns)) {
      return {in_force->until_ns, in_force->count, false};
    }
  }
  const Escalation& e = order.escalation != nullptr ? *order.escalation : Escalation{};
  const std::int64_t n = offences_.record(order.subject, now_ns, e.memory_ns);
  Ban ban{std::string(order.subject),
          std::string(order.scope),
          now_ns + ban_duration(order.for_ns, n, e),
          n,
          std::string(order.reason),
          order.source};
  const Result r{ban.until_ns, n, true};
  if (!table_.insert(ban, now_ns)) return {};
  if (events_ != nullptr) events_->made(ban, now_ns);
  return r;
}

Ban LocalBans::make_manual(std::string subject, std::string route, std::int64_t for_ns,
                           const Escalation& escalation, std::int64_t now_ns) {
  const std::int64_t n = offences_.record(subject, now_ns, escalation.memory_ns);
  Ban ban{std::move(subject), std::move(route), now_ns + for_ns, n, "manual", BanSource::manual};
  if (table_.insert(ban, now_ns) && events_ != nullptr) events_->made(ban, now_ns);
  return ban;
}

bool LocalBans::hold(const Ban& ban, std::int64_t now_ns, bool announce) {
  if (!table_.insert(ban, now_ns)) return false;
  if (announce && events_ != nullptr) events_->made(ban, now_ns);
  return true;
}

std::size_t LocalBans::lift(const std::string& subject, std::int64_t now_ns, bool announce) {
  const std::size_t n = table_.remove(subject, now_ns);
  if (announce && n > 0 && events_ != nullptr) events_->lifted(subject, n, now_ns);
  return n;
}

}  // namespace edgeguard
