#include "guard/bans/local_ban_authority.h"

#include "guard/clock/clock.h"

namespace edgeguard {

std::vector<Ban> LocalBanAuthority::list() const {
  const std::int64_t now = monotonic_ns();
  std::vector<Ban> bans = bans_.table().list(now);
  const std::int64_t offset = unix_ns() - now;
  for (Ban& b : bans) b.until_ns += offset;
  return bans;
}

void LocalBanAuthority::ban(ManualBan request, BanDone done) {
  const std::int64_t now = monotonic_ns();
  Ban made = bans_.make_manual(std::move(request.subject), std::move(request.route), request.for_ns,
                               escalation_(), now);
  made.until_ns = to_unix_ns(made.until_ns);
  post_([done = std::move(done), made = std::move(made)]() mutable {
    done(std::move(made), std::string());
  });
}

void LocalBanAuthority::unban(std::string subject, UnbanDone done) {
  const std::size_t lifted = bans_.lift(subject, monotonic_ns());
  post_([done = std::move(done), lifted] { done(lifted, std::string()); });
}

}  // namespace edgeguard
