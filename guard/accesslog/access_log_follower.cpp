#include "guard/accesslog/access_log_follower.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "guard/log/event_log.h"

namespace edgeguard {
namespace {

// One pread(2). Small enough to stay in cache while the parser runs over it; a poll reads as
// many as its budget allows.
constexpr std::size_t kBlockBytes = 64 * 1024;

// The path names nothing (yet): expected between a rename and the new file, or before Traefik
// first writes. Anything else (permissions, a directory) is a configuration problem.
bool is_absent(int err) {
  return err == ENOENT || err == ENOTDIR;
}

}  // namespace

AccessLogFollower::AccessLogFollower(AccessLogFollowerOptions options)
    : options_(std::move(options)), parser_(options_.header_names), block_(kBlockBytes) {
  // Start at the end of what is there now. Those lines were written before edgeguard was
  // watching: they are history, not new failures, and counting them again after every restart
  // would ban for old mistakes. `edgeguard replay` is the tool for history.
  struct stat st {};
  if (::stat(options_.file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    start_ = {st.st_dev, st.st_ino, static_cast<std::uint64_t>(st.st_size), true};
  }
  open_current();
  if (!current_.open()) stats_.missing_polls.fetch_add(1, std::memory_order_relaxed);
  stats_.following.store(current_.open(), std::memory_order_relaxed);
}

AccessLogFollower::~AccessLogFollower() {
  close(current_);
  close(old_);
}

void AccessLogFollower::close(Tail& t) {
  if (t.fd >= 0) ::close(t.fd);
  t = Tail{};
}

void AccessLogFollower::set_state(State state, const std::string& reason) {
  if (state == state_ && reason == state_reason_) return;  // said once per change, not per poll
  state_ = state;
  state_reason_ = reason;
  if (state == State::kMissing) {
    log_event("warn", "access_log_missing", {{"file", options_.file}, {"error", reason}});
  } else if (state == State::kUnreadable) {
    log_event("error", "access_log_unreadable", {{"file", options_.file}, {"error", reason}});
  }
}

void AccessLogFollower::open_current() {
  // O_NONBLOCK: a FIFO at the path must not block the owner's loop in open(2) waiting for a
  // writer (it is refused just below); on a regular file the flag changes nothing.
  const int fd = ::open(options_.file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    set_state(is_absent(err) ? State::kMissing : State::kUnreadable, std::strerror(err));
    return;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    set_state(State::kUnreadable, "not a regular file");
    return;
  }
  Tail t;
  t.fd = fd;
  t.dev = st.st_dev;
  t.ino = st.st_ino;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  // The file that was there at start (opened now, or later once it became readable) is
  // followed from where it ended then; any other file is new since start: from its beginning.
  const bool at_start_file = start_.valid && start_.dev == t.dev && start_.ino == t.ino;
  if (at_start_file && start_.size <= size) t.offset = start_.size;
  start_.valid = false;
  if (t.offset > 0) {
    // Starting inside a line (Traefik was half way through writing it): skip to its newline
    // rather than hand out its tail as a malformed line.
    char c = '\n';
    if (::pread(fd, &c, 1, static_cast<off_t>(t.offset - 1)) == 1) {
      t.last_byte = c;
      t.skipping = c != '\n';
    }
  }
  current_ = std::move(t);
  state_ = State::kFollowing;
  state_reason_.clear();
  log_event("info", "access_log_following",
            {{"file", options_.file},
             {"from", current_.offset > 0 ? "end" : "start"},
             {"offset", static_cast<std::int64_t>(current_.offset)}});
}

AccessLogPoll AccessLogFollower::poll(const RecordHandler& on_record) {
  AccessLogPoll result;
  std::uint64_t budget = std::max<std::size_t>(options_.max_bytes_per_poll, 1);

  // What does the path name now?
  struct stat st {};
  int path_errno = 0;
  if (::stat(options_.file.c_str(), &st) != 0) {
    path_errno = errno;
  } else if (!S_ISREG(st.st_mode)) {
    path_errno = EINVAL;
  }
  const bool present = path_errno == 0;
  if (!present && !is_absent(path_errno)) {
    set_state(State::kUnreadable,
              path_errno == EINVAL ? "not a regular file" : std::strerror(path_errno));
  }
  if (start_.valid && (!present || st.st_dev != start_.dev || st.st_ino != start_.ino)) {
    start_.valid = false;  // the file of the start is gone: whatever comes is new
  }

  // Renamed away or deleted: the writer may still be appending to it until it reopens (Traefik
  // does on USR1, after logrotate's rename), so it becomes old_ and is read on.
  const auto is_path = [&](const Tail& t) {
    return present && t.open() && st.st_dev == t.dev && st.st_ino == t.ino;
  };
  // Two passes at most: a rename found while an older renamed file is still being read waits
  // for that one (files are read in the order they were written), then takes its turn.
  for (int pass = 0; pass < 2; ++pass) {
    if (current_.open() && !is_path(current_) && !old_.open()) {
      old_ = std::move(current_);
      current_ = Tail{};
      stats_.rotations.fetch_add(1, std::memory_order_relaxed);
      log_event("info", "access_log_rotated", {{"file", options_.file}, {"how", "rename"}});
    }
    if (!current_.open() && present) open_current();
    if (!old_.open()) break;
    // Has the writer moved on? Asked before reading the old file: once a newer file holds a
    // byte, the writer had written its last line to the old one before, so reading the old one
    // to its end after this point cannot miss a line.
    struct stat cur {};
    const bool writer_moved =
        (current_.open() && ::fstat(current_.fd, &cur) == 0 && cur.st_size > 0) ||
        (present && !is_path(current_) && st.st_size > 0);
    const std::uint64_t before = result.bytes;
    const bool at_end = read(old_, budget, result, on_record) == ReadEnd::kEndOfFile;
    // Deleted rather than renamed, and quiet: nobody can find its lines but us, and we have them.
    struct stat old_st {};
    const bool unlinked_idle =
        ::fstat(old_.fd, &old_st) == 0 && old_st.st_nlink == 0 && result.bytes == before;
    if (!at_end || !(writer_moved || unlinked_idle)) break;
    finish(old_, result, on_record);
    close(old_);
  }
  if (!current_.open()) {
    if (is_absent(path_errno)) set_state(State::kMissing, std::strerror(path_errno));
    stats_.missing_polls.fetch_add(1, std::memory_order_relaxed);
  }

  // The new file's lines come after every line of the old one.
  if (current_.open() && !old_.open()) {
    if (truncated(current_)) {
      finish(current_, result, on_record);
      current_.offset = 0;
      current_.last_byte = 0;
      stats_.truncations.fetch_add(1, std::memory_order_relaxed);
      log_event("info", "access_log_rotated", {{"file", options_.file}, {"how", "truncate"}});
    }
    // A read error is not "more": the owner retries on its timer, not at once.
    result.more = read(current_, budget, result, on_record) == ReadEnd::kBudget;
  } else {
    result.more = old_.open() && budget == 0;
  }
  stats_.following.store(current_.open(), std::memory_order_relaxed);
  return result;
}

// copytruncate empties the file in place: the file is shorter than what was read, or, when the
// writer has already written more than that since, the byte before the read position is no
// longer the one read there (an appended file never changes a byte it holds).
bool AccessLogFollower::truncated(Tail& t) {
  struct stat st {};
  if (::fstat(t.fd, &st) != 0) return false;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < t.offset) return true;
  if (size == t.offset || t.offset == 0) return false;
  char c;
  return ::pread(t.fd, &c, 1, static_cast<off_t>(t.offset - 1)) == 1 && c != t.last_byte;
}

AccessLogFollower::ReadEnd AccessLogFollower::read(Tail& t, std::uint64_t& budget,
                                                   AccessLogPoll& result,
                                                   const RecordHandler& on_record) {
  while (budget > 0) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(block_.size(), budget));
    const ssize_t n = ::pread(t.fd, block_.data(), want, static_cast<off_t>(t.offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      stats_.read_errors.fetch_add(1, std::memory_order_relaxed);
      if (err != read_errno_) {
        read_errno_ = err;
        log_event("error", "access_log_read_error",
                  {{"file", options_.file}, {"error", std::strerror(err)}});
      }
      return ReadEnd::kError;
    }
    read_errno_ = 0;
    if (n == 0) return ReadEnd::kEndOfFile;
    const auto got = static_cast<std::size_t>(n);
    t.offset += got;
    t.last_byte = block_[got - 1];
    budget -= got;
    result.bytes += got;
    stats_.bytes.fetch_add(got, std::memory_order_relaxed);
    consume(t, block_.data(), got, result, on_record);
  }
  return ReadEnd::kBudget;
}

