#pragma once
// edgeguard as a CrowdSec bouncer: owns the decision set in force and keeps it current by
// pulling LAPI's decision stream (GET /v1/decisions/stream, `startup=true` first) every
// `refresh` on the caller's io_context. Requests never wait on LAPI: they read current(), and a
// pull that fails, hangs or answers garbage leaves the last set serving (a log line, a failed
// pull counted, and last_pull_seconds growing say so). After any failed pull the next one asks
// for the full list again (startup=true): LAPI may have moved this key's "since last pull"
// mark for an answer edgeguard never got to apply.
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "guard/crowdsec/crowdsec_settings.h"
#include "guard/crowdsec/crowdsec_stats.h"
#include "guard/crowdsec/decision_set.h"
#include "guard/crowdsec/lapi_client.h"
#include "guard/sync/published.h"

namespace edgeguard {

struct CrowdsecPullerOptions {
  LapiEndpoint lapi;
  std::string api_key;  // the bouncer key; one per replica (README, "CrowdSec")
  std::int64_t refresh_ns = 10'000'000'000;
  ScopeMask scopes = kDefaultScopes;
  LapiHttpOptions http;
};

enum class PullStatus {
  ok,
  unreachable,  // no answer: refused, timed out, cut short, too large
  forbidden,    // 403: LAPI does not know the bouncer key
  http_error,   // another status
  bad_answer,   // 200 with a body that is not a stream answer
};

struct PullOutcome {
  PullStatus status = PullStatus::ok;
  bool startup = false;       // the full list was asked for
  std::string error;          // what went wrong, ready for a log line (never the key)
  std::size_t added = 0;      // decisions in `new` that edgeguard uses
  std::size_t deleted = 0;    // entries in `deleted`
  std::size_t skipped = 0;    // entries edgeguard cannot use
  std::size_t decisions = 0;  // in the set served after this pull
};

class CrowdsecPuller : public std::enable_shared_from_this<CrowdsecPuller> {
 public:
  // Reads settings.api_key_file; nullptr and *error when it cannot (a startup error).
  static std::shared_ptr<CrowdsecPuller> create(boost::asio::io_context& io,
                                                const CrowdsecSettings& settings,
                                                std::string* error);
  static std::shared_ptr<CrowdsecPuller> create(boost::asio::io_context& io,
                                                CrowdsecPullerOptions options);

  // The first pull now, then one every refresh (counted from each pull's start; pulls never
  // overlap). Call on the io_context's thread or before it runs, as stop().
  void start();
  void stop();

  // The set in force; never null (empty until a pull succeeds). Any thread, no lock held
  // afterwards: request threads keep the pointer as long as they use a decision from it.
  std::shared_ptr<const DecisionSet> current() const { return current_.get(); }
  // Moves each time a new set is published (per-thread snapshot caches compare it).
  std::uint64_t generation() const { return current_.generation(); }

  // Runs on the io_context after every pull, once the set is published (startup wiring, tests).
  void set_observer(std::function<void(const PullOutcome&)> observer) {
    observer_ = std::move(observer);
  }

  // The first pull's outcome, once it has one (io_context's thread).
  const std::optional<PullOutcome>& first_outcome() const { return first_outcome_; }

  const CrowdsecPullerStats& stats() const { return stats_; }
  const CrowdsecPullerOptions& options() const { return options_; }

  // Public for make_shared; use create().
  CrowdsecPuller(boost::asio::io_context& io, CrowdsecPullerOptions options);
  ~CrowdsecPuller();

 private:
  void pull();
  void on_answer(LapiResponse response, bool startup, std::int64_t started_ns);
  void publish(std::shared_ptr<const DecisionSet> set);
  void schedule(std::int64_t at_ns);

  const CrowdsecPullerOptions options_;
  LapiClient client_;
  boost::asio::steady_timer timer_;
  std::function<void(const PullOutcome&)> observer_;
  bool running_ = false;
  bool need_startup_ = true;  // the first pull, and the one after any failure
  bool failing_ = false;      // the last pull failed (logs say when it recovers)
  std::optional<PullOutcome> first_outcome_;
  Published<DecisionSet> current_;
  CrowdsecPullerStats stats_;
};

// For `serve` before its loop runs: starts `puller` and runs `io` until the first pull has an
// outcome or `timeout_ns` passes (then status unreachable). A forbidden outcome is a startup
// error (the key is wrong); any other failure is not: edgeguard serves with an empty list and
// keeps pulling. Other work queued on `io` runs meanwhile.
PullOutcome run_first_pull(boost::asio::io_context& io, CrowdsecPuller& puller,
                           std::int64_t timeout_ns);

// "crowdsec: LAPI at http://...: <error>" for a startup error or a log line.
std::string describe_pull_failure(const CrowdsecPuller& puller, const PullOutcome& outcome);

}  // namespace edgeguard
