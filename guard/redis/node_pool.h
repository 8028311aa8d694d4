#pragma once
// One io thread's connections to the Redis nodes it talks to: `connections` per node, used
// round robin, so concurrent requests pipeline over them. A RedisConnection never reconnects by
// itself; the pool replaces a failed one with a fresh connection the next time it is needed.
// Each node has its own breaker: one dead node does not stop requests to the others.
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "guard/redis/breaker.h"
#include "guard/redis/redis_connection.h"

namespace edgeguard {

struct RedisNode {
  RedisNode(RedisEndpoint at, Breaker health) : endpoint(std::move(at)), breaker(health) {}
  RedisEndpoint endpoint;
  std::vector<std::unique_ptr<RedisConnection>> conns;
  std::size_t next = 0;  // round robin over conns
  Breaker breaker;       // this thread's view of the node's health
};

class RedisNodePool {
 public:
  // `on_connect` runs on each new connection before anything else is sent on it; every node's
  // breaker starts as a copy of `health` (closed).
  RedisNodePool(boost::asio::io_context& io, const RedisHandshake& handshake,
                int connections_per_node, Breaker health,
                std::function<void(RedisConnection&)> on_connect);
  ~RedisNodePool();
  RedisNodePool(const RedisNodePool&) = delete;
  RedisNodePool& operator=(const RedisNodePool&) = delete;

  // The node at `endpoint`, added (without connecting) if new. References stay valid for the
  // pool's lifetime.
  RedisNode& node(const RedisEndpoint& endpoint);
  // The node at `endpoint` if known.
  RedisNode* find(const RedisEndpoint& endpoint);
  std::size_t size() const { return nodes_.size(); }
  RedisNode& at(std::size_t i) { return *nodes_[i]; }
  boost::asio::io_context& io() { return io_; }

  // The next connection to `node`, opened if it is missing or failed; nullptr if a new one
  // cannot even be started.
  RedisConnection* connection(RedisNode& node);

  // Gives up `node`'s connections: new ones are opened on next use, the old ones are closed
  // on a later turn of the loop (their pending handlers then receive nullptr), so a caller
  // deep in a reply handler is not re-entered.
  void drop_connections(RedisNode& node);

 private:
  boost::asio::io_context& io_;
  const RedisHandshake& handshake_;
  int connections_per_node_;
  Breaker health_;
  std::function<void(RedisConnection&)> on_connect_;
  std::vector<std::unique_ptr<RedisNode>> nodes_;
};

}  // namespace edgeguard
