#include "guard/redis/redis_limit_store.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <fstream>
#include <sstream>

#include "guard/redis/gcra_script.h"

namespace edgeguard {

namespace asio = boost::asio;

namespace {

constexpr int kMaxRedirects = 5;
constexpr std::int64_t kDenyRetryAfterNs = 1'000'000'000;  // on_error: deny
constexpr auto kMinRefreshInterval = std::chrono::milliseconds(50);

bool read_secret(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "redis: cannot read password_file " + path;
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  // Secrets files usually end with a newline that is not part of the password.
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  *out = std::move(secret);
  return true;
}

}  // namespace

struct RedisLimitStore::Node {
  RedisEndpoint endpoint;
  std::vector<std::unique_ptr<RedisConnection>> conns;
  std::size_t next = 0;
};

struct RedisLimitStore::Group {
  std::vector<std::string> argv;  // EVALSHA sha numkeys key... mode (T tau)...
  std::vector<int> call_index;    // position of each key in the request's calls
  Node* node = nullptr;           // where it was last sent
  int redirects = 0;
  bool noscript_retried = false;
  bool asking = false;  // last sent after an ASK redirect
  bool answered = false;
  bool allowed = true;
  int denied = -1;  // index into call_index
  std::int64_t retry_after_ns = 0, remaining = 0, reset_ns = 0;
};

struct RedisLimitStore::Request {
  std::span<const LimitCall> calls;
  std::int64_t now_ns = 0;
  bool dry_run = false;
  Completion done;
  std::vector<Group> groups;
  std::size_t outstanding = 0;
  bool completed = false;
  bool submitting = false;  // inside admit_async: completions must be posted, not run inline
  Clock::time_point sent, deadline;
};

std::shared_ptr<RedisSharedState> RedisSharedState::create(RedisStoreConfig config,
                                                           std::string* error) {
  std::vector<RedisEndpoint> seeds;
  const bool cluster = !config.nodes.empty();
  if (cluster) {
    for (const std::string& node : config.nodes) {
      auto endpoint = parse_redis_endpoint(node);
      if (!endpoint) {
        *error = "redis: bad node address '" + node + "' (want host:port)";
        return nullptr;
      }
      seeds.push_back(std::move(*endpoint));
    }
    if (config.db != 0) {
      *error = "redis: db must be 0 with a Redis Cluster (nodes)";
      return nullptr;
    }
  } else {
    auto endpoint = parse_redis_endpoint(config.address);
    if (!endpoint) {
      *error = "redis: bad address '" + config.address + "' (want host:port)";
      return nullptr;
    }
    seeds.push_back(std::move(*endpoint));
  }
  if (config.key_prefix.find_first_of("{}") != std::string::npos) {
    *error = "redis: key prefix must not contain '{' or '}' (they choose the hash slot)";
    return nullptr;
  }
  if (config.timeout_ns <= 0 || config.connections < 1 || config.failure_threshold < 1 ||
      config.probe_interval_ns <= 0 || config.connect_timeout_ns <= 0) {
    *error = "redis: timeout, connections, failure threshold and probe interval must be positive";
    return nullptr;
  }
  RedisHandshake handshake;
  handshake.username = config.username;
  handshake.db = config.db;
  handshake.connect_timeout_ns = config.connect_timeout_ns;
  if (!config.password_file.empty() &&
      !read_secret(config.password_file, &handshake.password, error)) {
    return nullptr;
  }
  return std::make_shared<RedisSharedState>(std::move(config), std::move(seeds),
                                            std::move(handshake));
}

RedisSharedState::RedisSharedState(RedisStoreConfig config, std::vector<RedisEndpoint> seeds,
                                   RedisHandshake handshake)
    : config_(std::move(config)),
      seeds_(std::move(seeds)),
      handshake_(std::move(handshake)),
      deny_cache_(config_.deny_cache_entries) {}

void RedisSharedState::set_observers(std::function<void(std::int64_t)> latency,
                                     std::function<void(bool, const std::string&)> breaker) {
  on_latency_ = std::move(latency);
  on_breaker_ = std::move(breaker);
}

RedisLimitStore::RedisLimitStore(asio::io_context& io, std::shared_ptr<RedisSharedState> shared,
                                 LimitStore* fallback)
    : io_(io),
      shared_(std::move(shared)),
      config_(shared_->config()),
      fallback_(fallback),
      timeout_timer_(io),
      probe_timer_(io) {
  for (const RedisEndpoint& seed : shared_->seeds_) node_for(seed);
  if (shared_->cluster()) {
    refresh_slots();
  } else {
    connection_for(*nodes_.front());  // connect ahead of the first request
  }
}

RedisLimitStore::~RedisLimitStore() {
  // Callbacks that hiredis runs while the connections are freed must not come back here.
  alive_.reset();
  if (breaker_open_) shared_->open_breakers_.fetch_sub(1, std::memory_order_relaxed);
  nodes_.clear();
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
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (auto hit = cache.find(calls[i].key, calls[i].key_hash, now_ns)) {
      shared_->counters().deny_cache_hits.fetch_add(1, std::memory_order_relaxed);
      LimitOutcome out;
      out.allowed = false;
      out.denied_index = static_cast<int>(i);
      out.retry_after_ns = hit->until_ns - now_ns;
      out.reset_ns = std::max<std::int64_t>(hit->reset_at_ns - now_ns, out.retry_after_ns);
      return out;
    }
  }
  if (breaker_open_) return on_error_outcome(calls, now_ns, dry_run);
  return std::nullopt;
}

