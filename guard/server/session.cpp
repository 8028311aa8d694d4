#include "guard/server/session.h"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include <chrono>
#include <cstring>
#include <string_view>

#include "guard/clock/clock.h"
#include "guard/http/response.h"
#include "guard/server/worker.h"

namespace edgeguard {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kMaxPendingOutput = 64 * 1024;  // stop parsing pipelined requests past this
// A large body kept in a pooled set is memory no request needs.
constexpr std::size_t kKeptBodyCapacity = 4096;

}  // namespace

Session::Session(Worker& worker, int fd, bool v6, IpAddress peer)
    : worker_(worker), socket_(worker.io(), fd, v6), timer_(worker.io()), peer_(peer) {
  worker_.add(this);
}

Session::~Session() {
  give_back_buffers();
  worker_.remove(this);
}

void Session::start() {
  const auto& server = worker_.snapshot()->policy->server;
  deadline_ = monotonic_ns() + server.idle_timeout_ns;
  do_read();  // the timer is armed when the connection first waits (ensure_timer)
}

void Session::close_if_idle() {
  // A request in flight (parsed, waiting for the store, being written) holds the buffers.
  if (!buffers_ && first_len_ == 0) close();
}

void Session::arm_timer(std::int64_t after_ns) {
  timer_armed_ = true;
  timer_.expires_after(std::chrono::nanoseconds(after_ns));
  timer_.async_wait(asio::bind_allocator(TimerOpAllocator(timer_op_),
                                         [self = shared_from_this()](boost::system::error_code ec) {
                                           // Cancelled by close() or replaced by a new expiry:
                                           // still armed.
                                           if (ec) return;
                                           self->timer_armed_ = false;
                                           self->on_timer();
                                         }));
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
  if (socket_.direct() && !buffers_ && first_len_ == 0) {
    // A new connection's request is usually there already, whole: read it straight into a set
    // of request buffers, in one recv whatever its size.
    take_buffers();
  }
  if (buffers_ && read_len_ == buffers_->read_capacity()) {  // full, no complete header block
    reply_protocol_error(
        431, "request headers exceed " + std::to_string(buffers_->header_limit) + " bytes");
    return;
  }
  if (socket_.direct()) {  // not yet waited
    boost::system::error_code ec;
    const std::size_t n =
        buffers_ ? socket_.recv_now(buffers_->read_buf() + read_len_,
                                    buffers_->read_capacity() - read_len_, ec)
                 : socket_.recv_now(first_.data() + first_len_, first_.size() - first_len_, ec);
    if (ec != asio::error::would_block) {
      on_read(ec, n);
      return;
    }
    socket_.register_with_loop(ec);
    if (ec) {
      close();
      return;
    }
    // Nothing came after all: the connection waits in first_ like any idle one.
    if (buffers_ && read_len_ == 0 && !buffers_->parser) give_back_buffers();
  }
  ensure_timer();
  if (buffers_) {
    read_some(buffers_->read_buf() + read_len_, buffers_->read_capacity() - read_len_);
  } else {
    read_some(first_.data() + first_len_, first_.size() - first_len_);
  }
}

void Session::read_some(char* into, std::size_t room) {
  socket_.async_read_some(
      asio::buffer(into, room),
      asio::bind_allocator(IoOpAllocator(io_op_),
                           [self = shared_from_this()](boost::system::error_code ec,
                                                       std::size_t n) { self->on_read(ec, n); }));
}

