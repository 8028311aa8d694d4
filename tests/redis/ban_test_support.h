#pragma once
// For the bans-in-Redis suites: a blocking subscriber to the bans' channel (what every replica
// hears), and the ban script run by hand the way the stores and the sync run it.
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "guard/bans/local_bans.h"
#include "guard/redis/ban_mirror.h"
#include "guard/redis/ban_script.h"
#include "guard/store/local_store.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {

class ChannelListener {
 public:
  ChannelListener(int port, const std::string& channel) {
    const timeval tv{2, 0};
    c_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c_ == nullptr || c_->err != 0) return;
    redisSetTimeout(c_, tv);
    auto* r =
        static_cast<redisReply*>(redisCommand(c_, "SUBSCRIBE %b", channel.data(), channel.size()));
    ok_ = r != nullptr && r->type == REDIS_REPLY_ARRAY;
    if (r != nullptr) freeReplyObject(r);
  }
  ~ChannelListener() {
    if (c_ != nullptr) redisFree(c_);
  }
  ChannelListener(const ChannelListener&) = delete;
  ChannelListener& operator=(const ChannelListener&) = delete;

  bool ok() const { return ok_; }
  // The next message's payload (waits up to 2 s).
  std::optional<std::string> next() {
    void* raw = nullptr;
    if (!ok_ || redisGetReply(c_, &raw) != REDIS_OK || raw == nullptr) return std::nullopt;
    Reply r(static_cast<redisReply*>(raw));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return std::nullopt;
    return std::string(r->element[2]->str, r->element[2]->len);
  }

 private:
  redisContext* c_ = nullptr;
  bool ok_ = false;
};

// EVAL of an argv built for EVALSHA of the ban script.
inline Reply run_ban_script(const RedisServer& server, std::vector<std::string> argv) {
  ban_argv_to_eval(argv);
  return server.command(argv);
}

// What a process's BanLog would hear: bans made and lifted here (logged and counted once).
class RecordingEvents final : public BanEvents {
 public:
  void made(const Ban& ban, std::int64_t) override {
    std::lock_guard lock(mu_);
    made_.push_back(ban);
  }
  void lifted(const std::string& subject, std::size_t bans, std::int64_t) override {
    std::lock_guard lock(mu_);
    lifted_.emplace_back(subject, bans);
  }
  std::vector<Ban> made() const {
    std::lock_guard lock(mu_);
    return made_;
  }
  std::vector<std::pair<std::string, std::size_t>> lifted() const {
    std::lock_guard lock(mu_);
    return lifted_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Ban> made_;
  std::vector<std::pair<std::string, std::size_t>> lifted_;
};

// One replica's bans as serve wires them: the table, the local bans (and the local store that
// is the Redis store's fallback), the mirror of Redis.
struct ReplicaBans {
  explicit ReplicaBans(std::size_t max_active = 1000)
      : table(max_active), local(table, &events), mirror(local), fallback(100'000, &local) {}
  RecordingEvents events;
  BanTable table;
  LocalBans local;
  RedisBanMirror mirror;
  LocalLimitStore fallback;
};

}  // namespace edgeguard::testing
