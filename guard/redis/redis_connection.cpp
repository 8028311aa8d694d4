#include "guard/redis/redis_connection.h"

#include <charconv>

#include "guard/net/host_port.h"
#include "guard/redis/hiredis_asio.h"

namespace edgeguard {

namespace asio = boost::asio;

std::string RedisEndpoint::text() const {
  return host + ":" + std::to_string(port);
}

std::optional<RedisEndpoint> parse_redis_endpoint(std::string_view text) {
  auto hp = parse_host_port(text);
  if (!hp || hp->port == 0) return std::nullopt;  // a Redis is never on port 0
  return RedisEndpoint{std::move(hp->host), hp->port};
}

RedisConnection::RedisConnection(asio::io_context& io, RedisEndpoint endpoint,
                                 const RedisHandshake& handshake)
    : endpoint_(std::move(endpoint)), connect_timer_(io) {
  redisAsyncContext* ac = redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
  if (ac == nullptr) {
    last_error_ = "out of memory";
    return;
  }
  if (ac->err != 0) {
    last_error_ = ac->errstr;
    redisAsyncFree(ac);
    return;
  }
  adapter_ = HiredisAsioAdapter::attach(ac, io, [this] {
    ac_ = nullptr;
    connected_ = false;
  });
  if (adapter_ == nullptr) {
    last_error_ = "cannot watch the socket";
    redisAsyncFree(ac);
    return;
  }
  ac_ = ac;
  ac_->data = this;
  redisAsyncSetConnectCallback(ac_, &RedisConnection::on_connect);
  redisAsyncSetDisconnectCallback(ac_, &RedisConnection::on_disconnect);

  connect_timer_.expires_after(std::chrono::nanoseconds(handshake.connect_timeout_ns));
  connect_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired() || connected_) return;
        fail("connect timeout");
      });

  // Pipelined ahead of the first command; a refusal fails the connection, so no command ever
  // runs unauthenticated or on the wrong database.
  auto check = [this, alive = std::weak_ptr<int>(alive_)](redisReply* reply) {
    if (alive.expired()) return;
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
      fail(std::string(reply->str, reply->len));
    }
  };
  if (!handshake.password.empty()) {
    if (handshake.username.empty()) {
      const std::string_view argv[] = {"AUTH", handshake.password};
      command(argv, check);
    } else {
      const std::string_view argv[] = {"AUTH", handshake.username, handshake.password};
      command(argv, check);
    }
  }
  if (handshake.db != 0) {
    const std::string db = std::to_string(handshake.db);
    const std::string_view argv[] = {"SELECT", db};
    command(argv, check);
  }
}

RedisConnection::~RedisConnection() {
  alive_.reset();
  if (adapter_ != nullptr) adapter_->forget_owner();
  if (ac_ != nullptr) {
    ac_->data = nullptr;
    ac_->onConnect = nullptr;
    ac_->onDisconnect = nullptr;
    redisAsyncFree(ac_);  // pending handlers run now (or after the current callback) with nullptr
  }
}

bool RedisConnection::command(std::span<const std::string_view> argv, ReplyHandler handler) {
  if (!usable()) return false;
  // RESP written here into a reused buffer: hiredis's own formatting (sdscatfmt, an sds per
  // command) was the largest cost of a command on edgeguard's side.
  std::string& out = format_buf_;
  out.clear();
  const auto append_count = [&out](char kind, std::size_t n) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out += kind;
    out.append(digits, end);
    out += "\r\n";
  };
  append_count('*', argv.size());
  for (std::string_view arg : argv) {
    append_count('$', arg.size());
    out += arg;
    out += "\r\n";
  }
  // hiredis owns the handler until it calls on_reply exactly once (with a reply or nullptr).
  auto owned = std::make_unique<ReplyHandler>(std::move(handler));
  if (redisAsyncFormattedCommand(ac_, &RedisConnection::on_reply, owned.get(), out.data(),
                                 out.size()) != REDIS_OK) {
    return false;
  }
  (void)owned.release();
  return true;
}

void RedisConnection::on_reply(redisAsyncContext*, void* reply, void* privdata) {
  std::unique_ptr<ReplyHandler> handler(static_cast<ReplyHandler*>(privdata));
  if (*handler) (*handler)(static_cast<redisReply*>(reply));
}

void RedisConnection::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr) return;
  if (status == REDIS_OK) {
    self->connected_ = true;
    self->connect_timer_.cancel();
  } else {
    self->last_error_ = ac->errstr != nullptr ? ac->errstr : "connect failed";
    self->closing_ = true;  // hiredis frees the context itself after this callback
  }
}

void RedisConnection::on_disconnect(const redisAsyncContext* ac, int) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr) return;
  if (ac->err != 0 && ac->errstr != nullptr && self->last_error_.empty()) {
    self->last_error_ = ac->errstr;
  }
  self->closing_ = true;
  self->connected_ = false;
}

void RedisConnection::fail(std::string why) {
  if (last_error_.empty()) last_error_ = std::move(why);
  close();
}

void RedisConnection::close() {
  if (ac_ == nullptr || closing_) return;
  closing_ = true;
  connected_ = false;
  connect_timer_.cancel();
  // Safe inside a reply callback: hiredis defers the free until the callback returns.
  redisAsyncFree(ac_);
}

}  // namespace edgeguard