void Session::on_read(boost::system::error_code ec, std::size_t n) {
  if (ec) {
    close();
    return;
  }
  const bool request_start = first_len_ == 0 && read_len_ == 0 && !(buffers_ && buffers_->parser);
  if (request_start) {  // first bytes of a request: the header timeout applies
    deadline_ = monotonic_ns() + worker_.snapshot()->policy->server.header_timeout_ns;
  }
  if (!buffers_) {
    const std::size_t from = first_len_ >= 3 ? first_len_ - 3u : 0;  // "\r\n\r\n" may straddle
    first_len_ = static_cast<std::uint16_t>(first_len_ + n);
    if (!first_bytes_need_buffers(first_.data(), first_len_, from)) {
      fire_by_deadline();
      do_read();
      return;
    }
    take_buffers();
  } else {
    read_len_ += n;
    // A new connection's first bytes, read straight into a set, are a partial header: they wait
    // in first_ instead, so a slow client costs what an idle one does.
    if (request_start && !first_bytes_need_buffers(buffers_->read_buf(), read_len_, 0)) {
      std::memcpy(first_.data(), buffers_->read_buf(), read_len_);
      first_len_ = static_cast<std::uint16_t>(read_len_);
      give_back_buffers();
      fire_by_deadline();
      do_read();
      return;
    }
  }
  process();
}

// A partial header waits in first_ (a slow client costs no more than an idle one) unless the
// header block is complete, it fills first_, or the bytes are already refused: a TLS hello or a
// malformed request line gets its 400 now, as the parser gives it on a request's first bytes,
// not at the header timeout. The probe's arena holds whatever first_ can capture.
bool Session::first_bytes_need_buffers(const char* data, std::size_t len, std::size_t scan_from) {
  if (len >= first_.size()) return true;
  const std::string_view fresh(data + scan_from, len - scan_from);
  if (fresh.find("\r\n\r\n") != std::string_view::npos) return true;
  const Snapshot& snap = *worker_.snapshot();
  std::array<char, kFirstReadBytes * 2> arena;  // repeated headers are joined: room for that
  ForwardAuthParser probe(snap.capture, arena);
  probe.header_limit(static_cast<std::uint32_t>(snap.policy->server.max_header_bytes));
  probe.eager(true);
  boost::system::error_code ec;
  probe.put(asio::buffer(data, len), ec);
  return ec != boost::beast::http::error::need_more;
}

void Session::take_buffers() {
  buffers_ = worker_.request_buffers().acquire(worker_.snapshot()->policy->server.max_header_bytes);
  std::memcpy(buffers_->read_buf(), first_.data(), first_len_);
  read_len_ = first_len_;
  first_len_ = 0;
}

// Nothing of this request stays with the pool: the parser, the answer, the body.
void Session::give_back_buffers() {
  if (!buffers_) return;
  buffers_->parser.reset();
  buffers_->out.clear();
  release_body();
  buffers_->handler.abandon();
  read_len_ = 0;
  worker_.request_buffers().release(std::move(buffers_));
}

// Answers every complete request in the buffer, then writes (or reads more).
void Session::process() {
  RequestBuffers& b = *buffers_;
  while (!closed_ && !waiting_store_ && !close_after_write_ && read_len_ > 0 &&
         b.out.size() < kMaxPendingOutput) {
    if (!b.parser) {
      const Snapshot& snap = *worker_.snapshot();
      b.body.clear();
      b.parser.emplace(snap.capture, b.arena(), &b.body);
      b.parser->header_limit(static_cast<std::uint32_t>(b.header_limit));
      b.parser->body_limit(snap.policy->server.max_body_bytes);
      b.parser->eager(true);
    }
    boost::system::error_code ec;
    const std::size_t used = b.parser->put(asio::buffer(b.read_buf(), read_len_), ec);
    consume(used);
    if (ec == boost::beast::http::error::need_more) break;
    if (ec) {
      if (ec == boost::beast::http::error::header_limit) {
        reply_protocol_error(431,
                             "request headers exceed " + std::to_string(b.header_limit) + " bytes");
      } else if (ec == boost::beast::http::error::body_limit) {
        b.body.clear();
        reply_protocol_error(
            413, "the forwarded body exceeds server.max_body_bytes (" +
                     std::to_string(worker_.snapshot()->policy->server.max_body_bytes) + " bytes)");
      } else {
        reply_protocol_error(400, "malformed HTTP request: " + ec.message());
      }
      return;
    }
    if (!b.parser->is_done()) break;
    handle_request();
  }
  if (waiting_store_) return;
  if (!b.out.empty()) {
    do_write();
  } else if (!closed_) {
    if (read_len_ == 0 && !b.parser) {  // between requests (a parser mid-body is not idle)
      // Idle once the drain has begun (it was busy when the drain closed the idle ones): done.
      if (worker_.draining()) {
        close();
        return;
      }
      deadline_ = monotonic_ns() + worker_.snapshot()->policy->server.idle_timeout_ns;
      give_back_buffers();  // an idle connection holds none of them
    } else {
      fire_by_deadline();
    }
    do_read();
  }
}

