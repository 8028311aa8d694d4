#include "guard/redis/hiredis_asio.h"

#include <boost/asio/post.hpp>

namespace edgeguard {

namespace asio = boost::asio;

std::shared_ptr<HiredisAsioAdapter> HiredisAsioAdapter::attach(redisAsyncContext* ac,
                                                               asio::io_context& io,
                                                               std::function<void()> on_cleanup) {
  if (ac->ev.data != nullptr) return nullptr;
  auto adapter = std::make_shared<HiredisAsioAdapter>(ac, io, std::move(on_cleanup));
  boost::system::error_code ec;
  adapter->socket_.assign(ac->c.fd, ec);
  if (ec) return nullptr;
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
    : ac_(ac), socket_(io), on_cleanup_(std::move(on_cleanup)) {}

void HiredisAsioAdapter::arm_read() {
  if (read_pending_ || ac_ == nullptr) return;
  read_pending_ = true;
  socket_.async_wait(asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->read_pending_ = false;
                       if (ec == asio::error::operation_aborted || self->ac_ == nullptr) return;
                       if (!self->want_read_) return;
                       redisAsyncHandleRead(self->ac_);  // may free the context
                       if (self->ac_ != nullptr && self->want_read_) self->arm_read();
                     });
}

void HiredisAsioAdapter::arm_write() {
  if (write_pending_ || ac_ == nullptr) return;
  write_pending_ = true;
  socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->write_pending_ = false;
                       if (ec == asio::error::operation_aborted || self->ac_ == nullptr) return;
                       if (!self->want_write_) return;
                       redisAsyncHandleWrite(self->ac_);  // may free the context
                       if (self->ac_ != nullptr && self->want_write_) self->arm_write();
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

void HiredisAsioAdapter::post_flush() {
  if (flush_posted_ || ac_ == nullptr) return;
  flush_posted_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    if (self->ac_ == nullptr || !self->want_write_) return;
    self->flushing_ = true;
    redisAsyncHandleWrite(self->ac_);  // may free the context
    self->flushing_ = false;
  });
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

void HiredisAsioAdapter::cleanup(void* p) {
  auto* self = static_cast<HiredisAsioAdapter*>(p);
  // Keep ourselves alive to the end of this call; pending waits may hold the last references.
  std::shared_ptr<HiredisAsioAdapter> keep = std::move(self->self_);
  self->ac_ = nullptr;
  self->want_read_ = self->want_write_ = false;
  // hiredis closes the fd right after this hook; release it so Asio neither closes it twice
  // nor keeps it registered (pending waits finish with operation_aborted).
  boost::system::error_code ignored;
  self->socket_.cancel(ignored);
  (void)self->socket_.release();
  if (auto done = std::move(self->on_cleanup_)) done();
}

}  // namespace edgeguard
