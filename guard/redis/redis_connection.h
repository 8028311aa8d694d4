#pragma once
// One asynchronous connection to one Redis node on the thread's event loop. Commands are
// written as soon as they are issued and their replies come back in order, so concurrent
// requests pipeline on it. The handshake (AUTH, SELECT) is queued ahead of the first command
// instead of waited for. The connection never reconnects by itself: its owner (the store)
// decides when to replace a dead one.
#include <hiredis/async.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgeguard {

class HiredisAsioAdapter;

struct RedisEndpoint {
  std::string host;
  int port = 0;
  std::string text() const;  // host:port, as Redis writes it in MOVED/ASK
  bool operator==(const RedisEndpoint&) const = default;
};

// "host:port" or "[v6]:port".
std::optional<RedisEndpoint> parse_redis_endpoint(std::string_view text);

struct RedisHandshake {
  std::string username;  // ACL user; empty = `default`
  std::string password;  // empty = no AUTH
  int db = 0;            // SELECT when non-zero (standalone only)
  std::int64_t connect_timeout_ns = 500'000'000;
};

class RedisConnection {
 public:
  // Receives the reply, or nullptr when the connection failed before it arrived.
  using ReplyHandler = std::function<void(redisReply* reply)>;

  RedisConnection(boost::asio::io_context& io, RedisEndpoint endpoint,
                  const RedisHandshake& handshake);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connecting or connected, and not failed: commands may be issued.
  bool usable() const { return ac_ != nullptr && !closing_; }
  bool connected() const { return usable() && connected_; }
  const RedisEndpoint& endpoint() const { return endpoint_; }
  const std::string& last_error() const { return last_error_; }

  // Queues a command; false (and `handler` dropped, never called) if the connection is not
  // usable. Otherwise `handler` runs exactly once.
  bool command(std::span<const std::string_view> argv, ReplyHandler handler);

  // Fails the connection now: pending handlers receive nullptr.
  void close();

 private:
  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
  void fail(std::string why);

  RedisEndpoint endpoint_;
  redisAsyncContext* ac_ = nullptr;
  std::shared_ptr<HiredisAsioAdapter> adapter_;
  boost::asio::steady_timer connect_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak-captured by the timer
  bool connected_ = false;
  bool closing_ = false;
  std::string last_error_;
  std::string format_buf_;  // the command being queued, in RESP
};

}  // namespace edgeguard
