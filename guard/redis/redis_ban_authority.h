#pragma once
// The admin API's view of bans in Redis mode: the list comes from this process's mirror (every
// replica holds every ban), a ban by hand and an unban run in Redis (RedisBanSync), so they
// reach every replica; Unix times at the edge.
#include <functional>

#include "guard/bans/ban_authority.h"
#include "guard/bans/ban_table.h"
#include "guard/redis/redis_ban_sync.h"

namespace edgeguard {

class RedisBanAuthority final : public BanAuthority {
 public:
  // `escalation` gives the policy's current escalation (its memory; a reload changes it).
  RedisBanAuthority(RedisBanSync& sync, const BanTable& table,
                    std::function<Escalation()> escalation)
      : sync_(sync), table_(table), escalation_(std::move(escalation)) {}

  std::vector<Ban> list() const override;
  void ban(ManualBan request, BanDone done) override;
  void unban(std::string subject, UnbanDone done) override;

 private:
  RedisBanSync& sync_;
  const BanTable& table_;
  std::function<Escalation()> escalation_;
};

}  // namespace edgeguard
