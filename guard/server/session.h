#pragma once
// One ForwardAuth connection, in Beast's pattern: parse what is buffered, answer every complete
// request in order (pipelining, bounded output), write, read again; one deadline guards every
// wait. A session lives exactly as long as its pending operations (shared_from_this in each
// handler). It moves bytes only: each request is answered by a ForwardAuthHandler.
//
// Speed: a new connection's first request is usually there already (TCP_DEFER_ACCEPT), so it is
// read and answered with direct recv/send (accepted_socket.h); a connection that stays open
// joins the event loop after that answer, and a timer is armed only before the first wait.
//
// Memory: an idle connection holds the socket, the timer and a small first-read buffer, nothing
// more. The buffers a request needs (request_buffers.h) are borrowed from the worker's pool once
// a header block is complete (or the small buffer is full) and given back when the answer is
// written and nothing more is buffered; a slow client dripping a header stays in the small one.
// A new connection's direct read borrows a set at once (one recv whatever the request's size)
// and moves a partial header into the small buffer before it waits.
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "guard/net/ip_address.h"
#include "guard/server/accepted_socket.h"
#include "guard/server/op_memory.h"
#include "guard/server/request_buffers.h"

namespace edgeguard {

class Worker;

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `fd`: a non-blocking descriptor from accept4 (the session owns it).
  Session(Worker& worker, int fd, bool v6, IpAddress peer);
  ~Session();

  void start();
  // For drain: close if nothing is in flight.
  void close_if_idle();

  Session* next = nullptr;  // the worker's intrusive list
  Session* prev = nullptr;

 private:
  void arm_timer(std::int64_t after_ns);
  void ensure_timer();
  void on_timer();
  void fire_by_deadline();
  void do_read();
  void read_some(char* into, std::size_t room);
  void on_read(boost::system::error_code ec, std::size_t n);
  void process();
  void consume(std::size_t n);
  void handle_request();
  void reply_protocol_error(int status, const std::string& detail);
  void release_body();
  void do_write();
  void on_write(boost::system::error_code ec);
  void close();
  // Whether the first `len` bytes of a request (at `data`) need the request buffers now.
  bool first_bytes_need_buffers(const char* data, std::size_t len, std::size_t scan_from);
  // Borrows the request buffers and moves what first_ holds there.
  void take_buffers();
  void give_back_buffers();

  // Large enough for most ForwardAuth calls (Traefik copies the client's headers: ~0.5-1 KB), so
  // one read still takes a whole request; nginx's client_header_buffer_size is 1 KB too.
  static constexpr std::size_t kFirstReadBytes = 1024;
  // What Asio allocates for the session's operations (Boost 1.81, x86-64): a read 192 bytes, a
  // write 288 (async_write's composed operation), a timer wait 192. op_memory.h checks.
  static constexpr std::size_t kIoOpBytes = 288;
  static constexpr std::size_t kTimerOpBytes = 192;
  using IoOpAllocator = OpAllocator<char, kIoOpBytes>;
  using TimerOpAllocator = OpAllocator<char, kTimerOpBytes>;

  Worker& worker_;
  AcceptedSocket socket_;
  boost::asio::steady_timer timer_;
  std::int64_t deadline_ = 0;
  RequestBuffers::Ptr buffers_;  // only while a request is in flight
  std::size_t read_len_ = 0;     // bytes in buffers_->read_buf()
  IpAddress peer_;
  std::uint16_t first_len_ = 0;  // bytes in first_ (only while buffers_ is empty)
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  bool waiting_store_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool timer_armed_ = false;  // armed only once the connection has to wait for something
  OpMemory<kIoOpBytes> io_op_;
  OpMemory<kTimerOpBytes> timer_op_;
  std::array<char, kFirstReadBytes> first_;  // written before read: not zeroed
};

}  // namespace edgeguard
