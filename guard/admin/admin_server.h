#pragma once
// The admin listener: /metrics (Prometheus text), /healthz (the process answers), /readyz (a
// policy is loaded), open to whoever reaches admin_listen; and the /v1 admin API (bans, see
// ban_endpoints.h) behind admin.token_file. It runs on the maintenance thread's event loop,
// away from the ForwardAuth threads. Endpoints are routed by AdminRouter; a component with an
// endpoint of its own adds it through router() before start().
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>

#include "guard/admin/admin_router.h"
#include "guard/bans/ban_authority.h"
#include "guard/policy/policy.h"

namespace edgeguard {

struct AdminHandlers {
  std::function<std::string()> metrics;
  std::function<bool(std::string* why)> ready;
  std::function<std::shared_ptr<const Policy>()> policy;  // the policy in force
  BanAuthority* bans = nullptr;                           // null: the bans endpoints answer 503
};

class AdminServer {
 public:
  AdminServer(boost::asio::io_context& io, AdminHandlers handlers);
  bool bind(const std::string& listen, std::string* error);
  std::uint16_t port() const { return port_; }
  AdminRouter& router() { return router_; }
  void start();
  void close();

 private:
  void do_accept();
  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  AdminHandlers handlers_;
  AdminRouter router_;
  std::uint16_t port_ = 0;
};

}  // namespace edgeguard
