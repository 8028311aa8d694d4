#pragma once
// How many times each subject was banned within the escalation memory, for local mode (Redis
// keeps the same count in a key per subject with the memory as its TTL). Bounded: past
// `max_subjects`, forgotten offences go first, then the oldest; forgetting one only means a
// repeat offender's next ban is not escalated. A subject is held by the ban table's seeded
// 64-bit hash, not its text: 56 bytes an entry (a 32-byte node, its allocation and bucket)
// whatever the subject's length, where a string key cost twice that. Two subjects sharing a
// hash share a count, the same odds the ban table already takes for who is banned.
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace edgeguard {

class OffenceLog {
 public:
  explicit OffenceLog(std::size_t max_subjects) : max_subjects_(max_subjects) {}

  // Records one more ban of `subject` at `now_ns` and returns its number within `memory_ns`
  // (1 for a first ban, or the first after a quiet `memory_ns`).
  std::int64_t record(std::string_view subject, std::int64_t now_ns, std::int64_t memory_ns);
  // The number the next ban would get, without recording it.
  std::int64_t peek(std::string_view subject, std::int64_t now_ns, std::int64_t memory_ns) const;
  // A success (issue 13's login event) or an unban does not erase the history: nothing to do
  // here. Size, for tests and the memory bound.
  std::size_t size() const;

 private:
  struct Entry {
    std::int64_t count = 0;
    std::int64_t last_ns = 0;
  };
  void make_room(std::int64_t now_ns, std::int64_t memory_ns);

  std::size_t max_subjects_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Entry> entries_;  // by BanTable::key_of(subject, "")
};

}  // namespace edgeguard
