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
