#include "guard/redis/slot_client.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "guard/redis/cluster_slots.h"

namespace edgeguard {

namespace asio = boost::asio;

namespace {
constexpr int kMaxRedirects = 5;
}  // namespace

struct RedisSlotClient::Call {
  explicit Call(asio::io_context& io) : timer(io) {}
  std::vector<std::string> argv;
  std::string_view source;
  int slot = 0;
  Done done;
  RedisNode* node = nullptr;
  int redirects = 0;
  bool noscript_retried = false;
  bool rerouted = false;
  bool finished = false;
  asio::steady_timer timer;
};

RedisSlotClient::RedisSlotClient(asio::io_context& io, std::shared_ptr<RedisSharedState> shared,
                                 std::int64_t timeout_ns)
    : io_(io),
      shared_(std::move(shared)),
      timeout_ns_(timeout_ns),
      pool_(io, shared_->handshake(), 1,
            Breaker(shared_->config().failure_threshold, shared_->config().probe_interval_ns), {}) {
  if (shared_->cluster()) {
    routing_.emplace(pool_, shared_->slot_map(), shared_->seeds(),
                     shared_->config().probe_interval_ns);
  }
}

RedisSlotClient::~RedisSlotClient() {
  alive_.reset();
  routing_.reset();
}

RedisNode& RedisSlotClient::node_for(int slot) {
  if (!routing_) return pool_.node(shared_->seeds().front());
  routing_->sync();
  return routing_->node_for_slot(slot);
}

void RedisSlotClient::run_script(int slot, std::vector<std::string> argv, std::string_view source,
                                 Done done) {
  auto call = std::make_shared<Call>(io_);
  call->argv = std::move(argv);
  call->source = source;
  call->slot = slot;
  call->done = std::move(done);
  call->timer.expires_after(std::chrono::nanoseconds(timeout_ns_));
  call->timer.async_wait(
      [this, alive = std::weak_ptr<int>(alive_), call](const boost::system::error_code& ec) {
        if (ec || alive.expired() || call->finished) return;
        // A stalled node: what is queued on its connection is dropped with it.
        if (call->node != nullptr) pool_.drop_connections(*call->node);
        finish(call, nullptr, "timeout");
      });
  // The first send may fail at once; the answer still comes on a later turn of the loop.
  asio::post(io_, [this, alive = std::weak_ptr<int>(alive_), call] {
    if (alive.expired() || call->finished) return;
    send(call, node_for(call->slot), false);
  });
}

void RedisSlotClient::send(const std::shared_ptr<Call>& call, RedisNode& node, bool asking) {
  call->node = &node;
  RedisConnection* conn = pool_.connection(node);
  if (conn == nullptr) {
    lost(call, "cannot connect");
    return;
  }
  if (asking) {
    const std::string_view argv[] = {"ASKING"};
    conn->command(argv, nullptr);
  }
  std::vector<std::string_view> argv(call->argv.begin(), call->argv.end());
  const bool queued =
      conn->command(argv, [this, alive = std::weak_ptr<int>(alive_), call](redisReply* reply) {
        if (alive.expired() || call->finished) return;
        on_reply(call, reply);
      });
  if (!queued) lost(call, "cannot send");
}

void RedisSlotClient::on_reply(const std::shared_ptr<Call>& call, redisReply* reply) {
  if (reply == nullptr) {
    lost(call, "lost connection");
    return;
  }
  if (reply->type != REDIS_REPLY_ERROR) {
    finish(call, reply, std::string());
    return;
  }
  const std::string_view error(reply->str, reply->len);
  if (error.starts_with("NOSCRIPT") && !call->noscript_retried) {
    call->noscript_retried = true;
    call->argv[0] = "EVAL";
    call->argv[1] = std::string(call->source);
    send(call, *call->node, false);
    return;
  }
  if (routing_ && call->redirects < kMaxRedirects) {
    if (auto redirect = parse_redirect(error)) {
      ++call->redirects;
      if (!redirect->ask) routing_->on_moved(*redirect);
      send(call, pool_.node(redirect->target), redirect->ask);
      return;
    }
  }
  if (routing_ && (error.starts_with("CLUSTERDOWN") || error.starts_with("TRYAGAIN"))) {
    routing_->refresh();
  }
  // Only the error's code: the rest may quote the command.
  finish(call, nullptr, "error reply " + std::string(error.substr(0, error.find(' '))));
}

void RedisSlotClient::lost(const std::shared_ptr<Call>& call, const std::string& why) {
  if (call->finished) return;
  if (call->node != nullptr) pool_.drop_connections(*call->node);
  if (routing_ && !call->rerouted) {
    // A master that died answers nothing: ask who serves the slot now and try once there.
    call->rerouted = true;
    RedisNode* failed = call->node;
    routing_->refresh_then([this, alive = std::weak_ptr<int>(alive_), call, failed, why] {
      if (alive.expired() || call->finished) return;
      RedisNode& node = node_for(call->slot);
      if (&node == failed) {
        finish(call, nullptr, why);
        return;
      }
      send(call, node, false);
    });
    return;
  }
  // Reported on a later turn: `lost` may run inside run_script's first send.
  asio::post(io_, [this, alive = std::weak_ptr<int>(alive_), call, why] {
    if (!alive.expired()) finish(call, nullptr, why);
  });
}

void RedisSlotClient::finish(const std::shared_ptr<Call>& call, const redisReply* reply,
                             const std::string& error) {
  if (call->finished) return;
  call->finished = true;
  call->timer.cancel();
  Done done = std::move(call->done);
  done(reply, error);
}

}  // namespace edgeguard