void RedisLimitStore::admit_async(std::span<const LimitCall> calls, std::int64_t now_ns,
                                  bool dry_run, Completion done) {
  while (!pending_.empty() && pending_.front()->completed) pending_.pop_front();

  auto req = std::make_shared<Request>();
  req->calls = calls;
  req->now_ns = now_ns;
  req->dry_run = dry_run;
  req->done = std::move(done);
  req->sent = Clock::now();
  req->deadline = req->sent + std::chrono::nanoseconds(config_.timeout_ns);
  req->submitting = true;

  // Standalone: one script over every key, so the check-all-then-charge-all is exact. Cluster:
  // one script per hash slot (see README: a request denied in one slot is refunded in the
  // others after the fact).
  const std::string mode =
      std::to_string(static_cast<int>(dry_run ? GcraScriptMode::dry_run : GcraScriptMode::charge));
  std::vector<int> slot_of_group;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    std::string key;
    key.reserve(config_.key_prefix.size() + calls[i].key.size() + 2);
    key.append(config_.key_prefix).append("{").append(calls[i].key).append("}");
    std::size_t g = 0;
    const int slot = shared_->cluster() ? key_hash_slot(key) : 0;
    while (g < slot_of_group.size() && slot_of_group[g] != slot) ++g;
    if (g == slot_of_group.size()) {
      slot_of_group.push_back(slot);
      req->groups.emplace_back();
    }
    Group& group = req->groups[g];
    group.call_index.push_back(static_cast<int>(i));
    group.argv.push_back(std::move(key));  // keys first; the header is added below
  }
  for (std::size_t g = 0; g < req->groups.size(); ++g) {
    Group& group = req->groups[g];
    std::vector<std::string> argv;
    argv.reserve(4 + 3 * group.call_index.size());
    argv.emplace_back("EVALSHA");
    argv.emplace_back(gcra_script_sha1());
    argv.push_back(std::to_string(group.call_index.size()));
    for (std::string& key : group.argv) argv.push_back(std::move(key));
    argv.push_back(mode);
    for (int i : group.call_index) {
      argv.push_back(std::to_string(calls[static_cast<std::size_t>(i)].rate.emission_ns));
      argv.push_back(std::to_string(calls[static_cast<std::size_t>(i)].rate.tolerance_ns));
    }
    group.argv = std::move(argv);
  }
  req->outstanding = req->groups.size();
  pending_.push_back(req);
  arm_timeout();
  for (std::size_t g = 0; g < req->groups.size() && !req->completed; ++g) {
    Node& node = shared_->cluster() ? node_for_slot(slot_of_group[g]) : *nodes_.front();
    send_group(req, g, node, false);
  }
  req->submitting = false;
}

