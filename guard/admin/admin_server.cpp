#include "guard/admin/admin_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>

#include "guard/net/host_port.h"

namespace edgeguard {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  AdminSession(tcp::socket socket, const AdminHandlers& handlers)
      : stream_(std::move(socket)), handlers_(handlers) {}

  void start() { do_read(); }

 private:
  void do_read() {
    request_ = {};
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec) self->respond();
                     });
  }

  void respond() {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(request_.version());
    res->keep_alive(request_.keep_alive());
    const std::string_view target(request_.target().data(), request_.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    res->result(http::status::ok);
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      res->result(http::status::method_not_allowed);
      res->body() = "GET only\n";
    } else if (path == "/metrics") {
      res->set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res->body() = handlers_.metrics();
    } else if (path == "/healthz") {
      res->body() = "ok\n";
    } else if (path == "/readyz") {
      std::string why;
      if (handlers_.ready(&why)) {
        res->body() = "ready\n";
      } else {
        res->result(http::status::service_unavailable);
        res->body() = "not ready: " + why + "\n";
      }
    } else {
      res->result(http::status::not_found);
      res->body() = "not found: the admin listener serves /metrics, /healthz and /readyz\n";
    }
    if (res->result() != http::status::ok || path != "/metrics") {
      res->set(http::field::content_type, "text/plain; charset=utf-8");
    }
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (!ec && res->keep_alive()) self->do_read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  const AdminHandlers& handlers_;
};

}  // namespace

AdminServer::AdminServer(asio::io_context& io, AdminHandlers handlers)
    : io_(io), acceptor_(io), handlers_(std::move(handlers)) {}

bool AdminServer::bind(const std::string& listen, std::string* error) {
  const auto hp = parse_host_port(listen);  // the loader checked the form already
  const std::string host = hp ? hp->host : listen;
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (!hp || ec) {
    if (error) *error = "admin_listen: '" + host + "' is not an IP address";
    return false;
  }
  const tcp::endpoint ep(addr, hp->port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    if (error) *error = "cannot listen on " + listen + " (admin_listen): " + ec.message();
    return false;
  }
  port_ = acceptor_.local_endpoint().port();
  return true;
}

void AdminServer::start() {
  do_accept();
}

void AdminServer::close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void AdminServer::do_accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<AdminSession>(std::move(socket), handlers_)->start();
    do_accept();
  });
}

}  // namespace edgeguard
