#pragma once
// What the admin API asks of bans, whatever the store holds them: the active list, a ban by
// hand, an unban. Local mode answers at once from this process's table; Redis mode answers
// once Redis has (so the ban or unban has reached every replica). Times here are Unix time in
// nanoseconds (the API shows them as RFC 3339), not the request path's monotonic clock.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "guard/bans/ban.h"

namespace edgeguard {

class BanAuthority {
 public:
  virtual ~BanAuthority() = default;

  // Active bans, soonest end first; Ban::until_ns is Unix time.
  virtual std::vector<Ban> list() const = 0;

  struct ManualBan {
    std::string subject;  // canonical (canonical_subject() in ban.h)
    std::string route;    // a route name, or kEveryRoute
    std::int64_t for_ns = 0;
  };
  // `done` gets the ban made (until in Unix time, count as escalated) or an error, on the
  // caller's event loop (never inside ban()).
  using BanDone = std::function<void(std::optional<Ban> made, std::string error)>;
  virtual void ban(ManualBan request, BanDone done) = 0;

  // Lifts every ban of `subject` on every replica. `done` gets how many were active (0: the
  // subject was not banned) or an error.
  using UnbanDone = std::function<void(std::size_t lifted, std::string error)>;
  virtual void unban(std::string subject, UnbanDone done) = 0;
};

}  // namespace edgeguard