void RedisLimitStore::send_group(const std::shared_ptr<Request>& req, std::size_t g, Node& node,
                                 bool asking) {
  Group& group = req->groups[g];
  group.node = &node;
  group.asking = asking;
  RedisConnection* conn = connection_for(node);
  if (conn == nullptr) {
    fail(req, Failure::error);
    return;
  }
  if (asking) {
    const std::string_view argv[] = {"ASKING"};
    conn->command(argv, nullptr);
  }
  std::vector<std::string_view> argv(group.argv.begin(), group.argv.end());
  shared_->counters().commands.fetch_add(1, std::memory_order_relaxed);
  const bool queued =
      conn->command(argv, [this, alive = std::weak_ptr<int>(alive_), req, g](redisReply* reply) {
        if (alive.expired()) return;
        on_group_reply(req, g, reply);
      });
  if (!queued) fail(req, Failure::error);
}

void RedisLimitStore::on_group_reply(const std::shared_ptr<Request>& req, std::size_t g,
                                     redisReply* reply) {
  // A late answer (after the timeout already applied on_error) proves nothing about Redis
  // being healthy, so it must not reset the failure count either.
  if (req->completed) return;
  Group& group = req->groups[g];
  RedisCounters& counters = shared_->counters();
  if (reply == nullptr) {
    fail(req, Failure::error);
    return;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    const std::string_view error(reply->str, reply->len);
    if (error.starts_with("NOSCRIPT") && !group.noscript_retried) {
      // Redis restarted or SCRIPT FLUSH: EVAL runs the script and caches it again, so the
      // following EVALSHAs succeed.
      counters.noscript.fetch_add(1, std::memory_order_relaxed);
      group.noscript_retried = true;
      group.argv[0] = "EVAL";
      group.argv[1] = std::string(gcra_script_source());
      send_group(req, g, *group.node, group.asking);
      return;
    }
    if (shared_->cluster() && group.redirects < kMaxRedirects) {
      if (auto redirect = parse_redirect(error)) {
        ++group.redirects;
        if (redirect->ask) {
          counters.ask.fetch_add(1, std::memory_order_relaxed);
        } else {
          counters.moved.fetch_add(1, std::memory_order_relaxed);
          const int index = slots_.intern(redirect->target);
          slots_.owner[static_cast<std::size_t>(redirect->slot)] = static_cast<std::int16_t>(index);
          slot_nodes_.resize(slots_.masters.size(), nullptr);
          refresh_slots();
        }
        send_group(req, g, node_for(redirect->target), redirect->ask);
        return;
      }
    }
    fail(req, Failure::error);
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5) {
    fail(req, Failure::error);
    return;
  }
  for (std::size_t i = 0; i < 5; ++i) {
    if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
      fail(req, Failure::error);
      return;
    }
  }
  group.answered = true;
  group.allowed = reply->element[0]->integer == 1;
  group.denied = static_cast<int>(reply->element[1]->integer);
  group.retry_after_ns = reply->element[2]->integer;
  group.remaining = reply->element[3]->integer;
  group.reset_ns = reply->element[4]->integer;
  if (!group.allowed &&
      (group.denied < 0 || static_cast<std::size_t>(group.denied) >= group.call_index.size())) {
    fail(req, Failure::error);
    return;
  }
  if (--req->outstanding == 0) finish(req);
}

void RedisLimitStore::finish(const std::shared_ptr<Request>& req) {
  consecutive_failures_ = 0;
  RedisCounters& counters = shared_->counters();
  counters.replies.fetch_add(1, std::memory_order_relaxed);
  const auto latency =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - req->sent).count();
  counters.latency_ns_total.fetch_add(static_cast<std::uint64_t>(latency),
                                      std::memory_order_relaxed);
  counters.latency_samples.fetch_add(1, std::memory_order_relaxed);
  if (shared_->on_latency_) shared_->on_latency_(latency);

  LimitOutcome out;
  const Group* denier = nullptr;
  int denied_call = -1;
  const Group* tightest = nullptr;
  for (const Group& group : req->groups) {
    if (!group.allowed) {
      const int call = group.call_index[static_cast<std::size_t>(group.denied)];
      if (denier == nullptr || call < denied_call) {
        denier = &group;
        denied_call = call;
      }
    } else if (tightest == nullptr || group.remaining < tightest->remaining) {
      tightest = &group;
    }
  }
  if (denier != nullptr) {
    out.allowed = false;
    out.denied_index = denied_call;
    out.retry_after_ns = denier->retry_after_ns;
    out.remaining = 0;
    out.reset_ns = denier->reset_ns;
    const LimitCall& call = req->calls[static_cast<std::size_t>(denied_call)];
    shared_->deny_cache().insert(call.key, call.key_hash,
                                 {req->now_ns + out.retry_after_ns, req->now_ns + out.reset_ns},
                                 req->now_ns);
    if (!req->dry_run) {
      for (const Group& group : req->groups) {
        if (group.allowed) send_refund(*req, group);
      }
    }
  } else if (tightest != nullptr) {
    out.remaining = tightest->remaining;
    out.reset_ns = tightest->reset_ns;
  }
  complete(req, out);
}

