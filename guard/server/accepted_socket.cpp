#include "guard/server/accepted_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/error.hpp>

#include <cerrno>

namespace edgeguard {
namespace {

namespace asio = boost::asio;

boost::system::error_code last_error() {
  const int e = errno;
  if (e == EAGAIN || e == EWOULDBLOCK) return asio::error::would_block;
  return {e, boost::system::system_category()};
}

}  // namespace

AcceptedSocket::ReadOp::ReadOp(void* target, Done done)
    : reactor_op(boost::system::error_code(), &ReadOp::do_perform, &ReadOp::do_complete),
      target_(target),
      done_(done) {}

// Tried by the reactor at once when the socket may have bytes (the read before did not drain
// it, or an edge came since), else on the next edge.
asio::detail::reactor_op::status AcceptedSocket::ReadOp::do_perform(reactor_op* base) {
  auto* op = static_cast<ReadOp*>(base);
  for (;;) {
    const ssize_t n = ::recv(op->fd_, op->into_, op->room_, 0);
    if (n > 0) {
      op->bytes_transferred_ = static_cast<std::size_t>(n);
      return static_cast<std::size_t>(n) < op->room_ ? done_and_exhausted : done;
    }
    if (n == 0) {
      op->ec_ = asio::error::eof;
      return done;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
    op->ec_ = last_error();
    return done;
  }
}

void AcceptedSocket::ReadOp::do_complete(void* owner, asio::detail::scheduler_operation* base,
                                         const boost::system::error_code&, std::size_t) {
  auto* op = static_cast<ReadOp*>(base);
  // The last reference may go with `keep`, and this op with it: nothing touches `op` after
  // `done` returns.
  const std::shared_ptr<void> keep = std::move(op->keep_);
  if (owner == nullptr) return;  // the loop is being destroyed
  op->done_(op->target_, op->ec_, op->bytes_transferred_);
}

AcceptedSocket::AcceptedSocket(asio::io_context& io, int fd, bool v6)
    : asio::ip::tcp::socket(io),
      reactor_(asio::use_service<asio::detail::reactor>(io)),
      fd_(fd),
      v6_(v6) {}

AcceptedSocket::~AcceptedSocket() {
  close_now();
}

std::size_t AcceptedSocket::recv_now(void* data, std::size_t size, boost::system::error_code& ec) {
  ssize_t n;
  do {
    n = ::recv(fd_, data, size, 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    ec = {};
    return static_cast<std::size_t>(n);
  }
  ec = n == 0 ? boost::system::error_code(asio::error::eof) : last_error();
  return 0;
}

std::size_t AcceptedSocket::send_now(const void* data, std::size_t size, bool more,
                                     boost::system::error_code& ec) {
  ssize_t n;
  do {
    n = ::send(fd_, data, size, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
  } while (n < 0 && errno == EINTR);
  if (n >= 0) {
    ec = {};
    return static_cast<std::size_t>(n);
  }
  ec = last_error();
  return 0;
}

void AcceptedSocket::register_with_loop(boost::system::error_code& ec) {
  if (fd_ < 0) return;
  assign(v6_ ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd_, ec);
  if (ec) return;
  fd_ = -1;
#if defined(BOOST_ASIO_HAS_EPOLL) && !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
  // assign() took the descriptor for a possible dup, which costs an epoll_ctl(DEL) at close,
  // and for a blocking one, which costs an ioctl(FIONBIO) before the first operation. Neither
  // is true of a descriptor from accept4(SOCK_NONBLOCK).
  namespace ops = asio::detail::socket_ops;
  auto& impl = impl_.get_implementation();
  impl.state_ =
      static_cast<ops::state_type>((impl.state_ & ~ops::possible_dup) | ops::internal_non_blocking);
#endif
}

void AcceptedSocket::async_read(ReadOp& op, char* into, std::size_t room,
                                std::shared_ptr<void> keep) {
  auto& impl = impl_.get_implementation();
  op.ec_ = boost::system::error_code();
  op.bytes_transferred_ = 0;
  op.fd_ = impl.socket_;
  op.into_ = into;
  op.room_ = room;
  op.keep_ = std::move(keep);
  reactor_.start_op(asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, &op, false,
                    true);
}

void AcceptedSocket::close_now() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  boost::system::error_code ignored;
  close(ignored);
}

}  // namespace edgeguard
