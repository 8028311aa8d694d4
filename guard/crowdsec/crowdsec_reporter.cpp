#include "guard/crowdsec/crowdsec_reporter.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>

#include "guard/clock/clock.h"
#include "guard/log/event_log.h"

namespace edgeguard {
namespace {

constexpr std::int64_t kUnknownLifetimeRenewNs = 600'000'000'000;  // `expire` did not parse
constexpr std::size_t kMaxBodyInLog = 200;

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string excerpt(std::string_view body) {
  std::string out(body.substr(0, kMaxBodyInLog));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::string failure_text(const LapiResponse& r) {
  if (!r.answered()) return r.error;
  return "LAPI answered " + std::to_string(r.status) + ": " + excerpt(r.body);
}

}  // namespace

std::shared_ptr<CrowdsecReporter> CrowdsecReporter::create(boost::asio::io_context& io,
                                                           const CrowdsecSettings& settings,
                                                           std::string* error) {
  if (!settings.report) {
    *error = "crowdsec.report: not configured";
    return nullptr;
  }
  CrowdsecReporterOptions options;
  std::string why;
  auto lapi = parse_lapi_url(settings.lapi, &why);
  if (!lapi) {
    *error = "crowdsec.lapi: " + why;
    return nullptr;
  }
  options.lapi = std::move(*lapi);
  options.machine_id = settings.report->machine_id;
  if (!read_secret_file(settings.report->password_file, &options.password, &why)) {
    *error = "crowdsec.report.password_file: " + why;
    return nullptr;
  }
  return create(io, std::move(options));
}

std::shared_ptr<CrowdsecReporter> CrowdsecReporter::create(boost::asio::io_context& io,
                                                           CrowdsecReporterOptions options) {
  return std::make_shared<CrowdsecReporter>(io, std::move(options));
}

CrowdsecReporter::CrowdsecReporter(boost::asio::io_context& io, CrowdsecReporterOptions options)
    : io_(io),
      options_(std::move(options)),
      client_(io, options_.lapi, options_.http),
      timer_(io) {}

bool CrowdsecReporter::report_ban(std::string_view subject, std::string_view route,
                                  std::string_view limit, std::int64_t duration_ns) {
  auto parsed = parse_ban_subject(subject);
  if (!parsed || duration_ns <= 0) {
    stats_.rejected.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Pending pending;
  pending.report.subject = std::move(*parsed);
  pending.report.route = std::string(route);
  pending.report.limit = std::string(limit);
  pending.report.duration_ns = duration_ns;
  pending.report.banned_at_unix_ns = wall_ns();
  pending.deadline_ns = monotonic_ns() + duration_ns;
  bool post_kick = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.queue_capacity) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(pending));
    stats_.queue_length.store(static_cast<std::int64_t>(queue_.size()), std::memory_order_relaxed);
    post_kick = !kick_pending_;
    kick_pending_ = true;
  }
  stats_.queued.fetch_add(1, std::memory_order_relaxed);
  if (post_kick) {
    boost::asio::post(io_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->kick();
    });
  }
  return true;
}

void CrowdsecReporter::start() {
  if (running_) return;
  running_ = true;
  phase_ = Phase::busy;
  login([this](bool ok) {
    if (ok) {
      post_next();
    } else {
      go_idle_if_empty();
    }
  });
}

void CrowdsecReporter::stop() {
  running_ = false;
  timer_.cancel();
  client_.cancel();
  phase_ = Phase::idle;
}

void CrowdsecReporter::kick() {
  // Not started (or stopped): the queue waits for start(), which drains it.
  if (!running_ || phase_ != Phase::idle) return;
  phase_ = Phase::waiting;
  timer_.expires_after(std::chrono::nanoseconds(options_.batch_delay_ns));
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self && self->running_) self->run();
  });
}

void CrowdsecReporter::run() {
  phase_ = Phase::busy;
  if (token_fresh()) {
    post_next();
    return;
  }
  login([this](bool ok) {
    if (ok) {
      post_next();
    } else {
      retry_later();
    }
  });
}

bool CrowdsecReporter::token_fresh() const {
  return !token_.empty() && wall_ns() < token_renew_at_unix_ns_;
}

void CrowdsecReporter::login(std::function<void(bool)> then) {
  LapiRequest request;
  request.post = true;
  request.target = "/v1/watchers/login";
  request.body = login_body(options_.machine_id, options_.password, options_.scenarios);
  token_.clear();
  client_.send(
      std::move(request), [weak = weak_from_this(), then = std::move(then)](LapiResponse response) {
        auto self = weak.lock();
        if (!self || !self->running_) return;
        const auto answer = response.answered() && response.status == 200
                                ? parse_login_answer(response.body)
                                : std::nullopt;
        if (!answer) {
          self->stats_.login_errors.fetch_add(1, std::memory_order_relaxed);
          std::string why = failure_text(response);
          if (response.answered() && (response.status == 401 || response.status == 403)) {
            why = "LAPI refused machine_id " + self->options_.machine_id + " (" +
                  std::to_string(response.status) +
                  "): check report.password_file (cscli machines add NAME --password ...)";
          } else if (response.answered() && response.status == 200) {
            why = "LAPI's login answer has no token";
          }
          log_event("error", "crowdsec_report_login_failed",
                    {{"lapi", self->options_.lapi.url}, {"error", why}});
          then(false);
          return;
        }
        const std::int64_t now = wall_ns();
        std::int64_t renew_at = now + kUnknownLifetimeRenewNs;
        if (answer->expire_unix_s != 0) {
          const std::int64_t lifetime = answer->expire_unix_s * 1'000'000'000 - now;
          renew_at = now + std::max(lifetime - self->options_.renew_before_ns, lifetime / 2);
        }
        self->token_ = answer->token;
        self->token_renew_at_unix_ns_ = renew_at;
        self->stats_.logins.fetch_add(1, std::memory_order_relaxed);
        log_event("info", "crowdsec_report_login",
                  {{"lapi", self->options_.lapi.url}, {"machine_id", self->options_.machine_id}});
        then(true);
      });
}

