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
// After io_context.hpp, which these detail headers expect to have been read.
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>

#include <cstddef>
#include <memory>

namespace edgeguard {

class AcceptedSocket : public boost::asio::ip::tcp::socket {
 public:
  // A read in the loop that waits for the socket's next edge once a read has drained it.
  // async_read_some reports every successful read as leaving bytes behind, so the reactor makes
  // the next read try a recv before it waits; on a keep-alive ForwardAuth connection the client
  // sends its next call only after our answer, and that recv finds nothing (0.4-0.5 failed recv
  // per call, bench/README.md). A read shorter than its buffer drained the socket (edge-
  // triggered: new bytes bring a new edge), and this one tells the reactor so.
  class ReadOp : public boost::asio::detail::reactor_op {
   public:
    using Done = void (*)(void* target, const boost::system::error_code& ec, std::size_t n);
    ReadOp(void* target, Done done);

   private:
    friend class AcceptedSocket;
    static status do_perform(reactor_op* base);
    static void do_complete(void* owner, boost::asio::detail::scheduler_operation* base,
                            const boost::system::error_code& ec, std::size_t bytes);
    void* target_;
    Done done_;
    int fd_ = -1;
    char* into_ = nullptr;
    std::size_t room_ = 0;
    std::shared_ptr<void> keep_;  // the target, while the read is pending
  };

  AcceptedSocket(boost::asio::io_context& io, int fd, bool v6);
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

  // After register_with_loop(): reads into [into, into + room) once bytes are there, then calls
  // the op's `done` from the loop (with eof when the peer closed, operation_aborted when the
  // socket was closed first). `keep` holds the target alive until then. One read at a time.
  void async_read(ReadOp& op, char* into, std::size_t room, std::shared_ptr<void> keep);

  // Closes either way, never with an epoll_ctl(DEL).
  void close_now();

 private:
  boost::asio::detail::reactor& reactor_;
  int fd_;
  bool v6_;
};

}  // namespace edgeguard
