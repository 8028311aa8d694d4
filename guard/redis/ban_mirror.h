#pragma once
// This process's copy of the bans Redis holds: the service's ban table (which also holds the
// bans the local fallback makes while Redis is out), written from the io threads (a ban this
// process's script made, or found in force) and from the maintenance loop (pub/sub messages,
// resyncs, the admin API). Every replica holds them all, so checking a ban never waits on
// Redis.
//
// Each ban learned from Redis carries when Redis last confirmed it (Ban::confirmed_ns): a full
// resync lifts the ones it did not confirm (lifted or evicted while this replica was not
// listening) and keeps the local fallback's own. An unban leaves a note for a minute, so an
// answer that left Redis before the unban (a resync page, a script's reply) cannot bring the
// ban back. A ban the local fallback made stays this process's own even when Redis learns of
// the same (subject, route) later: kept until it ends, so an outage's bans are never cut short
// by a Redis that lost them.
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

#include "guard/bans/local_bans.h"

namespace edgeguard {

class RedisBanMirror {
 public:
  explicit RedisBanMirror(LocalBans& bans) : bans_(bans) {}

  LocalBans& local() { return bans_; }
  BanTable& table() { return bans_.table(); }

  // A ban this process's script made: held, logged and counted here (and only here). Not held
  // if its subject was lifted after `asked_ns` (the script ran before the unban).
  void made(Ban ban, std::int64_t now_ns, std::int64_t asked_ns);
  // A ban Redis has (a message, a resync page asked at `asked_ns`, a script's in-force answer):
  // held without a word. False when it was not held (lifted since, or a full table).
  bool learned(Ban ban, std::int64_t now_ns, std::int64_t asked_ns);
  // An unban: every ban of `subject` lifted here. `redis_lifted`: how many Redis held (the
  // admin API's own call); announced (logged) with the larger count when `announce`.
  std::size_t lift(const std::string& subject, std::int64_t now_ns, bool announce,
                   std::size_t redis_lifted = 0);
  // After a full resync that started at `started_ns`: lifts the bans Redis did not confirm.
  std::size_t drop_unconfirmed(std::int64_t started_ns, std::int64_t now_ns);

  static constexpr std::int64_t kLiftMemoryNs = 60'000'000'000;
  // `asked_ns` of an answer no unban can be newer than (a pub/sub message: they come in order).
  static constexpr std::int64_t kNewest = INT64_MAX;

 private:
  bool lifted_since(const std::string& subject, std::int64_t since_ns);
  void keep_own(Ban& ban, std::int64_t now_ns);

  LocalBans& bans_;
  std::mutex mu_;
  std::unordered_map<std::string, std::int64_t> lifted_at_;  // subject -> when, for a minute
};

}  // namespace edgeguard
