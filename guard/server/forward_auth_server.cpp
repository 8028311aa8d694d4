#include "guard/server/forward_auth_server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <chrono>

#include "guard/clock/clock.h"
#include "guard/net/host_port.h"
#include "guard/server/worker.h"

namespace edgeguard {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

}  // namespace

ForwardAuthServer::ForwardAuthServer(Service& service, int threads)
    : service_(service), threads_(std::max(1, threads)) {
  for (int i = 0; i < threads_; ++i) {
    workers_.push_back(std::make_unique<Worker>(service_, stats_, i, threads_));
  }
  registration_ =
      service_.metrics().add([this](MetricsWriter& w) { stats_.write(w, open_connections()); });
}

ForwardAuthServer::~ForwardAuthServer() {
  for (auto& w : workers_) w->io().stop();
  join();
}

bool ForwardAuthServer::bind(const std::string& listen, std::string* error) {
  const auto hp = parse_host_port(listen);  // the loader checked the form already
  const std::string host = hp ? hp->host : listen;
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(host == "*" ? "0.0.0.0" : host, ec);
  if (!hp || ec) {
    if (error) *error = "listen: '" + host + "' is not an IP address";
    return false;
  }
  std::uint16_t port = hp->port;
  for (auto& w : workers_) {
    if (!w->open(tcp::endpoint(addr, port), error)) return false;
    port = w->local_port();  // port 0: every worker joins the port the first one got
  }
  port_ = port;
  return true;
}

void ForwardAuthServer::start() {
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->set_store(store_factory_ ? store_factory_(worker->io(), worker->index())
                                     : &service_.local_store());
    pool_.emplace_back([worker] { worker->run(); });
  }
}

void ForwardAuthServer::stop(std::int64_t drain_timeout_ns) {
  for (auto& w : workers_) {
    Worker* worker = w.get();
    asio::post(worker->io(), [worker] { worker->begin_drain(); });
  }
  const std::int64_t deadline = monotonic_ns() + drain_timeout_ns;
  // Poll the connection counts: in-flight requests finish and their connections close.
  while (open_connections() > 0 && monotonic_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& w : workers_) {
    Worker* worker = w.get();
    asio::post(worker->io(), [worker] { worker->stop_loop(); });
  }
}

void ForwardAuthServer::join() {
  for (auto& t : pool_) {
    if (t.joinable()) t.join();
  }
  pool_.clear();
}

std::int64_t ForwardAuthServer::open_connections() const {
  std::int64_t n = 0;
  for (const auto& w : workers_) n += w->connections();
  return n;
}

}  // namespace edgeguard
