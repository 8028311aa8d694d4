#include "guard/redis/node_pool.h"

#include <boost/asio/post.hpp>

namespace edgeguard {

RedisNodePool::RedisNodePool(boost::asio::io_context& io, const RedisHandshake& handshake,
                             int connections_per_node, Breaker health,
                             std::function<void(RedisConnection&)> on_connect)
    : io_(io),
      handshake_(handshake),
      connections_per_node_(connections_per_node),
      health_(health),
      on_connect_(std::move(on_connect)) {}

RedisNodePool::~RedisNodePool() {
  nodes_.clear();
}

RedisNode* RedisNodePool::find(const RedisEndpoint& endpoint) {
  for (auto& node : nodes_) {
    if (node->endpoint == endpoint) return node.get();
  }
  return nullptr;
}

RedisNode& RedisNodePool::node(const RedisEndpoint& endpoint) {
  if (RedisNode* known = find(endpoint)) return *known;
  auto node = std::make_unique<RedisNode>(endpoint, health_);
  node->conns.resize(static_cast<std::size_t>(connections_per_node_));
  nodes_.push_back(std::move(node));
  return *nodes_.back();
}

RedisConnection* RedisNodePool::connection(RedisNode& node) {
  auto& conn = node.conns[node.next++ % node.conns.size()];
  if (conn == nullptr || !conn->usable()) {
    if (conn != nullptr) {
      // Freed on a later turn of the loop: freeing runs pending handlers, which must not
      // re-enter this function halfway through.
      boost::asio::post(io_, [old = std::shared_ptr<RedisConnection>(std::move(conn))] {});
    }
    conn = std::make_unique<RedisConnection>(io_, node.endpoint, handshake_);
    if (on_connect_) on_connect_(*conn);
    if (!conn->usable()) return nullptr;
  }
  return conn.get();
}

void RedisNodePool::drop_connections(RedisNode& node) {
  for (auto& conn : node.conns) {
    if (conn != nullptr) {
      boost::asio::post(io_, [old = std::shared_ptr<RedisConnection>(std::move(conn))] {});
    }
  }
}

}  // namespace edgeguard
