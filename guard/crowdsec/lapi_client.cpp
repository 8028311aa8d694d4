#include "guard/crowdsec/lapi_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace edgeguard {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;

std::string ms_text(std::int64_t ns) {
  return std::to_string(ns / 1'000'000) + " ms";
}

}  // namespace

// One request and its answer. Owned by the handlers of its pending operations (Beast's
// pattern); the deadline timer ends it whatever step it is in.
class LapiClient::Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& io, const LapiEndpoint& endpoint, const LapiHttpOptions& options,
           Handler handler)
      : endpoint_(endpoint),
        options_(options),
        resolver_(io),
        stream_(io),
        deadline_(io),
        handler_(std::move(handler)) {}

  void start(LapiRequest request) {
    req_.version(11);
    req_.method(request.post ? http::verb::post : http::verb::get);
    req_.target(endpoint_.base_path + request.target);
    req_.set(http::field::host, endpoint_.host_header());
    req_.set(http::field::user_agent, "edgeguard/" EDGEGUARD_VERSION);
    req_.set(http::field::accept, "application/json");
    req_.set(http::field::connection, "close");
    for (auto& [name, value] : request.headers) req_.set(name, value);
    if (request.post) req_.set(http::field::content_type, "application/json");
    req_.body() = std::move(request.body);
    req_.prepare_payload();
    parser_.body_limit(options_.max_body_bytes);
    parser_.header_limit(kMaxHeaderBytes);

    deadline_.expires_after(std::chrono::nanoseconds(options_.timeout_ns));
    deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->finish("no answer within " + ms_text(self->options_.timeout_ns));
    });
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(endpoint_.host, ec);
    if (!ec) {
      connect(tcp::resolver::results_type::create(tcp::endpoint(address, endpoint_.port),
                                                  endpoint_.host, ""));
      return;
    }
    // A name (a compose service): Asio's resolver runs getaddrinfo on its one helper thread.
    resolver_.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                            [self = shared_from_this()](boost::system::error_code ec,
                                                        tcp::resolver::results_type results) {
                              if (ec) return self->fail("cannot resolve", ec);
                              self->connect(std::move(results));
                            });
  }

  void cancel() { finish("cancelled"); }

 private:
  void connect(tcp::resolver::results_type results) {
    if (done_) return;
    stream_.expires_after(std::chrono::nanoseconds(options_.connect_timeout_ns));
    stream_.async_connect(results, [self = shared_from_this()](boost::system::error_code ec,
                                                               const tcp::endpoint&) {
      if (ec == beast::error::timeout) {
        return self->finish("cannot connect within " + ms_text(self->options_.connect_timeout_ns));
      }
      if (ec) return self->fail("cannot connect", ec);
      self->write();
    });
  }

  void write() {
    if (done_) return;
    stream_.expires_never();  // the exchange's deadline covers the rest
    http::async_write(stream_, req_,
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->fail("cannot send the request", ec);
                        self->read();
                      });
  }

  void read() {
    if (done_) return;
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (ec == http::error::body_limit) {
                         return self->finish("answer larger than " +
                                             std::to_string(self->options_.max_body_bytes) +
                                             " bytes");
                       }
                       if (ec) return self->fail("no complete answer", ec);
                       LapiResponse response;
                       response.status = static_cast<int>(self->parser_.get().result_int());
                       response.body = std::move(self->parser_.get().body());
                       self->complete(std::move(response));
                     });
  }

  void fail(const char* what, boost::system::error_code ec) {
    finish(std::string(what) + " (" + ec.message() + ")");
  }

  void finish(std::string error) {
    LapiResponse response;
    response.error = std::move(error);
    complete(std::move(response));
  }

  void complete(LapiResponse response) {
    if (done_) return;
    done_ = true;
    deadline_.cancel();
    resolver_.cancel();
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    Handler handler = std::move(handler_);
    handler(std::move(response));
  }

  const LapiEndpoint endpoint_;  // copies: the exchange may outlive its client by a handler
  const LapiHttpOptions options_;
  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  asio::steady_timer deadline_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response_parser<http::string_body> parser_;
  Handler handler_;
  bool done_ = false;
};

LapiClient::LapiClient(asio::io_context& io, LapiEndpoint endpoint, LapiHttpOptions options)
    : io_(io), endpoint_(std::move(endpoint)), options_(options) {}

LapiClient::~LapiClient() {
  cancel();
}

void LapiClient::send(LapiRequest request, Handler handler) {
  std::erase_if(live_, [](const std::weak_ptr<Exchange>& e) { return e.expired(); });
  auto exchange = std::make_shared<Exchange>(io_, endpoint_, options_, std::move(handler));
  live_.push_back(exchange);
  exchange->start(std::move(request));
}

void LapiClient::cancel() {
  auto live = std::move(live_);
  live_.clear();
  for (auto& weak : live) {
    if (auto exchange = weak.lock()) exchange->cancel();
  }
}

}  // namespace edgeguard
