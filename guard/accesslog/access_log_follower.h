#pragma once
// Follows Traefik's JSON access log the way `tail -F` does and hands out each complete new line
// once, parsed by the replay parser (AccessLogParser). No thread of its own: the owner calls
// poll() on its timer, and each call reads what is new, up to a byte budget, so a large backlog
// is spread over several calls instead of stalling the owner's loop.
//
// - Start: at the end of a file that exists when the follower is made. What was there before
//   edgeguard started is history, not new failures (`edgeguard replay` is the tool for history);
//   a file that appears later is read from its beginning.
// - Rotation by rename (logrotate's default, then Traefik reopens on USR1): the path names a new
//   inode. The old file stays open and is read to its end until the writer has moved to the new
//   file (the new file has bytes), so a line written to the old file just before or after the
//   rename is still delivered, before any line of the new file.
// - Rotation by truncation (logrotate `copytruncate`): the file is shorter than what was read, or
//   the byte before the read position changed: read again from the start of the new content.
//   Lines written after the last poll and before the truncation are only in logrotate's copy;
//   that loss belongs to copytruncate itself (logrotate's manual says so), poll often to shrink it.
// - A partial last line waits for its newline. A line over kMaxLineBytes is skipped and counted,
//   never buffered: memory stays within one line bound plus one read block.
// - A missing or unreadable file is a state, not an error: each poll retries, counts, and logs
//   only when the state changes.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "guard/accesslog/access_log.h"
#include "guard/accesslog/log_reader.h"

namespace edgeguard {

struct AccessLogFollowerOptions {
  std::string file;  // failures.access_log.file: Traefik's accessLog.filePath
  // Bytes read per poll() at most (the last line may finish in the next call).
  std::size_t max_bytes_per_poll = std::size_t{4} << 20;
  // Request headers to capture (`request_<Name>` fields), as AccessLogParser takes them: the
  // client-ip header when Traefik sits behind a CDN and ClientHost is the CDN's address.
  std::vector<std::string> header_names;
};

// Counters the follower owns; poll() writes them, any thread may read them. Each is named for
// the metric it is meant to become (edgeguard_access_log_*).
struct AccessLogFollowerStats {
  // bytes_total: bytes read from the log.
  std::atomic<std::uint64_t> bytes{0};
  // lines_total: complete, non-blank lines read.
  std::atomic<std::uint64_t> lines{0};
  // records_total: lines parsed and handed to the handler.
  std::atomic<std::uint64_t> records{0};
  // malformed_lines_total: lines the parser refused (not JSON, a field missing or mistyped).
  std::atomic<std::uint64_t> malformed{0};
  // oversized_lines_total: lines over kMaxLineBytes, skipped.
  std::atomic<std::uint64_t> oversized{0};
  // rotations_total{how="rename"}: the path came to name another file (renamed or deleted).
  std::atomic<std::uint64_t> rotations{0};
  // rotations_total{how="truncate"}: the file was cut in place (copytruncate).
  std::atomic<std::uint64_t> truncations{0};
  // missing_polls_total: polls (and the start) that found no readable file at the path.
  std::atomic<std::uint64_t> missing_polls{0};
  // read_errors_total: read(2) failures on an open file.
  std::atomic<std::uint64_t> read_errors{0};
  // following (gauge, 1/0): a file at the path is open and followed.
  std::atomic<bool> following{false};
};

// What one poll() did.
struct AccessLogPoll {
  std::uint64_t bytes = 0;            // read from the file(s)
  std::uint64_t records = 0;          // handed to the handler
  std::uint64_t malformed = 0;        // complete lines the parser refused (not handed out)
  std::uint64_t oversized = 0;        // lines over the bound, skipped
  const char* first_error = nullptr;  // the parser's reason for the first malformed line
  bool more = false;                  // the byte budget ran out, there may be more: poll again soon
};

class AccessLogFollower {
 public:
  // Called once per parsed line, in file order. The record's strings are views into the
  // follower's buffers, valid only during the call. It must not throw: the line is consumed.
  using RecordHandler = std::function<void(const AccessRecord&)>;

  // Looks at the file now: if it exists, following starts at its current end.
  explicit AccessLogFollower(AccessLogFollowerOptions options);
  ~AccessLogFollower();
  AccessLogFollower(const AccessLogFollower&) = delete;
  AccessLogFollower& operator=(const AccessLogFollower&) = delete;

  // Reads what is new (at most max_bytes_per_poll bytes) and calls `on_record` per line. One
  // thread at a time (the owner's timer); never blocks on anything but the file system.
  AccessLogPoll poll(const RecordHandler& on_record);

  const AccessLogFollowerStats& stats() const { return stats_; }
  const std::string& file() const { return options_.file; }
  // Bytes held for an unfinished line, across both files (tests check the bound).
  std::size_t pending_bytes() const { return current_.partial.size() + old_.partial.size(); }

  static constexpr std::size_t kMaxLineBytes = LogReader::kMaxLineBytes;

 private:
  // One open file and where its unread bytes start.
  struct Tail {
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
    std::uint64_t offset = 0;  // next byte to read
    char last_byte = 0;        // the byte at offset - 1, to notice a rewrite in place
    std::string partial;       // an unfinished line
    bool skipping = false;     // inside a line that will not be delivered: drop to its newline
    bool open() const { return fd >= 0; }
  };

  // Where following stands; a change of state is logged, a repeat is not.
  enum class State { kNone, kFollowing, kMissing, kUnreadable };
  // The file as it was when the follower was made: followed from that size, not from 0.
  struct Start {
    dev_t dev = 0;
    ino_t ino = 0;
    std::uint64_t size = 0;
    bool valid = false;
  };

  void open_current();
  void close(Tail& t);
  void set_state(State state, const std::string& reason);
  enum class ReadEnd { kEndOfFile, kBudget, kError };
  // Reads `t` until its end, the budget, or an error.
  ReadEnd read(Tail& t, std::uint64_t& budget, AccessLogPoll& result,
               const RecordHandler& on_record);
  void consume(Tail& t, const char* data, std::size_t size, AccessLogPoll& result,
               const RecordHandler& on_record);
  void deliver(std::string_view line, AccessLogPoll& result, const RecordHandler& on_record);
  // Hands out an unfinished line whose file will not grow any more here (if it parses).
  void finish(Tail& t, AccessLogPoll& result, const RecordHandler& on_record);
  bool truncated(Tail& t);

  const AccessLogFollowerOptions options_;
  AccessLogParser parser_;
  AccessRecord record_;
  Start start_;
  Tail current_;             // the file the path names
  Tail old_;                 // a renamed file still read until the writer has moved on
  std::vector<char> block_;  // one read
  State state_ = State::kNone;
  std::string state_reason_;
  int read_errno_ = 0;          // the last read error, logged once
  bool last_line_bad_ = false;  // a malformed line is logged when it follows a good one
  AccessLogFollowerStats stats_;
};

}  // namespace edgeguard
