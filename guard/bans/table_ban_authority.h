#pragma once
// A BanAuthority over a BanTable of its own, in Unix time, for this process alone: manual bans
// with no store behind them and no escalation (each is count 1, reason "manual"). The admin
// API's tests use it, and `serve` wires it until the store-backed authority (local table and
// Redis) takes its place; nothing on the request path reads this table.
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