void RedisLimitStore::reset(std::span<const LimitCall> calls) {
  // One DEL per key (each on the node of its slot); fire and forget, like a refund. The local
  // fallback forgets them too, in case it answered for them during an outage.
  if (fallback_ != nullptr) fallback_->reset(calls);
  if (breaker_open_) return;
  for (const LimitCall& call : calls) {
    std::string key;
    key.append(config_.key_prefix).append("{").append(call.key).append("}");
    Node& node = shared_->cluster() ? node_for_slot(key_hash_slot(key)) : *nodes_.front();
    if (RedisConnection* conn = connection_for(node)) {
      const std::string_view argv[] = {"DEL", key};
      conn->command(argv, nullptr);
    }
  }
}

void RedisLimitStore::send_refund(const Request& req, const Group& group) {
  if (group.node == nullptr) return;
  RedisConnection* conn = connection_for(*group.node);
  if (conn == nullptr) return;
  std::vector<std::string_view> argv(group.argv.begin(), group.argv.end());
  argv[0] = "EVALSHA";
  argv[1] = gcra_script_sha1();
  const std::string mode = std::to_string(static_cast<int>(GcraScriptMode::refund));
  argv[3 + group.call_index.size()] = mode;
  (void)req;
  shared_->counters().refunds.fetch_add(1, std::memory_order_relaxed);
  conn->command(argv, nullptr);  // best effort: a lost refund over-counts one request
}

void RedisLimitStore::fail(const std::shared_ptr<Request>& req, Failure why) {
  if (req->completed) return;
  RedisCounters& counters = shared_->counters();
  (why == Failure::timeout ? counters.timeouts : counters.errors)
      .fetch_add(1, std::memory_order_relaxed);
  const LimitOutcome out = on_error_outcome(req->calls, req->now_ns, req->dry_run);
  complete(req, out);
  note_failure(why == Failure::timeout ? "timeout" : "error or lost connection");
}

void RedisLimitStore::complete(const std::shared_ptr<Request>& req, const LimitOutcome& outcome) {
  req->completed = true;
  if (req->submitting) {
    // The contract promises the completion on the event loop, never inside admit_async.
    asio::post(io_, [req, outcome] { req->done(outcome); });
    return;
  }
  req->done(outcome);
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
      pending_.pop_front();
      continue;
    }
    if (pending_.front()->deadline > now) break;
    auto req = std::move(pending_.front());
    pending_.pop_front();
    fail(req, Failure::timeout);
  }
  arm_timeout();
}

void RedisLimitStore::note_failure(const std::string& why) {
  if (breaker_open_) return;
  if (++consecutive_failures_ >= config_.failure_threshold) open_breaker(why);
}

void RedisLimitStore::open_breaker(const std::string& why) {
  breaker_open_ = true;
  shared_->open_breakers_.fetch_add(1, std::memory_order_relaxed);
  shared_->counters().breaker_opens.fetch_add(1, std::memory_order_relaxed);
  if (shared_->on_breaker_) shared_->on_breaker_(true, why);
  // Commands still queued on a stalled connection would charge buckets for requests that were
  // already answered; drop them with the connection.
  drop_connections();
  schedule_probe();
}

void RedisLimitStore::close_breaker() {
  if (!breaker_open_) return;
  breaker_open_ = false;
  consecutive_failures_ = 0;
  shared_->open_breakers_.fetch_sub(1, std::memory_order_relaxed);
  if (shared_->on_breaker_) shared_->on_breaker_(false, "redis answers again");
}

void RedisLimitStore::schedule_probe() {
  probe_timer_.expires_after(std::chrono::nanoseconds(config_.probe_interval_ns));
  probe_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (ec || alive.expired()) return;
        probe();
      });
}

