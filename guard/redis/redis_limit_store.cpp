#include "guard/redis/redis_limit_store.h"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "guard/clock/clock.h"
#include "guard/redis/gcra_call.h"

namespace edgeguard {

namespace asio = boost::asio;

namespace {

constexpr int kMaxRedirects = 5;
// Completed requests kept for reuse (their vectors and strings keep their capacity).
constexpr std::size_t kSpareRequests = 64;
constexpr std::int64_t kDenyRetryAfterNs = 1'000'000'000;  // on_error: deny

std::int64_t to_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

struct RedisLimitStore::Group {
  enum class State { sent, parked, answered };
  // EVALSHA sha numkeys key... mode (T tau)... [bans]: the first `argc` strings. The rest are
  // kept for their capacity, from a longer command of a recycled request.
  std::vector<std::string> argv;
  std::size_t argc = 0;
  std::vector<int> call_index;  // position of each key in the request's calls
  int slot = 0;                 // hash slot of every key (0 standalone)
  RedisNode* node = nullptr;    // where it was last sent
  State state = State::sent;
  int redirects = 0;
  bool noscript_retried = false;
  bool rerouted = false;  // already retried once after a lost connection
  bool asking = false;    // last sent after an ASK redirect
  bool ban_step = false;  // the ban script on the bans' slot (Cluster), not a GCRA group
  GcraReply reply;
  // While its command is queued on a connection, the request (kept alive by this reference);
  // the reply callback gets the group and finds the request here.
  std::shared_ptr<Request> in_flight;
  std::size_t index = 0;  // in the request's groups

