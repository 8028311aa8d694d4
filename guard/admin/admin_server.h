#pragma once
// The admin listener: /metrics (Prometheus text), /healthz (the process answers) and /readyz
// (a policy is loaded and the store is usable or its fallback is active). It runs on the
// maintenance thread's event loop, away from the ForwardAuth threads.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <string>

namespace edgeguard {

struct AdminHandlers {
  std::function<std::string()> metrics;
  std::function<bool(std::string* why)> ready;
};

class AdminServer {
 public:
  AdminServer(boost::asio::io_context& io, AdminHandlers handlers);
  bool bind(const std::string& listen, std::string* error);
  std::uint16_t port() const { return port_; }
  void start();
  void close();

 private:
  void do_accept();
  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  AdminHandlers handlers_;
  std::uint16_t port_ = 0;
};

}  // namespace edgeguard