void RedisLimitStore::probe() {
  if (!breaker_open_) return;
  // A probe not answered within one interval failed: start over on a fresh connection (a
  // stopped Redis still accepts TCP connections into its backlog).
  drop_connections();
  Node& node = *nodes_[probe_rotation_++ % nodes_.size()];
  RedisConnection* conn = connection_for(node);
  if (conn != nullptr) {
    auto on_answer = [this, alive = std::weak_ptr<int>(alive_),
                      endpoint = node.endpoint](redisReply* reply) {
      if (alive.expired() || reply == nullptr || reply->type == REDIS_REPLY_ERROR) return;
      if (shared_->cluster()) {
        auto map = parse_cluster_slots(reply, endpoint);
        if (!map) return;
        install_slots(std::move(*map));
      }
      close_breaker();
    };
    if (shared_->cluster()) {
      const std::string_view argv[] = {"CLUSTER", "SLOTS"};
      conn->command(argv, std::move(on_answer));
    } else {
      const std::string_view argv[] = {"PING"};
      conn->command(argv, std::move(on_answer));
    }
  }
  schedule_probe();
}

// ---- nodes and the slot map -----------------------------------------------------------------

RedisLimitStore::Node& RedisLimitStore::node_for(const RedisEndpoint& endpoint) {
  for (auto& node : nodes_) {
    if (node->endpoint == endpoint) return *node;
  }
  auto node = std::make_unique<Node>();
  node->endpoint = endpoint;
  node->conns.resize(static_cast<std::size_t>(config_.connections));
  nodes_.push_back(std::move(node));
  return *nodes_.back();
}

RedisLimitStore::Node& RedisLimitStore::node_for_slot(int slot) {
  const int index = slots_.owner[static_cast<std::size_t>(slot)];
  if (index < 0) return *nodes_.front();  // unknown yet: a seed answers or redirects
  Node*& cached = slot_nodes_[static_cast<std::size_t>(index)];
  if (cached == nullptr) cached = &node_for(slots_.masters[static_cast<std::size_t>(index)]);
  return *cached;
}

RedisConnection* RedisLimitStore::connection_for(Node& node) {
  auto& conn = node.conns[node.next++ % node.conns.size()];
  if (conn == nullptr || !conn->usable()) {
    if (conn != nullptr) {
      // Freed on a later turn of the loop: freeing runs pending handlers, which must not
      // re-enter this function halfway through.
      asio::post(io_, [old = std::shared_ptr<RedisConnection>(std::move(conn))] {});
    }
    shared_->counters().connects.fetch_add(1, std::memory_order_relaxed);
    conn = std::make_unique<RedisConnection>(io_, node.endpoint, shared_->handshake_);
    if (!conn->usable()) return nullptr;
    // Loaded ahead of the first EVALSHA on every new connection (a restarted Redis has an
    // empty script cache); NOSCRIPT then only follows a SCRIPT FLUSH.
    const std::string_view load[] = {"SCRIPT", "LOAD", gcra_script_source()};
    conn->command(load, nullptr);
  }
  return conn.get();
}

void RedisLimitStore::drop_connections() {
  for (auto& node : nodes_) {
    for (auto& conn : node->conns) conn.reset();
  }
}

void RedisLimitStore::refresh_slots() {
  const auto now = Clock::now();
  if (refresh_in_flight_ || now - last_refresh_ < kMinRefreshInterval) return;
  Node& node = *nodes_[probe_rotation_++ % nodes_.size()];
  RedisConnection* conn = connection_for(node);
  if (conn == nullptr) return;
  refresh_in_flight_ = true;
  last_refresh_ = now;
  shared_->counters().slot_refreshes.fetch_add(1, std::memory_order_relaxed);
  const std::string_view argv[] = {"CLUSTER", "SLOTS"};
  conn->command(argv, [this, alive = std::weak_ptr<int>(alive_),
                       endpoint = node.endpoint](redisReply* reply) {
    if (alive.expired()) return;
    refresh_in_flight_ = false;
    if (auto map = parse_cluster_slots(reply, endpoint)) install_slots(std::move(*map));
  });
}

void RedisLimitStore::install_slots(SlotMap map) {
  slots_ = std::move(map);
  slot_nodes_.assign(slots_.masters.size(), nullptr);
  for (const RedisEndpoint& master : slots_.masters) node_for(master);
}

}  // namespace edgeguard
