#include "guard/redis/redis_ban_authority.h"

#include "guard/clock/clock.h"

namespace edgeguard {

std::vector<Ban> RedisBanAuthority::list() const {
  const std::int64_t now = monotonic_ns();
  std::vector<Ban> bans = table_.list(now);
  const std::int64_t offset = unix_ns() - now;
  for (Ban& b : bans) b.until_ns += offset;
  return bans;
}

void RedisBanAuthority::ban(ManualBan request, BanDone done) {
  sync_.ban(std::move(request.subject), std::move(request.route), request.for_ns, escalation_(),
            [done = std::move(done)](std::optional<Ban> made, std::string error) {
              if (made) made->until_ns = to_unix_ns(made->until_ns);
              done(std::move(made), std::move(error));
            });
}

void RedisBanAuthority::unban(std::string subject, UnbanDone done) {
  sync_.unban(std::move(subject), std::move(done));
}

}  // namespace edgeguard
