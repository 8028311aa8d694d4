#include "guard/crowdsec/crowdsec_puller.h"

#include <boost/asio/io_context.hpp>
#include <chrono>

#include "guard/clock/clock.h"
#include "guard/crowdsec/decision_stream.h"
#include "guard/log/event_log.h"

namespace edgeguard {
namespace {

constexpr std::size_t kMaxBodyInError = 200;

// The start of an error body, printable, for a log line.
std::string excerpt(std::string_view body) {
  std::string out(body.substr(0, kMaxBodyInError));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::int64_t to_seconds(double s) {
  return static_cast<std::int64_t>(s);
}

}  // namespace

std::shared_ptr<CrowdsecPuller> CrowdsecPuller::create(boost::asio::io_context& io,
                                                       const CrowdsecSettings& settings,
                                                       std::string* error) {
  CrowdsecPullerOptions options;
  std::string why;
  auto lapi = parse_lapi_url(settings.lapi, &why);
  if (!lapi) {
    *error = "crowdsec.lapi: " + why;
    return nullptr;
  }
  options.lapi = std::move(*lapi);
  if (!read_secret_file(settings.api_key_file, &options.api_key, &why)) {
    *error = "crowdsec.api_key_file: " + why;
    return nullptr;
  }
  options.refresh_ns = settings.refresh_ns;
  options.scopes = settings.scopes;
  return create(io, std::move(options));
}

std::shared_ptr<CrowdsecPuller> CrowdsecPuller::create(boost::asio::io_context& io,
                                                       CrowdsecPullerOptions options) {
  return std::make_shared<CrowdsecPuller>(io, std::move(options));
}

CrowdsecPuller::CrowdsecPuller(boost::asio::io_context& io, CrowdsecPullerOptions options)
    : options_(std::move(options)),
      client_(io, options_.lapi, options_.http),
      timer_(io),
      current_(std::make_shared<const DecisionSet>()) {}

CrowdsecPuller::~CrowdsecPuller() = default;

void CrowdsecPuller::start() {
  if (running_) return;
  running_ = true;
  stats_.started_ns.store(monotonic_ns(), std::memory_order_relaxed);
  pull();
}

void CrowdsecPuller::stop() {
  running_ = false;
  timer_.cancel();
  client_.cancel();
}

void CrowdsecPuller::schedule(std::int64_t at_ns) {
  const std::int64_t wait = std::max<std::int64_t>(0, at_ns - monotonic_ns());
  timer_.expires_after(std::chrono::nanoseconds(wait));
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || !self->running_) return;
    self->pull();
  });
}

void CrowdsecPuller::pull() {
  const bool startup = need_startup_;
  const std::int64_t started = monotonic_ns();
  stats_.pulls_started.fetch_add(1, std::memory_order_relaxed);
  LapiRequest request;
  request.target = std::string("/v1/decisions/stream?") + (startup ? "startup=true&" : "") +
                   "scopes=" + scopes_query(options_.scopes);
  request.headers.emplace_back("X-Api-Key", options_.api_key);
  client_.send(std::move(request),
               [weak = weak_from_this(), startup, started](LapiResponse response) {
                 auto self = weak.lock();
                 if (!self || !self->running_) return;
                 self->on_answer(std::move(response), startup, started);
               });
}

void CrowdsecPuller::publish(std::shared_ptr<const DecisionSet> set) {
  stats_.decisions.store(static_cast<std::int64_t>(set->size()), std::memory_order_relaxed);
  current_.publish(std::move(set));
}

void CrowdsecPuller::on_answer(LapiResponse response, bool startup, std::int64_t started_ns) {
  PullOutcome outcome;
  outcome.startup = startup;
  if (!response.answered()) {
    outcome.status = PullStatus::unreachable;
    outcome.error = response.error;
  } else if (response.status == 403) {
    outcome.status = PullStatus::forbidden;
    outcome.error =
        "LAPI refused the bouncer key (403): check api_key_file (cscli bouncers add NAME -o raw)";
  } else if (response.status != 200) {
    outcome.status = PullStatus::http_error;
    outcome.error =
        "LAPI answered " + std::to_string(response.status) + ": " + excerpt(response.body);
  } else {
    StreamUpdate update;
    std::string why;
    if (!parse_decision_stream(response.body, options_.scopes, update, &why)) {
      outcome.status = PullStatus::bad_answer;
      outcome.error = "unreadable decision stream: " + why;
    } else {
      // edgeguard's own bans come back from LAPI as origin `edgeguard` decisions (the reporter
      // posted them for the other bouncers). edgeguard already enforces them, each with its
      // route scope: a second copy here would make a ban on one route a ban on every route.
      std::erase_if(update.added,
                    [](const StreamDecision& d) { return d.origin == kEdgeguardOrigin; });
      // The clock is read after the answer arrived: a decision's duration runs from here.
      const std::int64_t now = monotonic_ns();
      const auto base = current();
      if (startup || !update.empty()) {
        publish(DecisionSet::apply(*base, update, startup, now));
      } else if (now >= base->next_expiry_ns()) {
        publish(DecisionSet::without_expired(*base, now));
      }
      outcome.added = update.added.size();
      outcome.deleted = update.deleted.size();
      outcome.skipped = update.skipped;
      if (update.skipped != 0) {
        stats_.decisions_skipped.fetch_add(update.skipped, std::memory_order_relaxed);
        log_event("warn", "crowdsec_decisions_skipped",
                  {{"count", update.skipped}, {"first_reason", update.first_skip}});
      }
    }
  }
  const std::int64_t now = monotonic_ns();
  outcome.decisions = current()->size();
  if (outcome.status == PullStatus::ok) {
    stats_.pulls_ok.fetch_add(1, std::memory_order_relaxed);
    stats_.last_success_ns.store(now, std::memory_order_relaxed);
    if (failing_ || !first_outcome_) {
      log_event("info", failing_ ? LogName("crowdsec_pull_recovered") : LogName("crowdsec_pulled"),
                {{"lapi", options_.lapi.url}, {"decisions", outcome.decisions}});
    }
    failing_ = false;
    need_startup_ = false;
  } else {
    stats_.pulls_failed.fetch_add(1, std::memory_order_relaxed);
    log_event("error", "crowdsec_pull_failed",
              {{"lapi", options_.lapi.url},
               {"error", outcome.error},
               {"serving_decisions", outcome.decisions},
               {"list_age_seconds", to_seconds(stats_.last_pull_seconds(now))}});
    failing_ = true;
    need_startup_ = true;
  }
  if (!first_outcome_) first_outcome_ = outcome;
  if (observer_) observer_(outcome);
  if (running_) schedule(started_ns + options_.refresh_ns);
}

PullOutcome run_first_pull(boost::asio::io_context& io, CrowdsecPuller& puller,
                           std::int64_t timeout_ns) {
  puller.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
  while (!puller.first_outcome()) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) break;
    if (io.run_one_for(left) == 0 && io.stopped()) break;
  }
  if (io.stopped()) io.restart();
  if (puller.first_outcome()) return *puller.first_outcome();
  PullOutcome outcome;
  outcome.status = PullStatus::unreachable;
  outcome.startup = true;
  outcome.error = "no answer from LAPI within " + std::to_string(timeout_ns / 1'000'000) + " ms";
  return outcome;
}

std::string describe_pull_failure(const CrowdsecPuller& puller, const PullOutcome& outcome) {
  return "crowdsec: LAPI at " + puller.options().lapi.url + ": " + outcome.error;
}

}  // namespace edgeguard
