#include "guard/redis/redis_ban_sync.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <limits>

#include "guard/clock/clock.h"
#include "guard/redis/ban_script.h"

namespace edgeguard {

namespace asio = boost::asio;

void BanSyncCounters::write(MetricsWriter& w, const BanSyncCounters* c) {
  const auto get = [c](std::atomic<std::uint64_t> BanSyncCounters::*field) {
    return c != nullptr ? static_cast<double>((c->*field).load(std::memory_order_relaxed)) : 0.0;
  };
  w.counter("edgeguard_redis_ban_messages_total",
            "Ban and unban messages received on the Redis bans channel.",
            get(&BanSyncCounters::messages));
  w.family("edgeguard_redis_ban_resyncs_total", "counter",
           "Full resyncs of the bans held in Redis, by result.");
  w.sample(get(&BanSyncCounters::resyncs), "result=\"ok\"");
  w.sample(get(&BanSyncCounters::resync_errors), "result=\"error\"");
  w.counter("edgeguard_redis_ban_repairs_total",
            "Bans a resync added or lifted because their message was missed.",
            get(&BanSyncCounters::repairs));
  w.counter("edgeguard_redis_pubsub_connects_total",
            "Subscriptions to the Redis bans channel (the first and one after each loss).",
            get(&BanSyncCounters::subscriptions));
}

RedisBanSync::RedisBanSync(asio::io_context& io, std::shared_ptr<RedisSharedState> shared,
                           RedisBanMirror& mirror,
                           std::function<void(bool, const std::string&)> on_channel)
    : io_(io),
      shared_(std::move(shared)),
      mirror_(mirror),
      on_channel_(std::move(on_channel)),
      client_(io, shared_, shared_->config().ban_command_timeout_ns),
      subscribe_timer_(io),
      resync_timer_(io) {}

RedisBanSync::~RedisBanSync() {
  alive_.reset();
  channel_conn_.reset();  // its handler runs once more with nullptr: ignored (alive_ gone)
}

void RedisBanSync::start() {
  stopped_ = false;
  subscribe_next();
  arm_resync_timer();
}

void RedisBanSync::stop() {
  stopped_ = true;
  subscribe_timer_.cancel();
  resync_timer_.cancel();
  ++channel_generation_;  // its last answer (nullptr, as it is freed) is ignored
  subscribed_ = false;
  channel_conn_.reset();  // freed now: stop() runs from the drain, never inside its handler
}

// ---- the channel --------------------------------------------------------------------------

void RedisBanSync::subscribe_next() {
  if (stopped_) return;
  // Where to listen: the configured nodes, then (Cluster) every node of the slot map.
  std::vector<RedisEndpoint> nodes = shared_->seeds();
  if (shared_->cluster()) {
    const auto map = shared_->slot_map().get();
    for (const auto* list : {&map->masters, &map->replicas}) {
      for (const RedisEndpoint& e : *list) {
        if (std::find(nodes.begin(), nodes.end(), e) == nodes.end()) nodes.push_back(e);
      }
    }
  }
  const RedisEndpoint node = nodes[rotation_ % nodes.size()];
  const std::uint64_t generation = ++channel_generation_;
  if (channel_conn_) {
    // Freed on a later turn: this may run inside the old connection's handler.
    asio::post(io_, [old = std::shared_ptr<RedisConnection>(std::move(channel_conn_))] {});
  }
  channel_conn_ = std::make_unique<RedisConnection>(io_, node, shared_->handshake());
  const bool sent = channel_conn_->subscribe(
      shared_->ban_keys().channel(),
      [this, alive = std::weak_ptr<int>(alive_), generation](redisReply* reply) {
        if (!alive.expired()) on_channel_reply(generation, reply);
      });
  if (!sent) {
    channel_lost("cannot connect to " + node.text());
    return;
  }
  // A stopped Redis still accepts the TCP connection: no confirmation in time is a failure.
  subscribe_timer_.expires_after(std::chrono::nanoseconds(shared_->config().connect_timeout_ns));
  subscribe_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_), generation,
                               node](const boost::system::error_code& ec) {
    if (ec || alive.expired() || generation != channel_generation_ || subscribed_) return;
    channel_lost("no answer from " + node.text());
  });
}

void RedisBanSync::on_channel_reply(std::uint64_t generation, redisReply* reply) {
  if (generation != channel_generation_ || stopped_) return;
  if (reply == nullptr) {
    channel_lost("connection to " + channel_conn_->endpoint().text() + " lost");
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 || reply->element[0] == nullptr ||
      reply->element[0]->type != REDIS_REPLY_STRING) {
    return;  // an error reply (AUTH refused ends the connection: nullptr follows)
  }
  const std::string_view kind(reply->element[0]->str, reply->element[0]->len);
  if (kind == "subscribe") {
    subscribed_ = true;
    subscribe_timer_.cancel();
    counters_.subscriptions.fetch_add(1, std::memory_order_relaxed);
    if (on_channel_) on_channel_(true, channel_conn_->endpoint().text());
    resync();  // what was published while nobody here listened
  } else if (kind == "message" && reply->element[2] != nullptr &&
             reply->element[2]->type == REDIS_REPLY_STRING) {
    on_message({reply->element[2]->str, reply->element[2]->len});
  }
}

void RedisBanSync::channel_lost(const std::string& why) {
  const bool was_up = subscribed_;
  subscribed_ = false;
  ++channel_generation_;
  ++rotation_;
  if (was_up && on_channel_) on_channel_(false, why);
  schedule_subscribe();
}

