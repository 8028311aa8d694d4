#pragma once
// Drives a hiredis async context from the thread's Asio io_context: hiredis says when it wants
// to read or write (its ev hooks); we wait for that readiness on its socket in Asio's reactor
// and hand control back. One io_context per thread and single-threaded, so there are no locks.
//
// Writes do not wait for writability once connected (a connected socket nearly always is, and
// each wait cost an epoll_ctl and a loop turn): the first command of a loop turn posts one
// flush, which writes every command queued by then in one write(); only a write that would
// block waits for the socket.
//
// Reads wait with an operation of our own on the reactor (ReadyOp) rather than
// stream_descriptor::async_wait, which re-arms the descriptor with an epoll_ctl(MOD) on every
// wait. The socket stays registered edge-triggered; the operation waits for the next edge, and
// an edge that came while no wait was armed is remembered by the reactor, so the next wait
// completes at once. An edge is spent once reported, so each is read to the end: hiredis reads
// at most 16 KB per call, and a peek after each read says whether it must read again.
//
// Lifetime: the adapter keeps itself alive until hiredis frees the context (the cleanup hook),
// and each pending wait holds a reference, so a wait that completes after the context is gone
// finds the adapter still there and does nothing.
#include <hiredis/async.h>

#include <boost/asio/io_context.hpp>
// After io_context.hpp, which these detail headers expect to have been read.
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>

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
  // A wait for the socket to be readable (or writable) in the reactor. Never queued twice: each
  // is either idle, queued in the reactor or queued for completion.
  class ReadyOp : public boost::asio::detail::reactor_op {
   public:
    ReadyOp(HiredisAsioAdapter* owner, bool read);
    static status do_perform(reactor_op* base);
    static void do_complete(void* owner, boost::asio::detail::scheduler_operation* base,
                            const boost::system::error_code& ec, std::size_t bytes);
    HiredisAsioAdapter* adapter;
    bool read;
    std::shared_ptr<HiredisAsioAdapter> keep;  // while the wait is armed
  };

  static void add_read(void* self);
  static void del_read(void* self);
  static void add_write(void* self);
  static void del_write(void* self);
  static void cleanup(void* self);

  void arm_read();
  void arm_write();
  void post_flush();
  void on_ready(bool read, const boost::system::error_code& ec);
  bool may_hold_more() const;
  void unregister();

  redisAsyncContext* ac_;
  boost::asio::io_context& io_;
  boost::asio::detail::reactor& reactor_;
  int fd_ = -1;  // registered in the reactor (data_) until cleanup
  boost::asio::detail::reactor::per_descriptor_data data_{};
  ReadyOp read_op_{this, true};
  ReadyOp write_op_{this, false};
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
