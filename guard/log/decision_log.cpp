#include "guard/log/decision_log.h"

#include "guard/log/event_log.h"

namespace edgeguard {

void log_decision(const Decision& d, const ForwardRequest* request, const IpAddress& peer) {
  char ip[64];
  const IpAddress& client = request != nullptr ? request->client_ip : peer;
  const std::size_t ip_len = client.format(ip);
  const bool timed = d.reason == Reason::rate_limit || d.reason == Reason::ban;
  const LimitPolicy* limit = timed ? d.limit() : nullptr;
  const ForwardRequest none;
  const ForwardRequest& r = request != nullptr ? *request : none;
  log_buffered(d.verdict == Verdict::allow ? LogName("info") : LogName("warn"), "decision",
               {{"verdict", to_string(d.verdict)},
                {"reason", to_string(d.reason)},
                {"route", d.route != nullptr ? std::string_view(d.route->name) : "default"},
                {"rule", d.rule},
                {"client_ip", std::string_view(ip, ip_len)},
                {"method", r.method},
                {"host", r.host},
                {"path", r.path},
                {"limit", limit != nullptr ? std::string_view(limit->name) : ""},
                {"retry_after", timed ? retry_after_seconds(d.retry_after_ns) : std::int64_t{0}}});
}

bool sample_allowed(const LogSettings& log) {
  if (!log.allow || log.allow_sample <= 0) return false;
  thread_local std::uint64_t allowed_seen = 0;
  const auto every = static_cast<std::uint64_t>(1.0 / log.allow_sample + 0.5);
  return every <= 1 || ++allowed_seen % every == 0;
}

}  // namespace edgeguard
