#include "guard/redis/ban_mirror.h"

namespace edgeguard {

bool RedisBanMirror::lifted_since(const std::string& subject, std::int64_t since_ns) {
  std::lock_guard lock(mu_);
  if (lifted_at_.empty()) return false;
  auto it = lifted_at_.find(subject);
  return it != lifted_at_.end() && it->second >= since_ns;
}

void RedisBanMirror::made(Ban ban, std::int64_t now_ns, std::int64_t asked_ns) {
  ban.confirmed_ns = now_ns;
  if (lifted_since(ban.subject, asked_ns)) {
    // Made, so it is this process's to log and count; lifted since, so not held.
    if (BanEvents* events = bans_.events()) events->made(ban, now_ns);
    return;
  }
  keep_own(ban, now_ns);
  bans_.hold(ban, now_ns, true);
}

bool RedisBanMirror::learned(Ban ban, std::int64_t now_ns, std::int64_t asked_ns) {
  if (lifted_since(ban.subject, asked_ns)) return false;
  ban.confirmed_ns = now_ns;
  keep_own(ban, now_ns);
  return bans_.hold(ban, now_ns, false);
}

void RedisBanMirror::keep_own(Ban& ban, std::int64_t now_ns) {
  // A ban the fallback made here during an outage stays this process's own (kept until it
  // ends, whatever a resync finds) when Redis learns of the subject too, e.g. from a script
  // that a stopped Redis ran late: the later of the two ends holds.
  const auto held = bans_.table().get(ban.subject, ban.route);
  if (held && held->confirmed_ns == 0 && held->until_ns > now_ns) {
    ban.until_ns = std::max(ban.until_ns, held->until_ns);
    ban.confirmed_ns = 0;
  }
}

std::size_t RedisBanMirror::lift(const std::string& subject, std::int64_t now_ns, bool announce,
                                 std::size_t redis_lifted) {
  {
    std::lock_guard lock(mu_);
    std::erase_if(lifted_at_, [&](const auto& kv) { return now_ns - kv.second > kLiftMemoryNs; });
    lifted_at_[subject] = now_ns;
  }
  const std::size_t here = bans_.lift(subject, now_ns, false);
  const std::size_t lifted = std::max(here, redis_lifted);
  if (announce && lifted > 0) {
    if (BanEvents* events = bans_.events()) events->lifted(subject, lifted, now_ns);
  }
  return lifted;
}

std::size_t RedisBanMirror::drop_unconfirmed(std::int64_t started_ns, std::int64_t now_ns) {
  return bans_.table().drop_unconfirmed(started_ns, now_ns);
}

}  // namespace edgeguard
