#include "guard/server/listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <boost/asio/execution_context.hpp>

#include <cerrno>
#include <chrono>

namespace edgeguard {
namespace {

namespace asio = boost::asio;

// After EMFILE and the like the listener stays readable: wait a little instead of spinning.
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);
// accept4 errors that belong to one connection (see accept(2)): skip it, up to this many a turn.
constexpr int kSkippedPerTurn = 16;

bool resource_error(int e) {
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM || e == EBADF || e == EINVAL ||
         e == ENOTSOCK;
}

}  // namespace

Listener::AcceptOp::AcceptOp(Listener* owner)
    : reactor_op(boost::system::error_code(), &AcceptOp::do_perform, &AcceptOp::do_complete),
      listener(owner) {}

Listener::AcceptOp::~AcceptOp() {
  if (fd >= 0) ::close(fd);
}

// Runs in the reactor, speculatively when armed and again on each readiness edge.
asio::detail::reactor_op::status Listener::AcceptOp::do_perform(reactor_op* base) {
  auto* op = static_cast<AcceptOp*>(base);
  const int listen_fd = op->listener->fd_;
  for (int skipped = 0; skipped < kSkippedPerTurn; ++skipped) {
    socklen_t len = sizeof op->peer;
    const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&op->peer), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      op->fd = fd;
      return done;
    }
    const int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK) return not_done;
    if (resource_error(e)) {
      op->ec_ = boost::system::error_code(e, boost::system::system_category());
      return done;
    }
    // ECONNABORTED, EINTR, EPROTO and the network errors accept(2) passes on: the next one.
  }
  return done;  // nothing accepted; the completion arms again
}

void Listener::AcceptOp::do_complete(void* owner, asio::detail::scheduler_operation* base,
                                     const boost::system::error_code&, std::size_t) {
  auto* op = static_cast<AcceptOp*>(base);
  if (op->listener == nullptr) {  // orphaned by ~Listener: aborted or destroyed with the loop
    const std::unique_ptr<AcceptOp> gone(op);
    return;
  }
  if (owner == nullptr) {  // the loop is being destroyed; the listener still owns the op
    op->listener->armed_ = false;
    return;
  }
  op->listener->on_complete();
}

Listener::Listener(asio::io_context& io)
    : io_(io),
      reactor_(asio::use_service<asio::detail::reactor>(io)),
      op_(std::make_unique<AcceptOp>(this)),
      retry_(io) {}

Listener::~Listener() {
  if (armed_) {
    op_->listener = nullptr;
    (void)op_.release();  // the loop frees it (do_complete) once close() aborts it
  }
  close();
}

bool Listener::open(const asio::ip::tcp::endpoint& ep, int defer_seconds, std::string* error) {
  // Asio opens, binds and listens; the descriptor is then registered with the reactor here, so
  // that the accept operation below can wait on it.
  asio::ip::tcp::acceptor acceptor(io_);
  boost::system::error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  const int fd = acceptor.native_handle();
  const auto set = [&](int level, int name, int value) {
    if (!ec && ::setsockopt(fd, level, name, &value, sizeof value) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  };
  set(SOL_SOCKET, SO_REUSEPORT, 1);  // one listener per worker; the kernel spreads connections
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (defer_seconds > 0) set(IPPROTO_TCP, TCP_DEFER_ACCEPT, defer_seconds);
  if (!ec) acceptor.native_non_blocking(true, ec);  // accept4 must never block the loop
  asio::ip::tcp::endpoint local;
  if (!ec) local = acceptor.local_endpoint(ec);
  int released = -1;
  if (!ec) released = acceptor.release(ec);
  if (!ec) {
    if (const int e = reactor_.register_descriptor(released, data_)) {
      ec.assign(e, boost::system::system_category());
      ::close(released);
    }
  }
  if (ec) {
    if (error) {
      *error = "cannot listen on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
               ": " + ec.message();
    }
    return false;
  }
  fd_ = released;
  port_ = local.port();
  return true;
}

void Listener::start(OnAccept on_accept, void* context) {
  on_accept_ = on_accept;
  context_ = context;
  arm();
}

void Listener::arm() {
  if (armed_ || fd_ < 0) return;
  armed_ = true;
  op_->ec_ = boost::system::error_code();
  // Speculative: accept4 runs now; the operation waits for an edge only after EAGAIN.
  reactor_.start_op(asio::detail::reactor::read_op, fd_, data_, op_.get(), true, true);
}

void Listener::on_complete() {
  armed_ = false;
  const int fd = op_->fd;
  op_->fd = -1;
  if (fd_ < 0 || op_->ec_ == asio::error::operation_aborted) {
    if (fd >= 0) ::close(fd);
    return;
  }
  if (op_->ec_) {
    ++accept_errors_;
    retry_.expires_after(kAcceptRetry);
    retry_.async_wait([this](boost::system::error_code ec) {
      if (!ec) arm();  // on cancel the listener may be gone: `this` is not touched
    });
    return;
  }
  if (fd >= 0) on_accept_(context_, fd, op_->peer);
  arm();
}

void Listener::close() {
  if (fd_ < 0) return;
  retry_.cancel();
  // Aborts a queued accept (its completion sees the listener closed); closing the descriptor
  // removes it from epoll.
  reactor_.deregister_descriptor(fd_, data_, true);
  ::close(fd_);
  reactor_.cleanup_descriptor_data(data_);
  fd_ = -1;
}

}  // namespace edgeguard
