#pragma once
// Scripts from the maintenance loop to the node serving one hash slot (the bans' slot): the
// admin API's bans and unbans and the resync pages. Not the request path: a few commands a
// minute, each bounded by its own timeout, no breaker. It follows MOVED and ASK, asks the
// Cluster for the slot map again and retries once after a lost connection (a promoted
// replica), and answers NOSCRIPT with EVAL.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guard/redis/cluster_routing.h"
#include "guard/redis/node_pool.h"
#include "guard/redis/redis_shared_state.h"

namespace edgeguard {

class RedisSlotClient {
 public:
  // `reply` is a non-error reply when `error` is empty; otherwise null. Always called later on
  // the loop, never inside run().
  using Done = std::function<void(const redisReply* reply, const std::string& error)>;

  RedisSlotClient(boost::asio::io_context& io, std::shared_ptr<RedisSharedState> shared,
                  std::int64_t timeout_ns);
  ~RedisSlotClient();
  RedisSlotClient(const RedisSlotClient&) = delete;
  RedisSlotClient& operator=(const RedisSlotClient&) = delete;

  // EVALSHA `argv` (whose keys hash to `slot`); on NOSCRIPT, argv[0..1] become EVAL `source`.
  void run_script(int slot, std::vector<std::string> argv, std::string_view source, Done done);

 private:
  struct Call;
  void send(const std::shared_ptr<Call>& call, RedisNode& node, bool asking);
  void on_reply(const std::shared_ptr<Call>& call, redisReply* reply);
  void lost(const std::shared_ptr<Call>& call, const std::string& why);
  void finish(const std::shared_ptr<Call>& call, const redisReply* reply, const std::string& error);
  RedisNode& node_for(int slot);

  boost::asio::io_context& io_;
  std::shared_ptr<RedisSharedState> shared_;
  std::int64_t timeout_ns_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // weak-captured by callbacks
  RedisNodePool pool_;
  std::optional<ClusterRouting> routing_;  // Cluster mode only; destroyed before the pool
};

}  // namespace edgeguard
