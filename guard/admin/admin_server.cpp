#include "guard/admin/admin_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>

#include "guard/admin/ban_endpoints.h"
#include "guard/net/host_port.h"

namespace edgeguard {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kReadTimeout = std::chrono::seconds(10);
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
constexpr std::size_t kMaxLingerBytes = 1024 * 1024;

IpAddress to_ip(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddress::from_v4(a.to_v4().to_uint());
  return IpAddress::from_bytes(a.to_v6().to_bytes());
}

// One connection: reads a request head, lets the router admit or refuse it, reads the body of
// an admitted one (bounded), and writes the endpoint's answer. One request at a time; a
// refusal that leaves a body unread closes the connection after it, draining what the client
// still sends for a moment so the answer is not lost to a reset.
class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  AdminSession(tcp::socket socket, const AdminRouter& router)
      : stream_(std::move(socket)), router_(router) {
    beast::error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = to_ip(peer.address());
  }

  void start() { do_read_header(); }

 private:
  void do_read_header() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxAdminBody);
    stream_.expires_after(kReadTimeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& req = parser_->get();
    head_method_ = req.method();
    AdminRequestHead head;
    head.method = req.method();
    head.target = std::string_view(req.target().data(), req.target().size());
    const auto type = req[http::field::content_type];
    head.content_type = std::string_view(type.data(), type.size());
    const auto auth = req[http::field::authorization];
    head.credentials.authorization = std::string_view(auth.data(), auth.size());
    head.credentials.authorization_count = static_cast<int>(req.count(http::field::authorization));
    head.credentials.peer = peer_;
    admission_ = router_.admit(head);
    if (admission_.refusal) {
      return send(std::move(*admission_.refusal), !parser_->is_done());
    }
    if (parser_->is_done()) return on_body({});
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      // curl waits a second for this before sending a body.
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      return http::async_write(
          stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
            if (!ec) self->do_read_body();
          });
    }
    do_read_body();
  }

  void do_read_body() {
    stream_.expires_after(kReadTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    stream_.expires_never();  // the endpoint may answer later (a store round trip)
    router_.call(admission_, parser_->get().body(),
                 [self = shared_from_this()](AdminResponse r) { self->send(std::move(r), false); });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return send(
          problem(413, "the body is larger than " + std::to_string(kMaxAdminBody / 1024) + " KiB"),
          true);
    }
    if (ec == http::error::header_limit) {
      return send(problem(431, "the request head is larger than " +
                                   std::to_string(kMaxHeaderBytes / 1024) + " KiB"),
                  true);
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return send(problem(400, "malformed HTTP request: " + ec.message()), true);
    }
    // The peer went away or stalled: nothing to answer.
  }

  void send(AdminResponse r, bool close) {
    const auto& req = parser_->get();
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), req.version() == 10 ? 10 : 11);
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    for (auto& [name, value] : r.headers) res->set(name, value);
    res->keep_alive(!close && req.keep_alive());
    if (head_method_ == http::verb::head) {
      res->content_length(r.body.size());  // what GET would send, without the body
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    stream_.expires_after(kReadTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (res->keep_alive()) return self->do_read_header();
                        self->linger();
                      });
  }

  // Half-closes, then reads and drops what the client still sends (bounded in bytes and
  // time): closing with unread bytes would reset the connection and could discard the answer
  // before the client reads it.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    do_drain();
  }

  void do_drain() {
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (!ec && self->drained_ < kMaxLingerBytes) self->do_drain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  const AdminRouter& router_;
  IpAddress peer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::verb head_method_ = http::verb::get;
  AdminAdmission admission_;
  std::array<char, 4096> drain_{};
  std::size_t drained_ = 0;
};

void add_health_endpoints(AdminRouter& router, const AdminHandlers& handlers) {
  router.add({http::verb::get, "/metrics", AdminAuth::open(), false,
              [metrics = handlers.metrics](const AdminCall&, AdminRespond respond) {
                respond(text_response(200, metrics(), "text/plain; version=0.0.4; charset=utf-8"));
              }});
  router.add({http::verb::get, "/healthz", AdminAuth::open(), false,
              [](const AdminCall&, AdminRespond respond) { respond(text_response(200, "ok\n")); }});
  router.add({http::verb::get, "/readyz", AdminAuth::open(), false,
              [ready = handlers.ready](const AdminCall&, AdminRespond respond) {
                std::string why;
                if (ready(&why)) return respond(text_response(200, "ready\n"));
                respond(text_response(503, "not ready: " + why + "\n"));
              }});
}

}  // namespace

AdminServer::AdminServer(asio::io_context& io, AdminHandlers handlers)
    : io_(io), acceptor_(io), handlers_(std::move(handlers)), router_(handlers_.policy) {
  add_health_endpoints(router_, handlers_);
  add_ban_endpoints(router_, handlers_.bans);
}

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
    if (!ec) std::make_shared<AdminSession>(std::move(socket), router_)->start();
    do_accept();
  });
}

}  // namespace edgeguard
