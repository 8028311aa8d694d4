#pragma once
// One ForwardAuth connection, in Beast's pattern: parse what is buffered, answer every complete
// request in order (pipelining, bounded output), write, read again; one deadline guards every
// wait. A session lives exactly as long as its pending operations (shared_from_this in each
// handler). It moves bytes only: each request is answered by its ForwardAuthHandler.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "guard/http/forward_auth_parser.h"
#include "guard/net/ip_address.h"
#include "guard/server/accepted_socket.h"
#include "guard/server/forward_auth_handler.h"

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
  void on_read(boost::system::error_code ec, std::size_t n);
  void process();
  void consume(std::size_t n);
  void handle_request();
  void reply_protocol_error(int status, const std::string& detail);
  void release_body();
  void do_write();
  void on_write(boost::system::error_code ec);
  void close();
  char* read_buf() { return buffers_.get(); }

  Worker& worker_;
  AcceptedSocket socket_;
  IpAddress peer_;
  boost::asio::steady_timer timer_;
  std::int64_t deadline_ = 0;
  std::size_t header_limit_ = 8192;
  std::unique_ptr<char[]> buffers_;
  std::size_t read_capacity_ = 0;
  std::size_t read_len_ = 0;
  std::optional<ForwardAuthParser> parser_;
  std::string out_;
  std::string body_;  // a forwarded body, only when a route reads usernames; freed after use
  ForwardAuthHandler handler_;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  bool waiting_store_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool timer_armed_ = false;  // armed only once the connection has to wait for something
};

}  // namespace edgeguard
