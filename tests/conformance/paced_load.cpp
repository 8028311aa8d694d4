#include "tests/conformance/paced_load.h"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace edgeguard::testing {
namespace {

double ns_between(Clock::time_point from, Clock::time_point to) {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
}

}  // namespace

PacedRun run_paced_load(int port, const TraefikRateCase& c, const std::string& request) {
  PacedRun run;
  run.samples.reserve(static_cast<std::size_t>(c.incoming_load) *
                          static_cast<std::size_t>(c.load.count() / 1000 + 1) +
                      static_cast<std::size_t>(c.hammer) * 4);
  Conn conn(port);
  if (!conn.ok()) {
    run.odd = "cannot connect\n";
    return run;
  }
  // Traefik: loadPeriod := time.Duration(1e9 / test.incomingLoad), and a time.Ticker on it.
  const std::chrono::nanoseconds period(kSecondNs / c.incoming_load);
  const auto start = Clock::now();
  const auto end = start + c.load;
  auto tick = start;             // the last tick of the ticker consumed
  while (Clock::now() <= end) {  // Traefik: for !time.Now().After(end)
    PacedSample s;
    s.send = Clock::now();
    const bool sent = conn.send(request);
    const HttpResponse r = sent ? conn.read_response(10000ms) : HttpResponse{};
    s.answer = Clock::now();
    s.status = r.status;
    run.samples.push_back(s);
    if (r.status == 200) {
      ++run.admitted;
    } else if (r.status == 429) {
      ++run.limited;
    } else {
      run.odd += std::to_string(r.status) + " " + r.body + "\n";
      if (r.status == 0) break;  // the connection is gone: nothing more to measure
    }
    // Traefik: `if test.burst > 0 && reqCount < test.burst { continue }`, reqCount counting
    // the requests that reached the backend.
    if (c.hammer > 0 && run.admitted < c.hammer) continue;
    // Traefik: `<-ticker.C`. A Go ticker keeps one missed tick and drops the others: when late,
    // go at once and wait for the next tick after that.
    tick += period;
    const auto now = Clock::now();
    if (now >= tick) {
      tick += (now - tick) / period * period;
      continue;
    }
    std::this_thread::sleep_until(tick);
  }
  return run;
}

PacedJudgement judge_paced_load(const TraefikRateCase& c, const PacedRun& run) {
  PacedJudgement j;
  const auto& s = run.samples;
  if (s.empty()) return j;
  // The longest gap between two decisions that costs the limiter no schedule. After a refusal
  // the bucket lacks more than (burst - 1) tokens plus maxDelay, after an admission at least
  // one token: it cannot fill up (the only way to lose schedule) in less than the smaller. With
  // burst 1 that is maxDelay: each token's window of maxDelay before it needs one request.
  const double emission = static_cast<double>(c.period_ns) / c.average;
  const auto burst = static_cast<double>(traefik_burst(c));
  const double absorbed =
      std::min(emission, (burst - 1) * emission + static_cast<double>(traefik_max_delay_ns(c)));
  double unoffered = 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    unoffered += std::max(0.0, ns_between(s[i - 1].send, s[i].answer) - absorbed);
  }
  const double longest = ns_between(s.front().send, s.back().answer);
  const double shortest = std::max(0.0, ns_between(s.front().answer, s.back().send) - unoffered);
  // Traefik holds an admitted request until its token is due, up to maxDelay, and its test's
  // clock runs on meanwhile; edgeguard answers at once. So Traefik's test would have measured
  // up to maxDelay more (its "lower than 1/s" case admits the second request 500 ms early).
  j.max = traefik_max_count(
      traefik_want_count(c, longest + static_cast<double>(traefik_max_delay_ns(c))));
  j.min = traefik_min_count(traefik_want_count(c, shortest));
  j.elapsed_s = longest / 1e9;
  j.offered_per_s = j.elapsed_s > 0 ? static_cast<double>(s.size()) / j.elapsed_s : 0;
  j.unoffered_ms = unoffered / 1e6;
  return j;
}

std::string PacedJudgement::describe(const TraefikRateCase& c, const PacedRun& run) const {
  char line[512];
  std::snprintf(line, sizeof line,
                "%s / \"%s\": %d admitted, %d limited in %.3f s (offered %.1f/s, Traefik's load "
                "%d/s; %.1f ms not offered); Traefik's bounds [%lld, %lld]",
                c.source, c.desc, run.admitted, run.limited, elapsed_s, offered_per_s,
                c.incoming_load, unoffered_ms, static_cast<long long>(min),
                static_cast<long long>(max));
  return line;
}

}  // namespace edgeguard::testing