  // For reuse by a recycled request: the vectors and strings keep their capacity.
  void reset(std::size_t i) {
    call_index.clear();
    slot = 0;
    node = nullptr;
    state = State::sent;
    redirects = 0;
    noscript_retried = rerouted = asking = ban_step = false;
    reply = {};
    index = i;
  }
};

struct RedisLimitStore::Request {
  RedisLimitStore* store = nullptr;
  std::weak_ptr<int> alive;  // the store's
  std::span<const LimitCall> calls;
  std::int64_t now_ns = 0;
  bool dry_run = false;
  Completion done;
  std::vector<Group> groups;
  std::size_t outstanding = 0;
  bool completed = false;
  bool submitting = false;  // inside admit_async: completions must be posted, not run inline
  Clock::time_point sent, deadline;
  // Cluster: the groups denied with a ban order; the outcome waits for the ban step.
  std::optional<LimitOutcome> decided;
  int ban_call = -1;
};

RedisLimitStore::RedisLimitStore(asio::io_context& io, std::shared_ptr<RedisSharedState> shared,
                                 LimitStore* fallback, RedisBanMirror* bans)
    : io_(io),
      shared_(std::move(shared)),
      config_(shared_->config()),
      fallback_(fallback),
      bans_(bans),
      pool_(io, shared_->handshake(), config_.connections,
            Breaker(config_.failure_threshold, config_.probe_interval_ns),
            [counters = &shared_->counters()](RedisConnection& conn) {
              counters->connects.fetch_add(1, std::memory_order_relaxed);
              // Loaded ahead of the first EVALSHA on every new connection (a restarted Redis has
              // an empty script cache); NOSCRIPT then only follows a SCRIPT FLUSH.
              const std::string_view load[] = {"SCRIPT", "LOAD", gcra_script_source()};
              conn.command(load, nullptr);
              const std::string_view load_bans[] = {"SCRIPT", "LOAD", ban_script_source()};
              conn.command(load_bans, nullptr);
            }),
      timeout_timer_(io),
      probe_timer_(io) {
  if (shared_->cluster()) {
    routing_.emplace(pool_, shared_->slot_map(), shared_->seeds(), config_.probe_interval_ns);
    routing_->set_on_change([this] { release_idle_breakers(); });
    if (shared_->slot_map().generation() == 0) routing_->refresh();  // no thread asked yet
  } else {
    pool_.connection(pool_.node(shared_->seeds().front()));  // connect ahead of the first request
  }
}

RedisLimitStore::~RedisLimitStore() {
  // Callbacks that hiredis runs while the connections are freed must not come back here.
  alive_.reset();
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    if (pool_.at(i).breaker.open()) shared_->breaker_dropped();
  }
  routing_.reset();
}

std::size_t RedisLimitStore::in_flight() const {
  return static_cast<std::size_t>(
      std::count_if(pending_.begin(), pending_.end(), [](const auto& r) { return !r->completed; }));
}

// ---- request path ------------------------------------------------------------------------

std::optional<LimitOutcome> RedisLimitStore::try_admit(std::span<const LimitCall> calls,
                                                       std::int64_t now_ns, bool dry_run) {
  if (calls.empty()) return LimitOutcome{};
  DenyCache& cache = shared_->deny_cache();
  bool ask_redis = false;
  for (std::size_t i = 0; i < calls.size() && !ask_redis; ++i) {
    if (auto hit = cache.find(calls[i].key, calls[i].key_hash, now_ns)) {
      LimitOutcome out;
      if (const BanOrder* order = calls[i].ban; order != nullptr && !dry_run && bans_ != nullptr) {
        // A banning limit's denial answers with its ban. Banned subjects are refused before
        // the limits, so the mirror lacking it is a race (a ban just made elsewhere): Redis
        // says which ban is in force.
        const auto ban = bans_->table().find(order->subject, order->scope, now_ns);
        if (!ban) {
          ask_redis = true;
          continue;
        }
        out.ban_until_ns = ban->until_ns;
        out.ban_count = ban->count;
      }
      shared_->counters().deny_cache_hits.fetch_add(1, std::memory_order_relaxed);
      out.allowed = false;
      out.denied_index = static_cast<int>(i);
      out.retry_after_ns = hit->until_ns - now_ns;
      out.reset_ns = std::max<std::int64_t>(hit->reset_at_ns - now_ns, out.retry_after_ns);
      return out;
    }
  }
  if (open_breakers_ > 0 && routes_to_open_breaker(calls)) {
    return on_error_outcome(calls, now_ns, dry_run);
  }
  return std::nullopt;
}

bool RedisLimitStore::routes_to_open_breaker(std::span<const LimitCall> calls) {
  if (!routing_) return true;  // standalone: the one node
  routing_->sync();            // a newer map may route around the node, or release its breaker
  if (open_breakers_ == 0) return false;
  for (const LimitCall& call : calls) {
    const int slot = key_hash_slot(gcra_redis_key(config_.key_prefix, call.key));
    if (routing_->node_for_slot(slot).breaker.open()) return true;
  }
  return false;
}

std::shared_ptr<RedisLimitStore::Request> RedisLimitStore::recycled_request() {
  while (!spare_.empty()) {
    std::shared_ptr<Request> req = std::move(spare_.back());
    spare_.pop_back();
    // A late reply may still hold one (its group timed out): that one is left to it.
    if (req.use_count() == 1) return req;
  }
  auto req = std::make_shared<Request>();
  req->store = this;
  req->alive = alive_;
  return req;
}

void RedisLimitStore::retire_completed() {
  while (!pending_.empty() && pending_.front()->completed) {
    if (spare_.size() < kSpareRequests) spare_.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
}

void RedisLimitStore::admit_async(std::span<const LimitCall> calls, std::int64_t now_ns,
                                  bool dry_run, Completion done) {
  retire_completed();

  std::shared_ptr<Request> req = recycled_request();
  req->calls = calls;
  req->now_ns = now_ns;
  req->dry_run = dry_run;
  req->done = std::move(done);
  req->completed = false;
  req->sent = Clock::now();
  req->deadline = req->sent + std::chrono::nanoseconds(config_.timeout_ns);
  req->submitting = true;

  // Standalone: one script over every key, so the check-all-then-charge-all is exact. Cluster:
  // one script per hash slot (see README: a request denied in one slot is refunded in the
  // others after the fact).
  std::size_t groups = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    std::size_t g = 0;
    int slot = 0;
    if (shared_->cluster()) {
      gcra_redis_key(key_scratch_, config_.key_prefix, calls[i].key);
      slot = key_hash_slot(key_scratch_);
      while (g < groups && req->groups[g].slot != slot) ++g;
    }
    if (g == groups) {
      if (groups == req->groups.size()) req->groups.emplace_back();
      req->groups[g].reset(g);
      req->groups[g].slot = slot;
      ++groups;
    }
    req->groups[g].call_index.push_back(static_cast<int>(i));
  }
  req->groups.resize(groups);
  const GcraScriptMode mode = dry_run ? GcraScriptMode::dry_run : GcraScriptMode::charge;
  // Standalone: the ban orders ride in the one script. Cluster: the bans' slot is not the
  // buckets', so a denial that bans takes one more script (finish()).
  GcraBanSection& bans = ban_section_scratch_;
  bans.keys = &shared_->ban_keys();
  bans.max_active = config_.bans_max_active;
  for (Group& group : req->groups) {
    keys_scratch_.clear();
    rates_scratch_.clear();
    bans.orders.clear();
    for (std::size_t k = 0; k < group.call_index.size(); ++k) {
      const LimitCall& call = calls[static_cast<std::size_t>(group.call_index[k])];
      keys_scratch_.push_back(call.key);
      rates_scratch_.push_back(call.rate);
      if (call.ban != nullptr && !dry_run && !shared_->cluster()) {
        bans.orders.push_back({k, call.ban});
      }
    }
    group.argc = gcra_evalsha_argv(group.argv, config_.key_prefix, keys_scratch_, rates_scratch_,
                                   mode, &bans);
  }
  req->groups.reserve(req->groups.size() + 1);  // room for a ban step
  req->outstanding = req->groups.size();
  pending_.push_back(req);
  arm_timeout();
  if (routing_) routing_->sync();
  for (std::size_t g = 0; g < req->groups.size() && !req->completed; ++g) {
    RedisNode& node = routing_ ? routing_->node_for_slot(req->groups[g].slot) : pool_.at(0);
    send_group(req, g, node, false);
  }
  req->submitting = false;
}

void RedisLimitStore::send_group(const std::shared_ptr<Request>& req, std::size_t g,
                                 RedisNode& node, bool asking) {
  Group& group = req->groups[g];
  group.node = &node;
  group.asking = asking;
  group.state = Group::State::sent;
  RedisConnection* conn = pool_.connection(node);
  if (conn == nullptr) {
    group_lost(req, g, "cannot connect");
    return;
  }
  if (asking) {
    const std::string_view argv[] = {"ASKING"};
    conn->command(argv, nullptr);
  }
  argv_scratch_.assign(group.argv.begin(),
                       group.argv.begin() + static_cast<std::ptrdiff_t>(group.argc));
  shared_->counters().commands.fetch_add(1, std::memory_order_relaxed);
  group.in_flight = req;
  if (!conn->command<&RedisLimitStore::on_group_reply_raw>(argv_scratch_, &group)) {
    group.in_flight.reset();
    group_lost(req, g, "cannot send");
  }
}

void RedisLimitStore::on_group_reply_raw(void* context, redisReply* reply) {
  auto* group = static_cast<Group*>(context);
  // The group's reference may be the request's last: held here until the reply is handled.
  const std::shared_ptr<Request> req = std::move(group->in_flight);
  if (req->alive.expired()) return;  // the store is being destroyed
  req->store->on_group_reply(req, group->index, reply);
}

void RedisLimitStore::on_group_reply(const std::shared_ptr<Request>& req, std::size_t g,
                                     redisReply* reply) {
  // A late answer (after the timeout already applied on_error) proves nothing about Redis
  // being healthy, so it must not reset the failure count either.
  if (req->completed) return;
  Group& group = req->groups[g];
  RedisCounters& counters = shared_->counters();
  if (reply == nullptr) {
    group_lost(req, g, "lost connection");
    return;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    const std::string_view error(reply->str, reply->len);
    if (error.starts_with("NOSCRIPT") && !group.noscript_retried) {
      // Redis restarted or SCRIPT FLUSH: EVAL runs the script and caches it again, so the
      // following EVALSHAs succeed.
      group.noscript_retried = true;
      if (group.ban_step) {
        ban_argv_to_eval(group.argv);
      } else {
        gcra_argv_to_eval(group.argv);
      }
      send_group(req, g, *group.node, group.asking);
      return;
    }
    if (routing_ && group.redirects < kMaxRedirects) {
      if (auto redirect = parse_redirect(error)) {
        ++group.redirects;
        if (redirect->ask) {
          counters.ask.fetch_add(1, std::memory_order_relaxed);
        } else {
          counters.moved.fetch_add(1, std::memory_order_relaxed);
          routing_->on_moved(*redirect);
        }
        send_group(req, g, pool_.node(redirect->target), redirect->ask);
        return;
      }
    }
    if (routing_ && (error.starts_with("CLUSTERDOWN") || error.starts_with("TRYAGAIN"))) {
      // A live node answering at once about the cluster (a master is down and not replaced
      // yet, a slot is mid-migration): not this node's failure. The map may be changing.
      routing_->refresh();
    } else {
      // Only the error's code: the rest may quote the command, keys included.
      node_failed(*group.node, "error reply " + std::string(error.substr(0, error.find(' '))));
    }
    fail(req, Failure::error);
    return;
  }
  if (group.ban_step) {
    const auto ban = parse_ban_step_reply(reply);
    if (!ban) {
      node_failed(*group.node, "malformed reply");
      fail(req, Failure::error);
      return;
    }
    group.state = Group::State::answered;
    group.node->breaker.record_success();
    LimitOutcome out = *req->decided;
    apply_ban(*req, *req->calls[static_cast<std::size_t>(req->ban_call)].ban, *ban, out);
    complete(req, out);
    return;
  }
  auto verdict = parse_gcra_reply(reply, group.call_index.size());
  if (!verdict) {
    node_failed(*group.node, "malformed reply");
    fail(req, Failure::error);
    return;
  }
  group.reply = *verdict;
  group.state = Group::State::answered;
  group.node->breaker.record_success();
  if (--req->outstanding == 0) finish(req);
}

void RedisLimitStore::group_lost(const std::shared_ptr<Request>& req, std::size_t g,
                                 const char* why) {
  if (req->completed) return;
  Group& group = req->groups[g];
  RedisNode& node = *group.node;
  if (routing_ && !group.rerouted) {
    // A master that died answers nothing, MOVED least of all: ask the cluster who serves the
    // slot now and try once more there (a replica promoted in its place).
    group.rerouted = true;
    group.state = Group::State::parked;
    routing_->refresh_then([this, alive = std::weak_ptr<int>(alive_), req, g, failed = &node] {
      if (!alive.expired()) reroute(req, g, *failed);
    });
    node_failed(node, why);
    return;
  }
  node_failed(node, why);
  fail(req, Failure::error);
}

void RedisLimitStore::reroute(const std::shared_ptr<Request>& req, std::size_t g,
                              RedisNode& failed) {
  if (req->completed) return;
  routing_->sync();
  RedisNode& node = routing_->node_for_slot(req->groups[g].slot);
  if (&node == &failed || node.breaker.open()) {
    fail(req, Failure::error);  // not failed over (yet): on_error answers
    return;
  }
  send_group(req, g, node, false);
}

void RedisLimitStore::finish(const std::shared_ptr<Request>& req) {
  shared_->observe_latency(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - req->sent).count());

