#include "guard/server/session.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include <chrono>
#include <cstring>

#include "guard/clock/clock.h"
#include "guard/http/response.h"
#include "guard/server/worker.h"

namespace edgeguard {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kMaxPendingOutput = 64 * 1024;  // stop parsing pipelined requests past this
// A body kept between requests is memory an idle connection holds for nothing.
constexpr std::size_t kKeptBodyCapacity = 4096;

}  // namespace

Session::Session(Worker& worker, int fd, bool v6, IpAddress peer)
    : worker_(worker), socket_(worker.io(), fd, v6), peer_(peer), timer_(worker.io()) {
  const auto& server = worker_.snapshot()->policy->server;
  header_limit_ = server.max_header_bytes;
  // One uninitialised block per connection: the read buffer (a full header block plus room
  // for what is pipelined behind it) and the parser's arena. Traefik opens connections
  // constantly, so nothing here is zeroed that is written before it is read.
  read_capacity_ = header_limit_ + 4096;
  buffers_ = std::make_unique_for_overwrite<char[]>(read_capacity_ + header_limit_ + 1024);
  out_.reserve(512);
  worker_.add(this);
}

Session::~Session() {
  worker_.remove(this);
}

void Session::start() {
  const auto& server = worker_.snapshot()->policy->server;
  deadline_ = monotonic_ns() + server.idle_timeout_ns;
  do_read();  // the timer is armed when the connection first waits (ensure_timer)
}

void Session::close_if_idle() {
  if (read_len_ == 0 && !parser_ && out_.empty() && !waiting_store_ && !writing_) close();
}

void Session::arm_timer(std::int64_t after_ns) {
  timer_armed_ = true;
  timer_.expires_after(std::chrono::nanoseconds(after_ns));
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;  // cancelled by close() or replaced by a new expiry: still armed
    self->timer_armed_ = false;
    self->on_timer();
  });
}

// A call answered from the bytes that came with the connection never waits, so never needs a
// timer: one is armed only before the first wait.
void Session::ensure_timer() {
  if (!timer_armed_ && !closed_) {
    arm_timer(std::max<std::int64_t>(deadline_ - monotonic_ns(), 1'000'000));
  }
}

// One timer per connection, re-armed lazily: requests only move `deadline_`.
void Session::on_timer() {
  if (closed_) return;
  const std::int64_t now = monotonic_ns();
  if (now >= deadline_ && !waiting_store_ && !writing_) {
    close();
    return;
  }
  arm_timer(std::max<std::int64_t>(deadline_ - now, 1'000'000));
}

// A partial request waits for more bytes: the header deadline is usually earlier than the idle
// deadline the timer was armed for, and a slow-loris client must not get the idle one. Only this
// (rare) state re-arms, so complete requests cost no timer update.
void Session::fire_by_deadline() {
  if (timer_armed_ && timer_.expiry().time_since_epoch() > std::chrono::nanoseconds(deadline_)) {
    arm_timer(std::max<std::int64_t>(deadline_ - monotonic_ns(), 1'000'000));
  }
}

