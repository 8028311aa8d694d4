#include "guard/server/forward_auth_server.h"

#include <boost/asio.hpp>
#include <boost/beast/http/error.hpp>

#include <chrono>
#include <optional>

#include "guard/core/decide.h"
#include "guard/http/forward_auth_parser.h"
#include "guard/http/response.h"
#include "guard/log/event_log.h"
#include "guard/net/host_port.h"
#include "guard/server/monotonic_clock.h"
#include "guard/tailnet/node_directory.h"

namespace edgeguard {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::size_t kBodyLimit = 64 * 1024;
constexpr std::size_t kMaxPendingOutput = 64 * 1024;  // stop parsing pipelined requests past this
constexpr auto kLogFlushInterval = std::chrono::milliseconds(200);

IpAddress to_ip(const asio::ip::address& a) {
  if (a.is_v4()) return IpAddress::from_v4(a.to_v4().to_uint());
  const auto b = a.to_v6().to_bytes();
  std::array<std::uint8_t, 16> bytes{};
  std::copy(b.begin(), b.end(), bytes.begin());
  return IpAddress::from_bytes(bytes);
}

}  // namespace

class Session;

// One thread: its event loop, acceptor, sessions and cached view of the service.
class Worker {
 public:
  Worker(Service& service, int index) : service_(service), index_(index), acceptor_(io_) {}

  asio::io_context& io() { return io_; }
  Service& service() { return service_; }
  LimitStore& store() { return *store_; }
  void set_store(LimitStore* store) { store_ = store; }
  int index() const { return index_; }
  bool draining() const { return draining_; }

  // The snapshot for this request: re-read only when the service published a new one.
  const Snapshot& snapshot() {
    const auto g = service_.generation();
    if (g != generation_) {
      snapshot_ = service_.snapshot();
      generation_ = g;
    }
    return *snapshot_;
  }

