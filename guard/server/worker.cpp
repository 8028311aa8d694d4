#include "guard/server/worker.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <chrono>
#include <cstring>

#include "guard/clock/clock.h"
#include "guard/log/event_log.h"
#include "guard/server/session.h"

namespace edgeguard {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr auto kLogFlushInterval = std::chrono::milliseconds(200);
// TCP_DEFER_ACCEPT: a connection waits in the kernel this long for its request before it is
// accepted anyway (and the header timeout applies from then on).
constexpr int kDeferAcceptSeconds = 1;

IpAddress to_ip(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    return IpAddress::from_v4(ntohl(reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr));
  }
  std::array<std::uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), reinterpret_cast<const sockaddr_in6&>(a).sin6_addr.s6_addr, 16);
  return IpAddress::from_bytes(bytes);
}

}  // namespace

Worker::Worker(Service& service, ServerStats& stats, int index, int workers)
    : service_(service), stats_(stats), index_(index), workers_(std::max(1, workers)) {}

bool Worker::open(const tcp::endpoint& ep, std::string* error) {
  return listener_.open(ep, kDeferAcceptSeconds, error);
}

void Worker::run() {
  set_metrics_thread_index(index_);
  listener_.start(&Worker::on_accept, this);
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

void Worker::on_accept(void* self, int fd, const sockaddr_storage& peer) {
  static_cast<Worker*>(self)->accept(fd, peer);
}

// No TCP_NODELAY: every response goes out in one write, so Nagle never holds one back, and a
// connection per request (Traefik beyond its 2 idle ones) should cost few syscalls.
void Worker::accept(int fd, const sockaddr_storage& peer) {
  const auto& server = snapshot()->policy->server;
  if (static_cast<std::size_t>(connections_.load(std::memory_order_relaxed)) >=
      server.max_connections / static_cast<std::size_t>(workers_)) {
    stats_.connections_rejected.fetch_add(1, std::memory_order_relaxed);
    ::close(fd);
    return;
  }
  std::allocate_shared<Session>(SessionSlab::Allocator<Session>(session_slab_), *this, fd,
                                peer.ss_family == AF_INET6, to_ip(peer))
      ->start();
}

void Worker::begin_drain() {
  draining_ = true;
  listener_.close();
  for (Session* s = sessions_; s != nullptr;) {
    Session* next = s->next;
    s->close_if_idle();
    s = next;
  }
}

}  // namespace edgeguard