void AccessLogFollower::consume(Tail& t, const char* data, std::size_t size, AccessLogPoll& result,
                                const RecordHandler& on_record) {
  const char* p = data;
  const char* const end = data + size;
  while (p < end) {
    const void* found = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    const char* nl = static_cast<const char*>(found);
    const char* stop = nl != nullptr ? nl : end;
    const std::size_t len = static_cast<std::size_t>(stop - p);
    if (t.skipping) {
      if (nl != nullptr) t.skipping = false;
    } else if (t.partial.size() + len > kMaxLineBytes) {
      // Not a log line a proxy writes: count it once, keep none of it, drop to its newline.
      ++result.oversized;
      stats_.oversized.fetch_add(1, std::memory_order_relaxed);
      log_event("warn", "access_log_line_oversized",
                {{"file", options_.file}, {"max_bytes", kMaxLineBytes}});
      t.partial.clear();
      t.skipping = nl == nullptr;
    } else if (nl == nullptr) {
      t.partial.append(p, len);  // waits for its newline
    } else if (t.partial.empty()) {
      deliver(std::string_view(p, len), result, on_record);  // whole in this block: no copy
    } else {
      t.partial.append(p, len);
      deliver(t.partial, result, on_record);
      t.partial.clear();
    }
    p = nl != nullptr ? nl + 1 : end;
  }
}

void AccessLogFollower::deliver(std::string_view line, AccessLogPoll& result,
                                const RecordHandler& on_record) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return;  // a blank line says nothing
  stats_.lines.fetch_add(1, std::memory_order_relaxed);
  const char* why = parser_.parse(line, record_);
  if (why != nullptr) {
    ++result.malformed;
    stats_.malformed.fetch_add(1, std::memory_order_relaxed);
    if (result.first_error == nullptr) result.first_error = why;
    // Once when good lines turn bad (at most once per poll): a log in the wrong format (Traefik's
    // default is `common`, not JSON) says so at once, without a line per request.
    if (!last_line_bad_ && result.malformed == 1) {
      log_event("warn", "access_log_malformed", {{"file", options_.file}, {"error", why}});
    }
    last_line_bad_ = true;
    return;
  }
  last_line_bad_ = false;
  ++result.records;
  stats_.records.fetch_add(1, std::memory_order_relaxed);
  on_record(record_);
}

void AccessLogFollower::finish(Tail& t, AccessLogPoll& result, const RecordHandler& on_record) {
  // The file will not grow any more here: an unfinished last line is all there will be of it.
  if (!t.skipping && !t.partial.empty()) deliver(t.partial, result, on_record);
  t.partial.clear();
  t.skipping = false;
}

}  // namespace edgeguard
