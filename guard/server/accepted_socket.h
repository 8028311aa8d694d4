#pragma once
// A ForwardAuth connection's socket: a non-blocking descriptor from accept4 (listener.h) that
// joins Asio's reactor only when it first has to wait. Most calls on a new connection find
// their request already there (TCP_DEFER_ACCEPT) and leave with one send, so they are read,
// answered and closed with recv, send and close alone: no epoll_ctl(ADD) to register the
// descriptor, no ioctl(FIONBIO) (accept4 made it non-blocking) and no epoll_ctl(DEL) before
// close. Asio deletes the registration of an assigned descriptor before closing it because the
// descriptor might be a dup() of one still open; an accepted socket never is, and close()
// removes it from epoll.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>

namespace edgeguard {

class AcceptedSocket : public boost::asio::ip::tcp::socket {
 public:
  AcceptedSocket(boost::asio::io_context& io, int fd, bool v6)
      : boost::asio::ip::tcp::socket(io), fd_(fd), v6_(v6) {}
  ~AcceptedSocket();
  AcceptedSocket(const AcceptedSocket&) = delete;
  AcceptedSocket& operator=(const AcceptedSocket&) = delete;

  // True until register_with_loop(): the descriptor is read and written directly.
  bool direct() const { return fd_ >= 0; }

  // Direct I/O, before registration. recv: bytes read, or 0 with `ec` (eof, would_block, an
  // error). send: bytes written (maybe fewer), or 0 with `ec`. `more` holds a short segment
  // back for a close() that follows at once, so the answer and the FIN leave in one segment.
  std::size_t recv_now(void* data, std::size_t size, boost::system::error_code& ec);
  std::size_t send_now(const void* data, std::size_t size, bool more,
                       boost::system::error_code& ec);

  // Hands the descriptor to Asio's reactor (one epoll_ctl ADD); the socket's async operations
  // work from here on.
  void register_with_loop(boost::system::error_code& ec);

  // Closes either way, never with an epoll_ctl(DEL).
  void close_now();

 private:
  int fd_;
  bool v6_;
};

}  // namespace edgeguard