  LimitOutcome out;
  const Group* denier = nullptr;
  int denied_call = -1;
  const Group* tightest = nullptr;
  for (const Group& group : req->groups) {
    if (!group.reply.allowed) {
      const int call = group.call_index[static_cast<std::size_t>(group.reply.denied)];
      if (denier == nullptr || call < denied_call) {
        denier = &group;
        denied_call = call;
      }
    } else if (tightest == nullptr || group.reply.remaining < tightest->reply.remaining) {
      tightest = &group;
    }
  }
  if (denier != nullptr) {
    out.allowed = false;
    out.denied_index = denied_call;
    out.retry_after_ns = denier->reply.retry_after_ns;
    out.remaining = 0;
    out.reset_ns = denier->reply.reset_ns;
    const LimitCall& call = req->calls[static_cast<std::size_t>(denied_call)];
    shared_->deny_cache().insert(call.key, call.key_hash,
                                 {req->now_ns + out.retry_after_ns, req->now_ns + out.reset_ns},
                                 req->now_ns);
    if (!req->dry_run) {
      for (const Group& group : req->groups) {
        if (group.reply.allowed) send_refund(group);
      }
      if (call.ban != nullptr) {
        if (denier->reply.ban.state != BanStep::none) {
          apply_ban(*req, *call.ban, denier->reply.ban, out);
        } else if (shared_->cluster()) {
          start_ban_step(req, denied_call, out);
          return;
        }
      }
    }
  } else if (tightest != nullptr) {
    out.remaining = tightest->reply.remaining;
    out.reset_ns = tightest->reply.reset_ns;
  }
  complete(req, out);
}