void CrowdsecReporter::post_next() {
  std::vector<Pending> batch;
  {
    std::lock_guard lock(mu_);
    const std::int64_t now = monotonic_ns();
    while (!queue_.empty() && batch.size() < options_.batch_max) {
      Pending p = std::move(queue_.front());
      queue_.pop_front();
      if (p.deadline_ns <= now) {
        stats_.dropped.fetch_add(1, std::memory_order_relaxed);  // over before LAPI took it
        continue;
      }
      batch.push_back(std::move(p));
    }
    stats_.queue_length.store(static_cast<std::int64_t>(queue_.size()), std::memory_order_relaxed);
    if (batch.empty()) {
      kick_pending_ = false;
      phase_ = Phase::idle;
      return;
    }
  }
  post(std::move(batch), false);
}

void CrowdsecReporter::post(std::vector<Pending> batch, bool after_relogin) {
  // Each alert carries the ban's own time and full duration: LAPI counts a decision's duration
  // from the alert's stop_at, so a ban that waited in the queue still ends when edgeguard's does.
  std::vector<BanReport> reports;
  reports.reserve(batch.size());
  for (const Pending& p : batch) reports.push_back(p.report);
  LapiRequest request;
  request.post = true;
  request.target = "/v1/alerts";
  request.headers.emplace_back("Authorization", "Bearer " + token_);
  request.body = alerts_body(reports);
  client_.send(std::move(request), [weak = weak_from_this(), batch = std::move(batch),
                                    after_relogin](LapiResponse response) mutable {
    auto self = weak.lock();
    if (!self) return;
    if (!self->running_) {
      self->requeue(std::move(batch));  // stopped mid-flight: keep them for a restart
      return;
    }
    const int status = response.answered() ? response.status : 0;
    if (status == 200 || status == 201) {
      self->stats_.sent.fetch_add(batch.size(), std::memory_order_relaxed);
      self->warned_full_ = false;
      self->post_next();
    } else if ((status == 401 || status == 403) && !after_relogin) {
      // A LAPI restart invalidates every token: log in again and resend this batch once.
      self->login([weak = self->weak_from_this(), batch = std::move(batch)](bool ok) mutable {
        auto again = weak.lock();
        if (!again) return;
        if (ok) {
          again->post(std::move(batch), true);
        } else {
          again->requeue(std::move(batch));
          again->retry_later();
        }
      });
    } else if (status >= 400 && status < 500 && status != 401 && status != 403 && status != 408 &&
               status != 429) {
      // LAPI read the alerts and refused them: sending them again would not help.
      self->stats_.rejected.fetch_add(batch.size(), std::memory_order_relaxed);
      log_event("error", "crowdsec_report_rejected",
                {{"lapi", self->options_.lapi.url},
                 {"alerts", batch.size()},
                 {"error", failure_text(response)}});
      self->post_next();
    } else {
      self->stats_.post_errors.fetch_add(1, std::memory_order_relaxed);
      log_event("error", "crowdsec_report_failed",
                {{"lapi", self->options_.lapi.url},
                 {"alerts", batch.size()},
                 {"error", failure_text(response)}});
      self->requeue(std::move(batch));
      self->retry_later();
    }
  });
}

void CrowdsecReporter::requeue(std::vector<Pending> batch) {
  std::size_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                  std::make_move_iterator(batch.end()));
    // Newer bans arrived meanwhile: the queue keeps its bound, dropping from the back as a
    // full queue drops arrivals.
    while (queue_.size() > options_.queue_capacity) {
      queue_.pop_back();
      ++dropped;
    }
    stats_.queue_length.store(static_cast<std::int64_t>(queue_.size()), std::memory_order_relaxed);
  }
  if (dropped != 0) stats_.dropped.fetch_add(dropped, std::memory_order_relaxed);
  if (dropped != 0 && !warned_full_) {
    warned_full_ = true;
    log_event("error", "crowdsec_report_queue_full",
              {{"lapi", options_.lapi.url}, {"capacity", options_.queue_capacity}});
  }
}

void CrowdsecReporter::retry_later() {
  phase_ = Phase::waiting;
  timer_.expires_after(std::chrono::nanoseconds(options_.retry_ns));
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self && self->running_) self->run();
  });
}

void CrowdsecReporter::go_idle_if_empty() {
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) {
      kick_pending_ = false;
      phase_ = Phase::idle;
      return;
    }
  }
  retry_later();
}

}  // namespace edgeguard
