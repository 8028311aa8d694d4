#include "tests/admin/table_ban_authority.h"

#include <boost/asio/post.hpp>

#include <chrono>

namespace edgeguard {

std::int64_t TableBanAuthority::system_unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TableBanAuthority::TableBanAuthority(boost::asio::any_io_executor executor, std::size_t max_active,
                                     UnixClock now)
    : executor_(std::move(executor)), now_(std::move(now)), table_(max_active) {}

std::vector<Ban> TableBanAuthority::list() const {
  return table_.list(now_());
}

void TableBanAuthority::ban(ManualBan request, BanDone done) {
  const std::int64_t now = now_();
  Ban ban{std::move(request.subject), std::move(request.route), now + request.for_ns, 1, "manual",
          BanSource::manual};
  std::optional<Ban> made;
  std::string error;
  if (table_.insert(ban, now)) {
    made = std::move(ban);
  } else {
    error = "the ban table is full of bans that end later";
  }
  boost::asio::post(
      executor_, [done = std::move(done), made = std::move(made),
                  error = std::move(error)]() mutable { done(std::move(made), std::move(error)); });
}

void TableBanAuthority::unban(std::string subject, UnbanDone done) {
  const std::size_t lifted = table_.remove(subject, now_());
  boost::asio::post(executor_, [done = std::move(done), lifted] { done(lifted, {}); });
}

}  // namespace edgeguard
