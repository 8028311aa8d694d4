#include "guard/redis/hiredis_asio.h"

#include <sys/socket.h>

#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>

namespace edgeguard {

namespace asio = boost::asio;

HiredisAsioAdapter::ReadyOp::ReadyOp(HiredisAsioAdapter* owner, bool is_read)
    : reactor_op(boost::system::error_code(), &ReadyOp::do_perform, &ReadyOp::do_complete),
      adapter(owner),
      read(is_read) {}

// Runs when the reactor tries the wait: at once when armed if an edge came since the last wait
// (or the socket is new), else on the next edge. Readiness is all it reports; hiredis does the
// I/O. "Exhausted" makes the next read wait skip this call until a new edge.
asio::detail::reactor_op::status HiredisAsioAdapter::ReadyOp::do_perform(reactor_op* base) {
  return static_cast<ReadyOp*>(base)->read ? done_and_exhausted : done;
}

void HiredisAsioAdapter::ReadyOp::do_complete(void* owner, asio::detail::scheduler_operation* base,
                                              const boost::system::error_code&, std::size_t) {
  auto* op = static_cast<ReadyOp*>(base);
  // The last reference may go with `self`, and this op with it: nothing touches `op` after.
  const std::shared_ptr<HiredisAsioAdapter> self = std::move(op->keep);
  const bool read = op->read;
  const boost::system::error_code ec = op->ec_;
  if (owner == nullptr || self == nullptr) return;  // the loop is being destroyed
  self->on_ready(read, ec);
}

std::shared_ptr<HiredisAsioAdapter> HiredisAsioAdapter::attach(redisAsyncContext* ac,
                                                               asio::io_context& io,
                                                               std::function<void()> on_cleanup) {
  if (ac->ev.data != nullptr) return nullptr;
  auto adapter = std::make_shared<HiredisAsioAdapter>(ac, io, std::move(on_cleanup));
  if (adapter->reactor_.register_descriptor(ac->c.fd, adapter->data_) != 0) return nullptr;
  adapter->fd_ = ac->c.fd;
  adapter->self_ = adapter;
  ac->ev.data = adapter.get();
  ac->ev.addRead = &HiredisAsioAdapter::add_read;
  ac->ev.delRead = &HiredisAsioAdapter::del_read;
  ac->ev.addWrite = &HiredisAsioAdapter::add_write;
  ac->ev.delWrite = &HiredisAsioAdapter::del_write;
  ac->ev.cleanup = &HiredisAsioAdapter::cleanup;
  // hiredis 0.14 learns that a non-blocking connect finished from the first writable event;
  // asking for it now makes the connect complete even before the first command.
  adapter->want_write_ = true;
  adapter->arm_write();
  return adapter;
}

HiredisAsioAdapter::HiredisAsioAdapter(redisAsyncContext* ac, asio::io_context& io,
                                       std::function<void()> on_cleanup)
    : ac_(ac),
      io_(io),
      reactor_(asio::use_service<asio::detail::reactor>(io)),
      on_cleanup_(std::move(on_cleanup)) {}

void HiredisAsioAdapter::arm_read() {
  if (read_pending_ || ac_ == nullptr || fd_ < 0) return;
  read_pending_ = true;
  read_op_.ec_ = boost::system::error_code();
  read_op_.keep = shared_from_this();
  reactor_.start_op(asio::detail::reactor::read_op, fd_, data_, &read_op_, true, true);
}

void HiredisAsioAdapter::arm_write() {
  if (write_pending_ || ac_ == nullptr || fd_ < 0) return;
  write_pending_ = true;
  write_op_.ec_ = boost::system::error_code();
  write_op_.keep = shared_from_this();
  // Not speculative: this waits for EPOLLOUT (added to the registration by the reactor).
  reactor_.start_op(asio::detail::reactor::write_op, fd_, data_, &write_op_, true, false);
}

void HiredisAsioAdapter::on_ready(bool read, const boost::system::error_code& ec) {
  (read ? read_pending_ : write_pending_) = false;
  if (ec == asio::error::operation_aborted || ac_ == nullptr) return;
  if (read) {
    if (!want_read_) return;
    // hiredis reads at most 16 KB per call, and the edge is spent: read until the socket is
    // drained, or a longer reply, or the end that follows a last reply, would wait for an edge
    // that never comes.
    do {
      redisAsyncHandleRead(ac_);  // may free the context
    } while (ac_ != nullptr && want_read_ && may_hold_more());
    if (ac_ != nullptr && want_read_) arm_read();
  } else {
    if (!want_write_) return;
    redisAsyncHandleWrite(ac_);  // may free the context
    if (ac_ != nullptr && want_write_) arm_write();
  }
}

// Data, an end or an error still in the socket: anything but "would block". One peek per
// readiness edge, the EAGAIN that reading an edge-triggered socket to the end always costs.
bool HiredisAsioAdapter::may_hold_more() const {
  char byte;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

void HiredisAsioAdapter::post_flush() {
  if (flush_posted_ || ac_ == nullptr) return;
  flush_posted_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    if (self->ac_ == nullptr || !self->want_write_) return;
    self->flushing_ = true;
    redisAsyncHandleWrite(self->ac_);  // may free the context
    self->flushing_ = false;
  });
}

void HiredisAsioAdapter::add_read(void* p) {
  auto* self = static_cast<HiredisAsioAdapter*>(p);
  self->want_read_ = true;
  self->arm_read();
}

void HiredisAsioAdapter::del_read(void* p) {
  static_cast<HiredisAsioAdapter*>(p)->want_read_ = false;
}

void HiredisAsioAdapter::add_write(void* p) {
  auto* self = static_cast<HiredisAsioAdapter*>(p);
  self->want_write_ = true;
  // Until connected, the writable event is what tells hiredis the connect finished.
  if (self->flushing_ || self->ac_ == nullptr || (self->ac_->c.flags & REDIS_CONNECTED) == 0) {
    self->arm_write();
  } else {
    self->post_flush();
  }
}

void HiredisAsioAdapter::del_write(void* p) {
  static_cast<HiredisAsioAdapter*>(p)->want_write_ = false;
}

// hiredis closes the descriptor right after the cleanup hook: leave the reactor now (queued
// waits complete with operation_aborted; closing the descriptor removes it from epoll).
void HiredisAsioAdapter::unregister() {
  if (fd_ < 0) return;
  reactor_.deregister_descriptor(fd_, data_, true);
  reactor_.cleanup_descriptor_data(data_);
  fd_ = -1;
}

void HiredisAsioAdapter::cleanup(void* p) {
  auto* self = static_cast<HiredisAsioAdapter*>(p);
  // Keep ourselves alive to the end of this call; pending waits may hold the last references.
  std::shared_ptr<HiredisAsioAdapter> keep = std::move(self->self_);
  self->ac_ = nullptr;
  self->want_read_ = self->want_write_ = false;
  self->unregister();
  if (auto done = std::move(self->on_cleanup_)) done();
}

}  // namespace edgeguard