void RedisLimitStore::start_ban_step(const std::shared_ptr<Request>& req, int call,
                                     const LimitOutcome& decided) {
  // Only a denial whose limit bans gets here, and a banned subject is refused before its
  // limits: about one extra script per ban, not per request.
  req->decided = decided;
  req->ban_call = call;
  routing_->sync();
  RedisNode& node = routing_->node_for_slot(shared_->ban_keys().slot());
  if (node.breaker.open()) {
    LimitOutcome out = decided;
    ban_here(*req, out);
    complete(req, out);
    return;
  }
  Group step;
  step.index = req->groups.size();  // the reply finds its group by this
  step.ban_step = true;
  step.slot = shared_->ban_keys().slot();
  step.argv = ban_order_argv(shared_->ban_keys(), *req->calls[static_cast<std::size_t>(call)].ban,
                             config_.bans_max_active);
  step.argc = step.argv.size();
  req->groups.push_back(std::move(step));
  req->outstanding = 1;
  send_group(req, req->groups.size() - 1, node, false);
}

void RedisLimitStore::apply_ban(const Request& req, const BanOrder& order,
                                const BanStepReply& reply, LimitOutcome& out) {
  if (reply.state != BanStep::made && reply.state != BanStep::in_force) return;  // refused
  out.ban_until_ns = req.now_ns + reply.left_ns;
  out.ban_count = reply.count;
  out.ban_made = reply.state == BanStep::made;
  if (bans_ == nullptr) return;
  Ban ban{std::string(order.subject), std::string(order.scope),
          out.ban_until_ns,           reply.count,
          std::string(order.reason),  order.source};
  const std::int64_t now = monotonic_ns();
  const std::int64_t asked = to_ns(req.sent);
  if (out.ban_made) {
    bans_->made(std::move(ban), now, asked);
  } else {
    // Made by another replica, its message not here yet: held until the message replaces it.
    bans_->learned(std::move(ban), now, asked);
  }
}

