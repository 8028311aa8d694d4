#pragma once
// A BanAuthority for the admin router's tests: a BanTable of its own on a clock the test sets
// (Unix time), manual bans with no escalation (each is count 1, reason "manual"), so the
// endpoints' JSON can be checked to the second. `serve` uses the store-backed authorities.
#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>

#include "guard/bans/ban_authority.h"
#include "guard/bans/ban_table.h"

namespace edgeguard {

class TableBanAuthority final : public BanAuthority {
 public:
  using UnixClock = std::function<std::int64_t()>;  // Unix time, ns
  static std::int64_t system_unix_ns();

  // `done` callbacks run on `executor` (the admin API's event loop).
  TableBanAuthority(boost::asio::any_io_executor executor, std::size_t max_active,
                    UnixClock now = system_unix_ns);

  std::vector<Ban> list() const override;
  void ban(ManualBan request, BanDone done) override;
  void unban(std::string subject, UnbanDone done) override;

 private:
  boost::asio::any_io_executor executor_;
  UnixClock now_;
  BanTable table_;
};

}  // namespace edgeguard
