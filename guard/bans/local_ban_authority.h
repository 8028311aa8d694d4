#pragma once
// The admin API's view of bans in local mode: this process's table, Unix times at the edge.
#include <functional>

#include "guard/bans/ban_authority.h"
#include "guard/bans/local_bans.h"

namespace edgeguard {

class LocalBanAuthority final : public BanAuthority {
 public:
  // `post` runs a callback later on the caller's event loop (the contract of BanAuthority);
  // `escalation` gives the policy's current escalation (it changes with a reload).
  using Post = std::function<void(std::function<void()>)>;
  LocalBanAuthority(LocalBans& bans, std::function<Escalation()> escalation, Post post)
      : bans_(bans), escalation_(std::move(escalation)), post_(std::move(post)) {}

  std::vector<Ban> list() const override;
  void ban(ManualBan request, BanDone done) override;
  void unban(std::string subject, UnbanDone done) override;

 private:
  LocalBans& bans_;
  std::function<Escalation()> escalation_;
  Post post_;
};

}  // namespace edgeguard
