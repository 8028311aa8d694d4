// RedisConnection on the thread's event loop against a real redis-server: what the socket
// delivers in one readiness edge is all read, however hiredis splits its reads (it reads at most
// 16 KB per call) and whatever follows the last reply (the end of the connection).
#include "guard/redis/redis_connection.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/redis/redis_test_support.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard {
namespace {

using testing::RedisServer;
using testing::run_io_until;
using testing::TempDir;

RedisEndpoint endpoint_of(const RedisServer& redis) {
  return RedisEndpoint{"127.0.0.1", redis.port()};
}

TEST(RedisConnectionTest, AReplyLargerThanOneReadArrivesWhole) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  const std::string value(200'000, 'v');  // twelve of hiredis's 16 KB reads
  ASSERT_NE(redis.command({"SET", "big", value}), nullptr);

  std::optional<std::size_t> got;  // before the connection: its end may still call the handler
  boost::asio::io_context io;
  RedisConnection conn(io, endpoint_of(redis), RedisHandshake{});
  const std::string_view argv[] = {"GET", "big"};
  ASSERT_TRUE(conn.command(argv, [&](redisReply* reply) {
    got = reply != nullptr && reply->type == REDIS_REPLY_STRING ? reply->len : 0;
  }));
  ASSERT_TRUE(run_io_until(io, [&] { return got.has_value(); })) << "the reply stalled part-read";
  EXPECT_EQ(*got, value.size());
}

// A message and the end of the connection in the socket before the loop looks at it (one edge):
// the message is delivered and then the loss, which the ban sync needs to subscribe again.
TEST(RedisConnectionTest, TheEndOfTheConnectionAfterAMessageIsSeen) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());

  std::vector<std::string> kinds;  // "subscribe", "message", then "lost"
  boost::asio::io_context io;
  RedisConnection conn(io, endpoint_of(redis), RedisHandshake{});
  ASSERT_TRUE(conn.subscribe("bans", [&](redisReply* reply) {
    if (reply == nullptr) {
      kinds.emplace_back("lost");
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3) {
      kinds.emplace_back(reply->element[0]->str, reply->element[0]->len);
    }
  }));
  ASSERT_TRUE(run_io_until(io, [&] { return !kinds.empty(); }));
  ASSERT_EQ(kinds, std::vector<std::string>{"subscribe"});

  // The loop is not running: both arrive before it reads.
  const auto published = redis.command({"PUBLISH", "bans", "payload"});
  ASSERT_NE(published, nullptr);
  EXPECT_EQ(published->integer, 1);
  const auto killed = redis.command({"CLIENT", "KILL", "TYPE", "pubsub"});
  ASSERT_NE(killed, nullptr);
  EXPECT_EQ(killed->integer, 1);

  ASSERT_TRUE(run_io_until(io, [&] { return kinds.size() >= 3; }))
      << "after the message, the end of the connection was never read";
  EXPECT_EQ(kinds, (std::vector<std::string>{"subscribe", "message", "lost"}));
}

// The ban sync drops its subscribed connection when the server drains: the handler hears the
// end once, and nothing is freed twice.
TEST(RedisConnectionTest, ASubscribedConnectionFreedByItsOwnerEndsOnce) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());

  int subscribed = 0, lost = 0;
  boost::asio::io_context io;
  auto conn = std::make_unique<RedisConnection>(io, endpoint_of(redis), RedisHandshake{});
  ASSERT_TRUE(conn->subscribe("bans", [&](redisReply* reply) { ++(reply ? subscribed : lost); }));
  ASSERT_TRUE(run_io_until(io, [&] { return subscribed == 1; }));
  conn.reset();
  io.restart();
  io.poll();
  EXPECT_EQ(lost, 1);
}

}  // namespace
}  // namespace edgeguard
