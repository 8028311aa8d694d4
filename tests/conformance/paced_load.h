#pragma once
// Replays one of Traefik's rate-limit test loads against the binary, as Traefik's test does it:
// one source, a request, its answer, then the next tick of a ticker (back to back while
// hammering), until the load duration has passed. Every request's send and answer times are
// kept, and the verdict is judged on them rather than on the nominal duration.
//
// Why the judging is robust on a loaded machine: the limiter decides each request at some
// moment between its send and its answer. GCRA (Traefik's limiter too) loses schedule only when
// the bucket fills up, i.e. when no request comes for longer than it can absorb: maxDelay with
// burst 1, one emission interval T with a larger burst. Over each gap between two consecutive
// decisions (at most "answer of the later minus send of the earlier") the schedule can lose at
// most the part of that gap beyond what is absorbed. The sum of those parts is time in which the
// test, not the limiter, failed to offer load (a descheduled sender, a stalled connection); the
// lower bound is Traefik's computed on the elapsed time minus it. On an idle machine that sum is
// zero and the bounds are exactly Traefik's on the elapsed time. The upper bound needs no such
// care: no limiter of this rate admits more than rate × (elapsed + maxDelay) + burst, and
// Traefik's own test would have run maxDelay longer (it holds the last admitted request).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/conformance/traefik_cases.h"
#include "tests/support/harness.h"

namespace edgeguard::testing {

struct PacedSample {
  Clock::time_point send, answer;
  int status = 0;
};

struct PacedRun {
  std::vector<PacedSample> samples;
  int admitted = 0, limited = 0;
  std::string odd;  // unexpected answers (neither 200 nor 429), for the failure message
};

// Sends `request` (one rendered ForwardAuth call) on one keep-alive connection to `port`.
PacedRun run_paced_load(int port, const TraefikRateCase& c, const std::string& request);

struct PacedJudgement {
  std::int64_t min = 0, max = 0;  // Traefik's bounds on the admitted count
  double elapsed_s = 0;           // first send to last answer
  double offered_per_s = 0;       // requests sent per second over that time
  double unoffered_ms = 0;        // time the test failed to offer load (see above)
  std::string describe(const TraefikRateCase& c, const PacedRun& run) const;
};

PacedJudgement judge_paced_load(const TraefikRateCase& c, const PacedRun& run);

}  // namespace edgeguard::testing