void RedisLimitStore::ban_here(const Request& req, LimitOutcome& out) {
  // Redis denied but its ban step failed: the denial stands, and the local fallback's bans
  // make the ban (this process only; kept until it ends, as any fallback ban).
  if (bans_ == nullptr) return;
  const LocalBans::Result made =
      bans_->local().make(*req.calls[static_cast<std::size_t>(req.ban_call)].ban, req.now_ns);
  out.ban_until_ns = made.until_ns;
  out.ban_count = made.count;
  out.ban_made = made.made;
}

void RedisLimitStore::reset(std::span<const LimitCall> calls) {
  // One DEL per key (each on the node of its slot); fire and forget, like a refund. The local
  // fallback forgets them too, in case it answered for them during an outage.
  if (fallback_ != nullptr) fallback_->reset(calls);
  if (routing_) routing_->sync();
  for (const LimitCall& call : calls) {
    const std::string key = gcra_redis_key(config_.key_prefix, call.key);
    RedisNode& node = routing_ ? routing_->node_for_slot(key_hash_slot(key)) : pool_.at(0);
    if (node.breaker.open()) continue;
    if (RedisConnection* conn = pool_.connection(node)) {
      const std::string_view argv[] = {"DEL", key};
      conn->command(argv, nullptr);
    }
  }
}

