#include "guard/server/worker.h"

#include <sys/socket.h>

#include <boost/asio/post.hpp>

#include <chrono>

#include "guard/clock/clock.h"
#include "guard/log/event_log.h"
#include "guard/server/session.h"

namespace edgeguard {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr auto kLogFlushInterval = std::chrono::milliseconds(200);

IpAddress to_ip(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddress::from_v4(a.to_v4().to_uint());
  const auto b = a.to_v6().to_bytes();
  std::array<std::uint8_t, 16> bytes{};
  std::copy(b.begin(), b.end(), bytes.begin());
  return IpAddress::from_bytes(bytes);
}

}  // namespace

Worker::Worker(Service& service, ServerStats& stats, int index, int workers)
    : service_(service),
      stats_(stats),
      index_(index),
      workers_(std::max(1, workers)),
      acceptor_(io_) {}

bool Worker::open(const tcp::endpoint& ep, std::string* error) {
  boost::system::error_code ec;
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) {
    const int one = 1;
    if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  }
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    if (error) {
      *error = "cannot listen on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
               ": " + ec.message();
    }
    return false;
  }
  return true;
}

void Worker::run() {
  set_metrics_thread_index(index_);
  do_accept();
  arm_log_flush();
  io_.run();
  flush_log_buffer();
}

void Worker::stop_loop() {
  stopped_ = true;
  io_.stop();
}

void Worker::arm_log_flush() {
  log_timer_.expires_after(kLogFlushInterval);
  log_timer_.async_wait([this](boost::system::error_code ec) {
    flush_log_buffer();
    request_buffers_.decay(monotonic_ns());
    if (!ec && !stopped_) arm_log_flush();
  });
}

void Worker::add(Session* s) {
  s->next = sessions_;
  if (sessions_) sessions_->prev = s;
  sessions_ = s;
  connections_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::remove(Session* s) {
  if (s->prev) s->prev->next = s->next;
  if (s->next) s->next->prev = s->prev;
  if (sessions_ == s) sessions_ = s->next;
  connections_.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::do_accept() {
  // The overload that fills the peer's address from accept() itself: no getpeername(). No
  // TCP_NODELAY either: every response goes out in one write, so Nagle never holds one back,
  // and a connection per request (Traefik beyond its 2 idle ones) should cost few syscalls.
  acceptor_.async_accept(peer_, [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      const auto& server = snapshot()->policy->server;
      if (static_cast<std::size_t>(connections_.load(std::memory_order_relaxed)) >=
          server.max_connections / static_cast<std::size_t>(workers_)) {
        stats_.connections_rejected.fetch_add(1, std::memory_order_relaxed);
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        std::allocate_shared<Session>(SessionSlab::Allocator<Session>(session_slab_), *this,
                                      std::move(socket), to_ip(peer_.address()))
            ->start();
      }
    }
    // Errors such as EMFILE must not stop the accept loop (Beast's examples stop; we don't).
    do_accept();
  });
}

void Worker::begin_drain() {
  draining_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (Session* s = sessions_; s != nullptr;) {
    Session* next = s->next;
    s->close_if_idle();
    s = next;
  }
}

}  // namespace edgeguard
