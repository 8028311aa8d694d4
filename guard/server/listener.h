#pragma once
// A worker's SO_REUSEPORT listening socket, accepting with accept4(SOCK_NONBLOCK) on the
// worker's event loop. Asio's own async_accept costs three system calls per connection that a
// ForwardAuth server (Traefik opens a connection for most calls) pays on every request: a plain
// accept(), then an ioctl(FIONBIO) before the first read and an epoll_ctl(ADD) as the socket is
// assigned. Here the accepted descriptor comes out non-blocking and unregistered; the session
// registers it only if it ever has to wait (accepted_socket.h).
//
// The wait for the next connection is a reactor operation on the listener's Asio registration:
// accept4 is tried at once (as Asio tries its own accepts) and the operation waits for the next
// edge only after EAGAIN, so a loop turn never re-arms the descriptor with epoll_ctl (Asio's
// public async_wait would, once per wait). TCP_DEFER_ACCEPT keeps a connection in the kernel
// until its request arrives, so the first read after accept finds the request.
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
// After io_context.hpp, which these detail headers expect to have been read.
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace edgeguard {

class Listener {
 public:
  // Called for each accepted connection with its non-blocking descriptor (now the callee's).
  using OnAccept = void (*)(void* context, int fd, const sockaddr_storage& peer);

  explicit Listener(boost::asio::io_context& io);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds with SO_REUSEADDR and SO_REUSEPORT, listens, and defers accept up to `defer_seconds`
  // (0: no TCP_DEFER_ACCEPT). Returns false with `error` set.
  bool open(const boost::asio::ip::tcp::endpoint& ep, int defer_seconds, std::string* error);
  std::uint16_t local_port() const { return port_; }
  bool is_open() const { return fd_ >= 0; }

  // Accepts until close(), calling `on_accept` on the loop's thread.
  void start(OnAccept on_accept, void* context);
  void close();

  std::uint64_t accept_errors() const { return accept_errors_; }

 private:
  // One operation for the listener's whole life: it is either queued in the reactor, queued
  // for completion, or running its completion; never two of these at once. If the listener
  // goes while it is queued, the operation is orphaned and frees itself when the loop aborts
  // or destroys it.
  class AcceptOp : public boost::asio::detail::reactor_op {
   public:
    explicit AcceptOp(Listener* owner);
    ~AcceptOp();
    static status do_perform(reactor_op* base);
    static void do_complete(void* owner, boost::asio::detail::scheduler_operation* base,
                            const boost::system::error_code& ec, std::size_t bytes);
    Listener* listener;
    int fd = -1;
    sockaddr_storage peer{};
  };

  void arm();
  void on_complete();

  boost::asio::io_context& io_;
  boost::asio::detail::reactor& reactor_;
  std::unique_ptr<AcceptOp> op_;
  int fd_ = -1;  // registered in the reactor (data_) while open
  boost::asio::detail::reactor::per_descriptor_data data_{};
  std::uint16_t port_ = 0;
  boost::asio::steady_timer retry_;
  OnAccept on_accept_ = nullptr;
  void* context_ = nullptr;
  std::uint64_t accept_errors_ = 0;
  bool armed_ = false;
};

}  // namespace edgeguard