void RedisLimitStore::send_refund(const Group& group) {
  if (group.node == nullptr) return;
  RedisConnection* conn = pool_.connection(*group.node);
  if (conn == nullptr) return;
  std::vector<std::string_view>& argv = argv_scratch_;
  argv.assign(group.argv.begin(), group.argv.begin() + static_cast<std::ptrdiff_t>(group.argc));
  argv[0] = "EVALSHA";
  argv[1] = gcra_script_sha1();
  const std::string mode = std::to_string(static_cast<int>(GcraScriptMode::refund));
  argv[gcra_mode_arg_of(group.argv)] = mode;
  conn->command(argv, nullptr);  // best effort: a lost refund over-counts one request
}

void RedisLimitStore::fail(const std::shared_ptr<Request>& req, Failure why) {
  if (req->completed) return;
  RedisCounters& counters = shared_->counters();
  (why == Failure::timeout ? counters.timeouts : counters.errors)
      .fetch_add(1, std::memory_order_relaxed);
  if (req->decided) {
    LimitOutcome out = *req->decided;
    ban_here(*req, out);
    complete(req, out);
    return;
  }
  const LimitOutcome out = on_error_outcome(req->calls, req->now_ns, req->dry_run);
  complete(req, out);
}

void RedisLimitStore::complete(const std::shared_ptr<Request>& req, const LimitOutcome& outcome) {
  req->completed = true;
  if (req->submitting) {
    // The contract promises the completion on the event loop, never inside admit_async.
    asio::post(io_, [req, outcome] {
      const Completion done = std::move(req->done);
      done(outcome);
    });
    return;
  }
  // Moved out first: a recycled request must not keep its caller's completion alive.
  const Completion done = std::move(req->done);
  done(outcome);
}

LimitOutcome RedisLimitStore::on_error_outcome(std::span<const LimitCall> calls,
                                               std::int64_t now_ns, bool dry_run) {
  shared_->counters().fallback_answers.fetch_add(1, std::memory_order_relaxed);
  LimitOutcome out;
  switch (config_.on_error) {
    case RedisStoreConfig::OnError::local:
      if (fallback_ != nullptr) {
        if (auto local = fallback_->try_admit(calls, now_ns, dry_run)) {
          out = *local;
        }
      }
      break;
    case RedisStoreConfig::OnError::allow:
      break;
    case RedisStoreConfig::OnError::deny:
      out.allowed = false;
      out.denied_index = 0;
      out.retry_after_ns = kDenyRetryAfterNs;
      out.reset_ns = kDenyRetryAfterNs;
      break;
  }
  out.from_fallback = true;
  return out;
}

// ---- timeouts, breaker, probe -------------------------------------------------------------

