#pragma once
// edgeguard as a CrowdSec watcher: every ban edgeguard makes becomes an alert with a ban
// decision on LAPI (origin `edgeguard`, scenario `edgeguard/<route>/<limit>`, the ban's
// duration from the moment of the ban), so every CrowdSec bouncer, the firewall's included,
// enforces it.
//
// report_ban() is for request threads: it checks the subject, appends to a bounded queue and
// returns; it never waits on LAPI. The rest runs on the caller's io_context: bans are batched
// (a burst goes in one POST /v1/alerts), the machine logs in with POST /v1/watchers/login and
// logs in again before its token expires, or at once on a 401 (a LAPI restart invalidates
// every token). While LAPI is down the queue holds what it can and drops (and counts) the rest;
// a ban that has run out by the time LAPI is back is not posted.
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "guard/crowdsec/alert_body.h"
#include "guard/crowdsec/crowdsec_settings.h"
#include "guard/crowdsec/crowdsec_stats.h"
#include "guard/crowdsec/lapi_client.h"

namespace edgeguard {

struct CrowdsecReporterOptions {
  LapiEndpoint lapi;
  std::string machine_id;
  std::string password;
  std::vector<std::string> scenarios;  // sent at login (the watcher's scenario list); may be empty
  std::size_t queue_capacity = 10'000;
  std::size_t batch_max = 100;                  // alerts per POST
  std::int64_t batch_delay_ns = 1'000'000'000;  // a burst of bans waits this long to share a POST
  std::int64_t retry_ns = 10'000'000'000;       // after a failed login or POST
  std::int64_t renew_before_ns = 300'000'000'000;  // log in again when the token has less left
  LapiHttpOptions http;
};

class CrowdsecReporter : public std::enable_shared_from_this<CrowdsecReporter> {
 public:
  // From `crowdsec.report` (which must be set): reads password_file; nullptr and *error when it
  // cannot (a startup error).
  static std::shared_ptr<CrowdsecReporter> create(boost::asio::io_context& io,
                                                  const CrowdsecSettings& settings,
                                                  std::string* error);
  static std::shared_ptr<CrowdsecReporter> create(boost::asio::io_context& io,
                                                  CrowdsecReporterOptions options);

  // Logs in now (a refused login is logged and counted; it is tried again when there is
  // something to send). Call on the io_context's thread or before it runs, as stop().
  void start();
  void stop();

  // Any thread, never blocks on LAPI. `subject`: an address or network ("198.51.100.7",
  // "2001:db8:1::/64", optionally "ip:"-prefixed as ban subjects are written); `duration_ns`:
  // the ban's length. False when the subject is not an address or range, or the queue is full
  // (both counted).
  bool report_ban(std::string_view subject, std::string_view route, std::string_view limit,
                  std::int64_t duration_ns);

  const CrowdsecReporterStats& stats() const { return stats_; }

  // Public for make_shared; use create().
  CrowdsecReporter(boost::asio::io_context& io, CrowdsecReporterOptions options);

 private:
  struct Pending {
    BanReport report;
    std::int64_t deadline_ns = 0;  // monotonic: when the ban ends
  };
  enum class Phase { idle, waiting, busy };

  void kick();
  void run();
  void login(std::function<void(bool ok)> then);
  void post_next();
  void post(std::vector<Pending> batch, bool after_relogin);
  void requeue(std::vector<Pending> batch);
  void retry_later();
  void go_idle_if_empty();
  bool token_fresh() const;

  boost::asio::io_context& io_;
  const CrowdsecReporterOptions options_;
  LapiClient client_;
  boost::asio::steady_timer timer_;
  // io_context's thread only:
  Phase phase_ = Phase::idle;
  bool running_ = false;
  std::string token_;
  std::int64_t token_renew_at_unix_ns_ = 0;
  bool warned_full_ = false;
  // Shared with report_ban():
  std::mutex mu_;
  std::deque<Pending> queue_;
  bool kick_pending_ = false;  // a kick is posted or the io side is at work: it drains the queue
  CrowdsecReporterStats stats_;
};

}  // namespace edgeguard