void Session::do_read() {
  if (closed_) return;
  if (read_len_ == read_capacity_) {  // buffer full and still no complete header block
    reply_protocol_error(431, "request headers exceed " + std::to_string(header_limit_) + " bytes");
    return;
  }
  if (socket_.direct()) {  // not yet waited: the request is usually there already
    boost::system::error_code ec;
    const std::size_t n = socket_.recv_now(read_buf() + read_len_, read_capacity_ - read_len_, ec);
    if (ec != asio::error::would_block) {
      on_read(ec, n);
      return;
    }
    socket_.register_with_loop(ec);
    if (ec) {
      close();
      return;
    }
  }
  ensure_timer();
  socket_.async_read_some(asio::buffer(read_buf() + read_len_, read_capacity_ - read_len_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
}

void Session::on_read(boost::system::error_code ec, std::size_t n) {
  if (ec) {
    close();
    return;
  }
  if (read_len_ == 0 && !parser_) {  // first bytes of a request: the header timeout applies
    deadline_ = monotonic_ns() + worker_.snapshot()->policy->server.header_timeout_ns;
  }
  read_len_ += n;
  process();
}

// Answers every complete request in the buffer, then writes (or reads more).
void Session::process() {
  while (!closed_ && !waiting_store_ && !close_after_write_ && read_len_ > 0 &&
         out_.size() < kMaxPendingOutput) {
    if (!parser_) {
      const Snapshot& snap = *worker_.snapshot();
      body_.clear();
      parser_.emplace(snap.capture,
                      std::span<char>(read_buf() + read_capacity_, header_limit_ + 1024), &body_);
      parser_->header_limit(static_cast<std::uint32_t>(header_limit_));
      parser_->body_limit(snap.policy->server.max_body_bytes);
      parser_->eager(true);
    }
    boost::system::error_code ec;
    const std::size_t used = parser_->put(asio::buffer(read_buf(), read_len_), ec);
    consume(used);
    if (ec == boost::beast::http::error::need_more) break;
    if (ec) {
      if (ec == boost::beast::http::error::header_limit) {
        reply_protocol_error(431,
                             "request headers exceed " + std::to_string(header_limit_) + " bytes");
      } else if (ec == boost::beast::http::error::body_limit) {
        body_.clear();
        reply_protocol_error(
            413, "the forwarded body exceeds server.max_body_bytes (" +
                     std::to_string(worker_.snapshot()->policy->server.max_body_bytes) + " bytes)");
      } else {
        reply_protocol_error(400, "malformed HTTP request: " + ec.message());
      }
      return;
    }
    if (!parser_->is_done()) break;
    handle_request();
  }
  if (waiting_store_) return;
  if (!out_.empty()) {
    do_write();
  } else if (!closed_) {
    if (read_len_ == 0 && !parser_) {  // between requests (a parser mid-body is not idle)
      // Idle once the drain has begun (it was busy when the drain closed the idle ones): done.
      if (worker_.draining()) {
        close();
        return;
      }
      deadline_ = monotonic_ns() + worker_.snapshot()->policy->server.idle_timeout_ns;
    } else {
      fire_by_deadline();
    }
    do_read();
  }
}

void Session::consume(std::size_t n) {
  if (n == 0) return;
  if (n < read_len_) std::memmove(read_buf(), read_buf() + n, read_len_ - n);
  read_len_ -= n;
}

void Session::handle_request() {
  keep_alive_ = parser_->keep_alive() && !worker_.draining();
  if (!keep_alive_) close_after_write_ = true;
  const auto progress = handler_.handle(worker_.snapshot(), worker_.store(), worker_.stats(),
                                        parser_->headers(), peer_, keep_alive_, out_);
  parser_.reset();  // the handler copied what it needs out of the parser's arena and the body
  if (progress == ForwardAuthHandler::Progress::answered) release_body();
  if (progress == ForwardAuthHandler::Progress::answered) return;
  // Hold the pipeline until the shared store answers on this thread.
  waiting_store_ = true;
  ensure_timer();
  worker_.store().admit_async(handler_.calls(), handler_.started_ns(), false,
                              [self = shared_from_this()](const LimitOutcome& outcome) {
                                self->waiting_store_ = false;
                                if (self->closed_) {
                                  self->handler_.abandon();
                                  return;
                                }
                                if (self->worker_.draining() && self->keep_alive_) {
                                  // The drain began while the store answered: this answer is
                                  // the connection's last, and says so.
                                  self->keep_alive_ = false;
                                  self->close_after_write_ = true;
                                  self->handler_.end_keep_alive();
                                }
                                self->handler_.finish(outcome, self->out_);
                                self->release_body();
                                self->process();
                              });
}

// The body (and any password in it) is gone once the request is answered.
void Session::release_body() {
  std::fill(body_.begin(), body_.end(), '\0');  // not even freed memory keeps a password
  if (body_.capacity() > kKeptBodyCapacity) {
    std::string().swap(body_);
  } else {
    body_.clear();
  }
}

void Session::reply_protocol_error(int status, const std::string& detail) {
  ServerStats& stats = worker_.stats();
  (status == 431 ? stats.bad_requests_431 : stats.bad_requests_400)
      .fetch_add(1, std::memory_order_relaxed);
  write_protocol_error(out_, status, detail);
  close_after_write_ = true;
  read_len_ = 0;
  parser_.reset();
  do_write();
}

void Session::do_write() {
  if (closed_ || writing_) return;
  writing_ = true;
  if (socket_.direct()) {
    // The answer to a call that asked to close, with nothing behind it: held for the close that
    // follows, so the FIN leaves in the same segment (one packet fewer for both ends).
    const bool more = close_after_write_ && !keep_alive_ && read_len_ == 0;
    boost::system::error_code ec;
    const std::size_t n = socket_.send_now(out_.data(), out_.size(), more, ec);
    if (n == out_.size() && !close_after_write_) {
      // A connection that stays open reads its next request through the loop: the direct path
      // is for the first request only (and never recurses from one request into the next).
      socket_.register_with_loop(ec);
    }
    if (n == out_.size() || (ec && ec != asio::error::would_block)) {
      on_write(ec);
      return;
    }
    out_.erase(0, n);
    socket_.register_with_loop(ec);
    if (ec) {
      on_write(ec);
      return;
    }
  }
  ensure_timer();
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      self->on_write(ec);
                    });
}

void Session::on_write(boost::system::error_code ec) {
  writing_ = false;
  out_.clear();
  if (ec || close_after_write_) {
    close();  // close() sends the FIN; a shutdown() first would only cost a syscall
    return;
  }
  process();
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  socket_.close_now();
}

}  // namespace edgeguard