  bool open(const tcp::endpoint& ep, std::string* error) {
    boost::system::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      const int one = 1;
      if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) !=
          0) {
        ec.assign(errno, boost::system::system_category());
      }
    }
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      if (error)
        *error = "cannot listen on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
                 ": " + ec.message();
      return false;
    }
    return true;
  }
  std::uint16_t local_port() const { return acceptor_.local_endpoint().port(); }

  void run() {
    set_metrics_thread_index(index_);
    do_accept();
    arm_log_flush();
    io_.run();
    flush_log_buffer();
  }

  // The snapshot snapshot() last returned, without refreshing: a request that waits for the
  // shared store must keep alive exactly the snapshot its route and facts point into, even if
  // a newer one was published meanwhile.
  std::shared_ptr<const Snapshot> current_snapshot() const { return snapshot_; }
  void stop_loop() {
    stopped_ = true;
    io_.stop();
  }

  int workers_hint = 1;  // connection limit is split evenly over the workers
  void begin_drain();
  void add(Session* s);
  void remove(Session* s);
  std::int64_t connections() const { return connections_.load(std::memory_order_relaxed); }

 private:
  void do_accept();
  void arm_log_flush() {
    log_timer_.expires_after(kLogFlushInterval);
    log_timer_.async_wait([this](boost::system::error_code ec) {
      flush_log_buffer();
      if (!ec && !stopped_) arm_log_flush();
    });
  }

  Service& service_;
  int index_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  tcp::endpoint peer_;  // filled by each accept
  asio::steady_timer log_timer_{io_};
  LimitStore* store_ = nullptr;
  std::shared_ptr<const Snapshot> snapshot_;
  std::uint64_t generation_ = ~std::uint64_t{0};
  bool draining_ = false;
  bool stopped_ = false;
  Session* sessions_ = nullptr;  // intrusive list of live sessions (this thread only)
  std::atomic<std::int64_t> connections_{0};
  friend class Session;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Worker& worker, tcp::socket socket, IpAddress peer)
      : worker_(worker), socket_(std::move(socket)), peer_(peer), timer_(worker.io()) {
    const auto& server = worker_.snapshot().policy->server;
    header_limit_ = server.max_header_bytes;
    // One uninitialised block per connection: the read buffer (a full header block plus room
    // for what is pipelined behind it) and the parser's arena. Traefik opens connections
    // constantly, so nothing here is zeroed that is written before it is read.
    read_capacity_ = header_limit_ + 4096;
    buffers_ = std::make_unique_for_overwrite<char[]>(read_capacity_ + header_limit_ + 1024);
    out_.reserve(512);
    worker_.add(this);
  }
  ~Session() { worker_.remove(this); }

  void start() {
    const auto& server = worker_.snapshot().policy->server;
    deadline_ = monotonic_ns() + server.idle_timeout_ns;
    arm_timer(server.idle_timeout_ns);
    do_read();
  }

  // For drain: close if nothing is in flight.
  void close_if_idle() {
    if (read_len_ == 0 && !parser_ && out_.empty() && !waiting_store_ && !writing_) close();
  }

  Session* next = nullptr;
  Session* prev = nullptr;

 private:
  void arm_timer(std::int64_t after_ns) {
    timer_.expires_after(std::chrono::nanoseconds(after_ns));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->on_timer();
    });
  }

  // One timer per connection, re-armed lazily: requests only move `deadline_`.
  void on_timer() {
    if (closed_) return;
    const std::int64_t now = monotonic_ns();
    if (now >= deadline_ && !waiting_store_ && !writing_) {
      close();
      return;
    }
    arm_timer(std::max<std::int64_t>(deadline_ - now, 1'000'000));
  }

  // A partial request waits for more bytes: the header deadline is usually earlier than the
  // idle deadline the timer was armed for, and a slow-loris client must not get the idle one.
  // Only this (rare) state re-arms, so complete requests cost no timer update.
  void fire_by_deadline() {
    if (timer_.expiry().time_since_epoch() > std::chrono::nanoseconds(deadline_)) {
      arm_timer(std::max<std::int64_t>(deadline_ - monotonic_ns(), 1'000'000));
    }
  }

  void do_read() {
    if (closed_) return;
    if (read_len_ == read_capacity_) {  // buffer full and still no complete header block
      reply_protocol_error(431,
                           "request headers exceed " + std::to_string(header_limit_) + " bytes");
      return;
    }
    socket_.async_read_some(asio::buffer(read_buf() + read_len_, read_capacity_ - read_len_),
                            [self = shared_from_this()](boost::system::error_code ec,
                                                        std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (ec) {
      close();
      return;
    }
    if (read_len_ == 0 && !parser_) {  // first bytes of a request: the header timeout applies
      deadline_ = monotonic_ns() + worker_.snapshot().policy->server.header_timeout_ns;
    }
    read_len_ += n;
    process();
  }

  // Answers every complete request in the buffer, then writes (or reads more).
  void process() {
    while (!closed_ && !waiting_store_ && !close_after_write_ && read_len_ > 0 &&
           out_.size() < kMaxPendingOutput) {
      if (!parser_) {
        parser_.emplace(worker_.snapshot().capture,
                        std::span<char>(read_buf() + read_capacity_, header_limit_ + 1024));
        parser_->header_limit(static_cast<std::uint32_t>(header_limit_));
        parser_->body_limit(kBodyLimit);
        parser_->eager(true);
      }
      boost::system::error_code ec;
      const std::size_t used = parser_->put(asio::buffer(read_buf(), read_len_), ec);
      consume(used);
      if (ec == boost::beast::http::error::need_more) break;
      if (ec) {
        if (ec == boost::beast::http::error::header_limit) {
          reply_protocol_error(
              431, "request headers exceed " + std::to_string(header_limit_) + " bytes");
        } else if (ec == boost::beast::http::error::body_limit) {
          reply_protocol_error(413, "a ForwardAuth call carries no body; this one is too large");
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
        deadline_ = monotonic_ns() + worker_.snapshot().policy->server.idle_timeout_ns;
      } else {
        fire_by_deadline();
      }
      do_read();
    }
  }

  void consume(std::size_t n) {
    if (n == 0) return;
    if (n < read_len_) std::memmove(read_buf(), read_buf() + n, read_len_ - n);
    read_len_ -= n;
  }

  void handle_request() {
    const std::int64_t started = monotonic_ns();
    keep_alive_ = parser_->keep_alive() && !worker_.draining();
    const ForwardHeaders headers = parser_->headers();
    snapshot_ = &worker_.snapshot();
    const Snapshot& snap = *snapshot_;
    const Policy& policy = *snap.policy;
    parser_.reset();

    decision_ = Decision{};
    facts_ = Facts{};
    identity_ = IdentityHeaders{};
    if (!caller_allowed(policy, peer_)) {
      decision_ = caller_denied(policy);
      finish_decision(started);
      return;
    }
    const ParseOutcome parsed =
        parse_forward_request(headers, policy.client_ip.header, snap.client_ip, scratch_);
    if (!parsed.ok()) {
      worker_.service().metrics().bad_requests_400.fetch_add(1, std::memory_order_relaxed);
      write_bad_request(out_, parsed.bad, keep_alive_);
      if (!keep_alive_) close_after_write_ = true;
      return;
    }
    request_ = parsed.request;
    facts_.client_ip = request_.client_ip;
    const Route& route = policy.match(request_.host, request_.path, request_.method);
    if (route.geo && snap.geo) facts_.geo = snap.geo->lookup(facts_.client_ip);
    if (route.tailnet && snap.nodes) {
      if (const DirectoryEntry* e = snap.nodes->find_entry(facts_.client_ip)) {
        facts_.node = &e->node;
        identity_ = {&e->node, e->tags_header};
      }
    }
    if (!evaluate_rules(route, facts_, decision_, nullptr)) {
      finish_decision(started);
      return;
    }
    build_limit_calls(route, request_, facts_, policy.client_ip.ipv6_prefix, calls_);
    if (auto outcome = worker_.store().try_admit(calls_.view(), started, false)) {
      apply_limits(route, *outcome, decision_, nullptr);
      finish_decision(started);
      return;
    }
    // The shared store answers later on this thread: hold the pipeline (and the snapshot the
    // route and facts point into) until it does.
    waiting_store_ = true;
    held_ = worker_.current_snapshot();
    worker_.store().admit_async(
        calls_.view(), started, false,
        [self = shared_from_this(), &route, started](const LimitOutcome& outcome) {
          self->waiting_store_ = false;
          auto held = std::move(self->held_);
          if (self->closed_) return;
          apply_limits(route, outcome, self->decision_, nullptr);
          self->finish_decision(started);
          self->process();
        });
  }

  void finish_decision(std::int64_t started) {
    const Snapshot& snap = *snapshot_;
    const Decision& d = decision_;
    const Route* route = d.route != nullptr ? d.route : &snap.policy->default_route;
    RouteStats* stats = snap.route_stats[static_cast<std::size_t>(route->index)];
    stats->count(d.verdict, d.reason);
    if (d.verdict == Verdict::allow && d.limit_index >= 0 &&
        static_cast<std::size_t>(d.limit_index) < route->limits.size() &&
        d.remaining * 5 <= route->limits[d.limit_index].rate.burst) {
      stats->count_near(d.limit_index);  // admitted with at most a fifth of the burst left
    }
    if (d.verdict != Verdict::allow || sample_allow(snap.policy->log)) log_decision(d, *route);
    write_decision(out_, d, facts_, identity_, keep_alive_);
    if (!keep_alive_) close_after_write_ = true;
    worker_.service().metrics().decision_seconds.observe_ns(monotonic_ns() - started);
  }

  // log.allow_sample: every (1/sample)-th allowed decision of this session's thread, counted
  // rather than drawn at random so the hot path needs no random number generator.
  static bool sample_allow(const LogSettings& log) {
    if (!log.allow || log.allow_sample <= 0) return false;
    thread_local std::uint64_t allowed_seen = 0;
    const auto every = static_cast<std::uint64_t>(1.0 / log.allow_sample + 0.5);
    return every <= 1 || ++allowed_seen % every == 0;
  }

  void log_decision(const Decision& d, const Route& route) {
    char ip[64];
    const std::size_t ip_len =
        d.reason == Reason::caller ? peer_.format(ip) : facts_.client_ip.format(ip);
    const bool limited = d.reason == Reason::rate_limit && d.limit_index >= 0 &&
                         static_cast<std::size_t>(d.limit_index) < route.limits.size();
    log_buffered(
        d.verdict == Verdict::allow ? "info" : "warn", "decision",
        {{"verdict", to_string(d.verdict)},
         {"reason", to_string(d.reason)},
         {"route", route.name},
         {"rule", d.rule},
         {"client_ip", std::string_view(ip, ip_len)},
         {"method", request_.method},
         {"host", request_.host},
         {"path", request_.path},
         {"limit", limited ? std::string_view(route.limits[d.limit_index].name) : ""},
         {"retry_after", d.reason == Reason::rate_limit ? retry_after_seconds(d.retry_after_ns)
                                                        : std::int64_t{0}}});
  }

  void reply_protocol_error(int status, const std::string& detail) {
    if (status == 431) {
      worker_.service().metrics().bad_requests_431.fetch_add(1, std::memory_order_relaxed);
    } else {
      worker_.service().metrics().bad_requests_400.fetch_add(1, std::memory_order_relaxed);
    }
    write_protocol_error(out_, status, detail);
    close_after_write_ = true;
    read_len_ = 0;
    parser_.reset();
    do_write();
  }

  void do_write() {
    if (closed_ || writing_) return;
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->on_write(ec);
                      });
  }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    out_.clear();
    if (ec || close_after_write_) {
      close();  // close() sends the FIN; a shutdown() first would only cost a syscall
      return;
    }
    process();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

  Worker& worker_;
  tcp::socket socket_;
  IpAddress peer_;
  asio::steady_timer timer_;
  std::int64_t deadline_ = 0;
  std::size_t header_limit_ = 8192;
  char* read_buf() { return buffers_.get(); }
  std::unique_ptr<char[]> buffers_;
  std::size_t read_capacity_ = 0;
  std::size_t read_len_ = 0;
  std::optional<ForwardAuthParser> parser_;
  std::string out_;
  RequestScratch scratch_;
  ForwardRequest request_;
  Facts facts_;
  IdentityHeaders identity_;
  Decision decision_;
  LimitCalls calls_;
  const Snapshot* snapshot_ = nullptr;
  std::shared_ptr<const Snapshot> held_;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  bool waiting_store_ = false;
  bool writing_ = false;
  bool closed_ = false;
};

