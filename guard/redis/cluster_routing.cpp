#include "guard/redis/cluster_routing.h"

#include <algorithm>
#include <string_view>

namespace edgeguard {
namespace {

constexpr auto kMinRefreshInterval = std::chrono::milliseconds(50);

}  // namespace

ClusterRouting::ClusterRouting(RedisNodePool& pool, SharedSlotMap& shared,
                               std::vector<RedisEndpoint> seeds, std::int64_t attempt_timeout_ns)
    : pool_(pool),
      shared_(shared),
      seeds_(std::move(seeds)),
      attempt_timeout_(attempt_timeout_ns),
      attempt_timer_(pool.io()) {
  for (const RedisEndpoint& seed : seeds_) pool_.node(seed);
  adopt();
}

ClusterRouting::~ClusterRouting() {
  alive_.reset();
}

// The generation is read before the map: the map is at least that new (a newer one is adopted
// again at the next sync, harmlessly).
void ClusterRouting::adopt() {
  generation_ = shared_.generation();
  map_ = shared_.get();
  slot_nodes_.assign(map_->masters.size(), nullptr);
  if (on_change_) on_change_();
}

RedisNode& ClusterRouting::node_for_slot(int slot) {
  const int index = map_->owner[static_cast<std::size_t>(slot)];
  if (index < 0) return pool_.node(seeds_.front());  // unknown yet: a seed answers or redirects
  RedisNode*& cached = slot_nodes_[static_cast<std::size_t>(index)];
  if (cached == nullptr) cached = &pool_.node(map_->masters[static_cast<std::size_t>(index)]);
  return *cached;
}

bool ClusterRouting::is_master(const RedisEndpoint& endpoint) const {
  return std::find(map_->masters.begin(), map_->masters.end(), endpoint) != map_->masters.end();
}

void ClusterRouting::on_moved(const Redirect& moved) {
  shared_.update([&moved](const SlotMap& latest) {
    auto next = std::make_shared<SlotMap>(latest);
    next->owner[static_cast<std::size_t>(moved.slot)] =
        static_cast<std::int16_t>(next->intern(moved.target));
    return next;
  });
  sync();
  refresh();
}

void ClusterRouting::refresh() {
  if (refreshing_ || Clock::now() - last_refresh_ < kMinRefreshInterval) return;
  start_refresh();
}

void ClusterRouting::refresh_then(std::function<void()> then) {
  waiters_.push_back(std::move(then));
  if (!refreshing_) start_refresh();
}

void ClusterRouting::start_refresh() {
  refreshing_ = true;
  last_refresh_ = Clock::now();
  ask_next(sources().size());
}

std::vector<RedisEndpoint> ClusterRouting::sources() const {
  std::vector<RedisEndpoint> out;
  auto add = [&out](const RedisEndpoint& e) {
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  };
  for (const RedisEndpoint& e : seeds_) add(e);
  for (const RedisEndpoint& e : map_->masters) add(e);
  for (const RedisEndpoint& e : map_->replicas) add(e);
  return out;
}

void ClusterRouting::ask_next(std::size_t attempts_left) {
  const std::vector<RedisEndpoint> candidates = sources();
  while (attempts_left-- > 0) {
    // The next node in turn whose breaker is closed; if every breaker is open, the next one.
    RedisNode* node = nullptr;
    for (std::size_t i = 0; i < candidates.size() && node == nullptr; ++i) {
      RedisNode& candidate = pool_.node(candidates[(rotation_ + i) % candidates.size()]);
      if (!candidate.breaker.open()) {
        node = &candidate;
        rotation_ += i;
      }
    }
    if (node == nullptr) node = &pool_.node(candidates[rotation_ % candidates.size()]);
    ++rotation_;
    RedisConnection* conn = pool_.connection(*node);
    if (conn == nullptr) continue;
    const std::uint64_t attempt = ++attempt_;
    const std::string_view argv[] = {"CLUSTER", "SLOTS"};
    const bool queued =
        conn->command(argv, [this, alive = std::weak_ptr<int>(alive_), attempt, attempts_left,
                             asked = node->endpoint](redisReply* reply) {
          if (alive.expired() || attempt != attempt_ || !refreshing_) return;
          if (auto map = parse_cluster_slots(reply, asked)) {
            shared_.publish(std::make_shared<const SlotMap>(std::move(*map)));
            sync();
            end_refresh();
          } else {
            ask_next(attempts_left);
          }
        });
    if (!queued) continue;
    attempt_timer_.expires_after(attempt_timeout_);
    attempt_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_), attempt,
                               attempts_left](const boost::system::error_code& ec) {
      if (ec || alive.expired() || attempt != attempt_ || !refreshing_) return;
      ask_next(attempts_left);
    });
    return;
  }
  end_refresh();  // nobody answered: keep the map as it is
}

void ClusterRouting::end_refresh() {
  refreshing_ = false;
  ++attempt_;
  attempt_timer_.cancel();
  std::vector<std::function<void()>> waiters;
  waiters.swap(waiters_);
  for (auto& then : waiters) then();
}

}  // namespace edgeguard
