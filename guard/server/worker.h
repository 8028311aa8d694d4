#pragma once
// One ForwardAuth thread: its event loop, its SO_REUSEPORT acceptor (the kernel spreads new
// connections over the threads; Traefik opens many), its sessions, its limit store and its
// cached view of the service's Snapshot. Everything here is touched by this thread only, except
// the connection count (read by /metrics and drain) and the calls the server posts to the loop.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "guard/server/listener.h"
#include "guard/server/request_buffers.h"
#include "guard/server/server_stats.h"
#include "guard/server/session_slab.h"
#include "guard/service/service.h"
#include "guard/store/store.h"

namespace edgeguard {

class Session;

class Worker {
 public:
  Worker(Service& service, ServerStats& stats, int index, int workers);

  boost::asio::io_context& io() { return io_; }
  Service& service() { return service_; }
  ServerStats& stats() { return stats_; }
  RequestBufferPool& request_buffers() { return request_buffers_; }
  LimitStore& store() { return *store_; }
  void set_store(LimitStore* store) { store_ = store; }
  int index() const { return index_; }
  bool draining() const { return draining_; }

  // The snapshot for the next request: re-read only when the service published a new one
  // (one relaxed load per call otherwise; no reference count is touched).
  const std::shared_ptr<const Snapshot>& snapshot() {
    const auto g = service_.generation();
    if (g != generation_) {
      snapshot_ = service_.snapshot();
      generation_ = g;
    }
    return snapshot_;
  }

  bool open(const boost::asio::ip::tcp::endpoint& ep, std::string* error);
  std::uint16_t local_port() const { return listener_.local_port(); }

  void run();
  void stop_loop();
  void begin_drain();

  // Sessions register themselves for drain and the connection limit.
  void add(Session* s);
  void remove(Session* s);
  std::int64_t connections() const { return connections_.load(std::memory_order_relaxed); }

 private:
  static void on_accept(void* self, int fd, const sockaddr_storage& peer);
  void accept(int fd, const sockaddr_storage& peer);
  void arm_log_flush();

  Service& service_;
  ServerStats& stats_;
  int index_;
  int workers_;  // the connection limit is split evenly over the workers
  // Before io_: the sessions its destructor destroys give their buffers and slots back.
  RequestBufferPool request_buffers_;
  SessionSlab session_slab_;
  // One thread runs this loop and every socket and timer on it is touched only from that thread
  // (other threads only post to it), so the reactor's per-descriptor locks guard nothing: they
  // are switched off (three lock/unlock pairs per call). Posting and timers keep their locks.
  boost::asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  Listener listener_{io_};
  boost::asio::steady_timer log_timer_{io_};
  LimitStore* store_ = nullptr;
  std::shared_ptr<const Snapshot> snapshot_;
  std::uint64_t generation_ = ~std::uint64_t{0};
  bool draining_ = false;
  bool stopped_ = false;
  Session* sessions_ = nullptr;  // intrusive list of live sessions (this thread only)
  std::atomic<std::int64_t> connections_{0};
};

}  // namespace edgeguard
