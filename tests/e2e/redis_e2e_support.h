#pragma once
// Shared by the Redis end-to-end suites: a tally of answers that keeps the unexpected ones for
// the failure message.
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/harness.h"

namespace edgeguard::testing {

struct Tally {
  std::atomic<int> admitted{0}, limited{0}, other{0};
  std::mutex mu;
  std::vector<std::string> odd;  // unexpected answers, for the failure message

  void add(const HttpResponse& r) {
    if (r.status == 200) {
      ++admitted;
    } else if (r.status == 429) {
      ++limited;
    } else {
      ++other;
      std::lock_guard<std::mutex> lock(mu);
      odd.push_back(std::to_string(r.status) + " " + r.body);
    }
  }
  std::string odd_text() {
    std::lock_guard<std::mutex> lock(mu);
    std::string s;
    for (const auto& o : odd) s += o + "\n";
    return s;
  }
};

}  // namespace edgeguard::testing