void RedisLimitStore::arm_timeout() {
  if (timeout_armed_ || pending_.empty()) return;
  timeout_armed_ = true;
  timeout_timer_.expires_at(pending_.front()->deadline);
  timeout_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code&) {
        if (alive.expired()) return;
        timeout_armed_ = false;
        sweep_timeouts();
      });
}

void RedisLimitStore::sweep_timeouts() {
  const auto now = Clock::now();
  while (!pending_.empty()) {
    if (pending_.front()->completed) {
      if (spare_.size() < kSpareRequests) spare_.push_back(std::move(pending_.front()));
      pending_.pop_front();
      continue;
    }
    if (pending_.front()->deadline > now) break;
    auto req = std::move(pending_.front());
    pending_.pop_front();
    fail(req, Failure::timeout);
    // Its command is still queued: recycled_request() leaves it alone until the reply comes.
    if (spare_.size() < kSpareRequests) spare_.push_back(req);
    // Each node that left a group unanswered failed once, however many groups it had.
    std::vector<RedisNode*> slow;
    for (const Group& group : req->groups) {
      if (group.state == Group::State::sent &&
          std::find(slow.begin(), slow.end(), group.node) == slow.end()) {
        slow.push_back(group.node);
      }
    }
    for (RedisNode* node : slow) node_failed(*node, "timeout");
  }
  arm_timeout();
}

void RedisLimitStore::node_failed(RedisNode& node, const std::string& why) {
  if (!node.breaker.record_failure(to_ns(Clock::now()))) return;
  ++open_breakers_;
  shared_->breaker_opened(node.endpoint.text() + ": " + why);
  // Commands still queued on a stalled connection would charge buckets for requests that were
  // already answered; drop them with the connection.
  pool_.drop_connections(node);
  schedule_probe();
}

void RedisLimitStore::close_breaker(RedisNode& node, const std::string& why) {
  if (!node.breaker.record_probe_answer()) return;
  --open_breakers_;
  shared_->breaker_closed(node.endpoint.text() + ": " + why);
}

void RedisLimitStore::release_idle_breakers() {
  // After a failover the dead master serves nothing: no request waits on it any more, so its
  // breaker no longer stands for an on_error answer (edgeguard_store_fallback_active).
  if (open_breakers_ == 0) return;
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    RedisNode& node = pool_.at(i);
    if (node.breaker.open() && !routing_->is_master(node.endpoint)) {
      close_breaker(node, "serves no slot any more");
    }
  }
}

void RedisLimitStore::schedule_probe() {
  std::int64_t due = INT64_MAX;
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    const Breaker& b = pool_.at(i).breaker;
    if (b.open()) due = std::min(due, b.next_probe_ns());
  }
  if (due == INT64_MAX) return;
  probe_timer_.expires_at(Clock::time_point(std::chrono::nanoseconds(due)));
  probe_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired()) return;
        probe();
      });
}

void RedisLimitStore::probe() {
  if (routing_) {
    // While a node is out, its slots may be moving to a replica: look again.
    routing_->sync();
    release_idle_breakers();
    if (open_breakers_ > 0) routing_->refresh();
  }
  const std::int64_t now = to_ns(Clock::now());
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    RedisNode& node = pool_.at(i);
    if (!node.breaker.take_probe(now)) continue;
    // A probe not answered within one interval failed: start over on a fresh connection (a
    // stopped Redis still accepts TCP connections into its backlog).
    pool_.drop_connections(node);
    RedisConnection* conn = pool_.connection(node);
    if (conn == nullptr) continue;
    const std::string_view argv[] = {"PING"};
    conn->command(argv, [this, alive = std::weak_ptr<int>(alive_), &node](redisReply* reply) {
      if (alive.expired() || reply == nullptr || reply->type == REDIS_REPLY_ERROR) return;
      close_breaker(node, "answers again");
    });
  }
  schedule_probe();
}

}  // namespace edgeguard