void Session::consume(std::size_t n) {
  if (n == 0) return;
  char* buf = buffers_->read_buf();
  if (n < read_len_) std::memmove(buf, buf + n, read_len_ - n);
  read_len_ -= n;
}

void Session::handle_request() {
  RequestBuffers& b = *buffers_;
  keep_alive_ = b.parser->keep_alive() && !worker_.draining();
  if (!keep_alive_) close_after_write_ = true;
  const auto progress = b.handler.handle(worker_.snapshot(), worker_.store(), worker_.stats(),
                                         b.parser->headers(), peer_, keep_alive_, b.out);
  b.parser.reset();  // the handler copied what it needs out of the parser's arena and the body
  if (progress == ForwardAuthHandler::Progress::answered) release_body();
  if (progress == ForwardAuthHandler::Progress::answered) return;
  // Hold the pipeline (and the buffers) until the shared store answers on this thread.
  waiting_store_ = true;
  ensure_timer();
  worker_.store().admit_async(b.handler.calls(), b.handler.started_ns(), false,
                              [self = shared_from_this()](const LimitOutcome& outcome) {
                                self->waiting_store_ = false;
                                RequestBuffers& b = *self->buffers_;
                                if (self->closed_) {
                                  b.handler.abandon();
                                  return;
                                }
                                if (self->worker_.draining() && self->keep_alive_) {
                                  // The drain began while the store answered: this answer is
                                  // the connection's last, and says so.
                                  self->keep_alive_ = false;
                                  self->close_after_write_ = true;
                                  b.handler.end_keep_alive();
                                }
                                b.handler.finish(outcome, b.out);
                                self->release_body();
                                self->process();
                              });
}

// The body (and any password in it) is gone once the request is answered.
void Session::release_body() {
  std::string& body = buffers_->body;
  std::fill(body.begin(), body.end(), '\0');  // not even freed memory keeps a password
  if (body.capacity() > kKeptBodyCapacity) {
    std::string().swap(body);
  } else {
    body.clear();
  }
}

void Session::reply_protocol_error(int status, const std::string& detail) {
  ServerStats& stats = worker_.stats();
  (status == 431 ? stats.bad_requests_431 : stats.bad_requests_400)
      .fetch_add(1, std::memory_order_relaxed);
  write_protocol_error(buffers_->out, status, detail);
  close_after_write_ = true;
  read_len_ = 0;
  buffers_->parser.reset();
  do_write();
}

void Session::do_write() {
  if (closed_ || writing_) return;
  writing_ = true;
  std::string& out = buffers_->out;
  if (socket_.direct()) {
    // The answer to a call that asked to close, with nothing behind it: held for the close that
    // follows, so the FIN leaves in the same segment (one packet fewer for both ends).
    const bool more = close_after_write_ && !keep_alive_ && read_len_ == 0;
    boost::system::error_code ec;
    const std::size_t n = socket_.send_now(out.data(), out.size(), more, ec);
    if (n == out.size() && !close_after_write_) {
      // A connection that stays open reads its next request through the loop: the direct path
      // is for the first request only (and never recurses from one request into the next).
      socket_.register_with_loop(ec);
    }
    if (n == out.size() || (ec && ec != asio::error::would_block)) {
      on_write(ec);
      return;
    }
    out.erase(0, n);
    socket_.register_with_loop(ec);
    if (ec) {
      on_write(ec);
      return;
    }
  }
  ensure_timer();
  asio::async_write(
      socket_, asio::buffer(out),
      asio::bind_allocator(IoOpAllocator(io_op_),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             self->on_write(ec);
                           }));
}

void Session::on_write(boost::system::error_code ec) {
  writing_ = false;
  buffers_->out.clear();
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