void RedisBanSync::schedule_subscribe() {
  if (stopped_) return;
  subscribe_timer_.expires_after(std::chrono::nanoseconds(shared_->config().probe_interval_ns));
  subscribe_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired()) return;
        subscribe_next();
      });
}

void RedisBanSync::on_message(std::string_view payload) {
  counters_.messages.fetch_add(1, std::memory_order_relaxed);
  const auto message = parse_ban_message(payload);
  if (!message) return;
  const std::int64_t now = monotonic_ns();
  if (message->kind == BanMessage::Kind::unban) {
    mirror_.lift(message->record.subject, now, false);
    return;
  }
  BanRecord r = message->record;
  // Messages arrive in the order the bans' node published them: an unban before it is older.
  mirror_.learned(Ban{std::move(r.subject), std::move(r.scope), now + message->left_ns, r.count,
                      std::move(r.reason), r.source},
                  now, RedisBanMirror::kNewest);
}

// ---- resync --------------------------------------------------------------------------------

void RedisBanSync::arm_resync_timer() {
  if (stopped_) return;
  resync_timer_.expires_after(std::chrono::nanoseconds(shared_->config().ban_resync_interval_ns));
  resync_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired()) return;
        resync();
        arm_resync_timer();
      });
}

void RedisBanSync::resync() {
  if (stopped_) return;
  if (resyncing_) {
    resync_again_ = true;  // e.g. re-subscribed while one was running: run once more after
    return;
  }
  resyncing_ = true;
  resync_started_ns_ = monotonic_ns();
  resync_page("0");
}

void RedisBanSync::resync_page(const std::string& cursor) {
  const BanKeys& keys = shared_->ban_keys();
  const std::int64_t asked = monotonic_ns();
  client_.run_script(keys.slot(), resync_argv(keys, cursor, kResyncPage), ban_script_source(),
                     [this, alive = std::weak_ptr<int>(alive_), asked](const redisReply* reply,
                                                                       const std::string& error) {
                       if (alive.expired()) return;
                       auto page = error.empty() ? parse_resync_reply(reply) : std::nullopt;
                       if (!page || stopped_) {
                         end_resync(false);
                         return;
                       }
                       const std::int64_t now = monotonic_ns();
                       BanTable& table = mirror_.table();
                       for (auto& [record, left_ms] : page->bans) {
                         const auto held = table.get(record.subject, record.scope);
                         if (!held || held->confirmed_ns == 0 || held->until_ns <= now) {
                           counters_.repairs.fetch_add(1, std::memory_order_relaxed);
                         }
                         mirror_.learned(Ban{std::move(record.subject), std::move(record.scope),
                                             now + left_ms * 1'000'000, record.count,
                                             std::move(record.reason), record.source},
                                         now, asked);
                       }
                       if (page->cursor != "0") {
                         resync_page(page->cursor);
                         return;
                       }
                       const std::size_t dropped =
                           mirror_.drop_unconfirmed(resync_started_ns_, now);
                       counters_.repairs.fetch_add(dropped, std::memory_order_relaxed);
                       end_resync(true);
                     });
}

void RedisBanSync::end_resync(bool ok) {
  (ok ? counters_.resyncs : counters_.resync_errors).fetch_add(1, std::memory_order_relaxed);
  resyncing_ = false;
  if (resync_again_) {
    resync_again_ = false;
    resync();
  }
}

// ---- the admin API -------------------------------------------------------------------------

void RedisBanSync::ban(std::string subject, std::string route, std::int64_t for_ns,
                       const Escalation& escalation, BanDone done) {
  const BanKeys& keys = shared_->ban_keys();
  const std::int64_t asked = monotonic_ns();
  auto argv =
      manual_ban_argv(keys, subject, route, for_ns, escalation, shared_->config().bans_max_active);
  client_.run_script(
      keys.slot(), std::move(argv), ban_script_source(),
      [this, alive = std::weak_ptr<int>(alive_), subject = std::move(subject),
       route = std::move(route), asked,
       done = std::move(done)](const redisReply* reply, const std::string& error) mutable {
        if (alive.expired()) return;
        if (!error.empty()) return done(std::nullopt, "redis: " + error);
        const auto step = parse_ban_step_reply(reply);
        if (!step) return done(std::nullopt, "redis: malformed reply");
        if (step->state != BanStep::made) {
          return done(std::nullopt, "bans.max_active bans that end later are held already");
        }
        Ban ban{std::move(subject), std::move(route), asked + step->left_ns,
                step->count,        "manual",         BanSource::manual};
        mirror_.made(ban, monotonic_ns(), asked);
        done(std::move(ban), std::string());
      });
}

void RedisBanSync::unban(std::string subject, UnbanDone done) {
  const BanKeys& keys = shared_->ban_keys();
  auto argv = unban_argv(keys, subject);
  client_.run_script(
      keys.slot(), std::move(argv), ban_script_source(),
      [this, alive = std::weak_ptr<int>(alive_), subject = std::move(subject),
       done = std::move(done)](const redisReply* reply, const std::string& error) mutable {
        if (alive.expired()) return;
        if (!error.empty()) return done(0, "redis: " + error);
        const auto lifted = parse_unban_reply(reply);
        if (!lifted) return done(0, "redis: malformed reply");
        done(mirror_.lift(subject, monotonic_ns(), true, static_cast<std::size_t>(*lifted)),
             std::string());
      });
}

}  // namespace edgeguard