void Worker::add(Session* s) {
  s->next = sessions_;
  if (sessions_) sessions_->prev = s;
  sessions_ = s;
  connections_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::remove(Session* s) {
  if (s->prev) s->prev->next = s->next;
  if (s->next) s->next->prev = s->prev;
  if (sessions_ == s) sessions_ = s->next;
  connections_.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::do_accept() {
  // The overload that fills the peer's address from accept() itself: no getpeername(). No
  // TCP_NODELAY either: every response goes out in one write, so Nagle never holds one back,
  // and a connection per request (Traefik beyond its 2 idle ones) should cost few syscalls.
  acceptor_.async_accept(peer_, [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      const auto& server = snapshot().policy->server;
      if (static_cast<std::size_t>(connections_.load(std::memory_order_relaxed)) >=
          server.max_connections / static_cast<std::size_t>(std::max(1, workers_hint))) {
        service_.metrics().connections_rejected.fetch_add(1, std::memory_order_relaxed);
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(*this, std::move(socket), to_ip(peer_.address()))->start();
      }
    }
    // Errors such as EMFILE must not stop the accept loop (Beast's examples stop; we don't).
    do_accept();
  });
}

void Worker::begin_drain() {
  draining_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (Session* s = sessions_; s != nullptr;) {
    Session* next = s->next;
    s->close_if_idle();
    s = next;
  }
}

ForwardAuthServer::ForwardAuthServer(Service& service, int threads)
    : service_(service), threads_(std::max(1, threads)) {
  for (int i = 0; i < threads_; ++i) {
    workers_.push_back(std::make_unique<Worker>(service_, i));
    workers_.back()->workers_hint = threads_;
  }
}

ForwardAuthServer::~ForwardAuthServer() {
  for (auto& w : workers_) w->io().stop();
  join();
}

bool ForwardAuthServer::bind(const std::string& listen, std::string* error) {
  const auto hp = parse_host_port(listen);  // the loader checked the form already
  const std::string host = hp ? hp->host : listen;
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(host == "*" ? "0.0.0.0" : host, ec);
  if (!hp || ec) {
    if (error) *error = "listen: '" + host + "' is not an IP address";
    return false;
  }
  std::uint16_t port = hp->port;
  for (auto& w : workers_) {
    if (!w->open(tcp::endpoint(addr, port), error)) return false;
    port = w->local_port();  // port 0: every worker joins the port the first one got
  }
  port_ = port;
  return true;
}

void ForwardAuthServer::start() {
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->set_store(store_factory_ ? store_factory_(&worker->io(), worker->index())
                                     : &service_.local_store());
    pool_.emplace_back([worker] { worker->run(); });
  }
}

void ForwardAuthServer::stop(std::int64_t drain_timeout_ns) {
  for (auto& w : workers_) {
    Worker* worker = w.get();
    asio::post(worker->io(), [worker] { worker->begin_drain(); });
  }
  const std::int64_t deadline = monotonic_ns() + drain_timeout_ns;
  // Poll the connection counts: in-flight requests finish and their connections close.
  while (open_connections() > 0 && monotonic_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& w : workers_) {
    Worker* worker = w.get();
    asio::post(worker->io(), [worker] { worker->stop_loop(); });
  }
}

void ForwardAuthServer::join() {
  for (auto& t : pool_) {
    if (t.joinable()) t.join();
  }
  pool_.clear();
}

std::int64_t ForwardAuthServer::open_connections() const {
  std::int64_t n = 0;
  for (const auto& w : workers_) n += w->connections();
  return n;
}

}  // namespace edgeguard
