#pragma once
// Drives a hiredis async context from the thread's Asio io_context: hiredis says when it wants
// to read or write (its ev hooks); we wait for that readiness on its socket with
// `stream_descriptor::async_wait` and hand control back. One io_context per thread and
// single-threaded, so there are no locks.
//
// Writes do not wait for writability once connected (a connected socket nearly always is, and
// each wait cost an epoll_ctl and a loop turn): the first command of a loop turn posts one
// flush, which writes every command queued by then in one write(); only a write that would
// block waits for the socket.
//
// Lifetime: the adapter keeps itself alive until hiredis frees the context (the cleanup hook),
// and each pending wait holds a reference, so a wait that completes after the context is gone
// finds the adapter still there and does nothing.
#include <hiredis/async.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>

namespace edgeguard {

class HiredisAsioAdapter : public std::enable_shared_from_this<HiredisAsioAdapter> {
 public:
  // Attaches to `ac`, which must have no adapter yet. `on_cleanup` runs when hiredis frees the
  // context. Returns nullptr if hiredis refused the hooks.
  static std::shared_ptr<HiredisAsioAdapter> attach(redisAsyncContext* ac,
                                                    boost::asio::io_context& io,
                                                    std::function<void()> on_cleanup);

  HiredisAsioAdapter(redisAsyncContext* ac, boost::asio::io_context& io,
                     std::function<void()> on_cleanup);

  // The owner is going away before the context: cleanup must no longer call it.
  void forget_owner() { on_cleanup_ = nullptr; }

 private:
  static void add_read(void* self);
  static void del_read(void* self);
  static void add_write(void* self);
  static void del_write(void* self);
  static void cleanup(void* self);

  void arm_read();
  void arm_write();
  void post_flush();

  redisAsyncContext* ac_;
  boost::asio::posix::stream_descriptor socket_;
  std::function<void()> on_cleanup_;
  std::shared_ptr<HiredisAsioAdapter> self_;  // released by the cleanup hook
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_pending_ = false;
  bool write_pending_ = false;
  bool flush_posted_ = false;
  bool flushing_ = false;  // inside redisAsyncHandleWrite: more to write means it would block
};

}  // namespace edgeguard
