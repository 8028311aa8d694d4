// The access-log follower on real files written the way Traefik writes them: one JSON object per
// request, each appended with a single write(2) on an O_APPEND descriptor that Traefik keeps open
// until USR1 makes it reopen the path. The test drives poll() itself, so every step is
// deterministic: nothing sleeps, nothing races a timer.
#include "guard/accesslog/access_log_follower.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace edgeguard {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test in the build tree, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::current_path() / "follower-tmp" /
            (std::string(info->test_suite_name()) + "." + info->name() + "." +
             std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// A line as Traefik v3 writes it with `accessLog.format: json` (keys in alphabetical order, as
// Go's encoding of a map writes them). `n` goes into the path so the test can tell lines apart.
std::string traefik_line(int n, int status = 401, const std::string& client = "198.51.100.7",
                         const std::string& router = "erp@docker") {
  return R"({"ClientAddr":")" + client + R"(:51234","ClientHost":")" + client +
         R"(","ClientPort":"51234","ClientUsername":"-","DownstreamContentSize":73,)"
         R"("DownstreamStatus":)" +
         std::to_string(status) +
         R"(,"Duration":18304751,"OriginContentSize":73,"OriginDuration":17000000,)"
         R"("OriginStatus":)" +
         std::to_string(status) +
         R"(,"Overhead":1304751,"RequestAddr":"erp.example.net","RequestContentSize":31,)"
         R"("RequestCount":)" +
         std::to_string(n) +
         R"(,"RequestHost":"erp.example.net","RequestMethod":"POST",)"
         R"("RequestPath":"/api/method/login?n=)" +
         std::to_string(n) +
         R"(","RequestPort":"-","RequestProtocol":"HTTP/1.1","RequestScheme":"https",)"
         R"("RetryAttempts":0,"RouterName":")" +
         router +
         R"(","ServiceAddr":"10.0.0.7:8000","ServiceName":"erp@docker",)"
         R"("ServiceURL":"http://10.0.0.7:8000","StartLocal":"2024-05-01T14:00:00.123456789+02:00",)"
         R"("StartUTC":"2024-05-01T12:00:00.123456789Z","entryPointName":"websecure",)"
         R"("level":"info","msg":"","time":"2024-05-01T14:00:00+02:00"})";
}

// Traefik's side: an O_APPEND descriptor, one write(2) per line, reopened by path on USR1.
class TraefikWriter {
 public:
  explicit TraefikWriter(std::string path) : path_(std::move(path)) { reopen(); }
  ~TraefikWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  // What Traefik does on USR1: close and open the path again (creating it if it is gone).
  void reopen() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd_, 0) << path_;
  }
  void raw(const std::string& bytes) {
    ASSERT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  void line(int n, int status = 401) { raw(traefik_line(n, status) + "\n"); }
  void lines(int from, int to) {
    for (int n = from; n < to; ++n) line(n);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// What the handler saw: the request number of each record, in order.
struct Seen {
  std::vector<int> numbers;
  std::vector<int> statuses;
  AccessLogFollower::RecordHandler handler() {
    return [this](const AccessRecord& r) {
      const auto q = r.path.find("?n=");
      ASSERT_NE(q, std::string_view::npos) << r.path;
      numbers.push_back(std::atoi(std::string(r.path.substr(q + 3)).c_str()));
      statuses.push_back(r.downstream_status);
      EXPECT_EQ(r.router_name, "erp@docker");
      EXPECT_EQ(r.client_host, "198.51.100.7");
      EXPECT_EQ(r.request_host, "erp.example.net");
      EXPECT_EQ(r.method, "POST");
    };
  }
};

AccessLogFollowerOptions options(const std::string& path,
                                 std::size_t max_bytes_per_poll = std::size_t{4} << 20) {
  AccessLogFollowerOptions o;
  o.file = path;
  o.max_bytes_per_poll = max_bytes_per_poll;
  return o;
}

std::vector<int> range(int from, int to) {
  std::vector<int> v;
  for (int n = from; n < to; ++n) v.push_back(n);
  return v;
}

std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Descriptors of this process on files that were deleted (Linux names them "... (deleted)").
int open_deleted_files() {
  int n = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto target = fs::read_symlink(entry.path(), ec).string();
    if (!ec && target.ends_with(" (deleted)")) ++n;
  }
  return n;
}

// Polls until the follower says nothing more is waiting (a backlog may take several calls).
AccessLogPoll poll_all(AccessLogFollower& f, Seen& seen) {
  AccessLogPoll total;
  for (int i = 0; i < 10000; ++i) {
    const AccessLogPoll r = f.poll(seen.handler());
    total.bytes += r.bytes;
    total.records += r.records;
    total.malformed += r.malformed;
    total.oversized += r.oversized;
    if (total.first_error == nullptr) total.first_error = r.first_error;
    if (!r.more) return total;
  }
  ADD_FAILURE() << "the follower never caught up";
  return total;
}

TEST(AccessLogFollowerTest, StartsAtTheEndOfAnExistingFile) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  traefik.lines(0, 3);
  traefik.raw(traefik_line(3).substr(0, 100));  // Traefik half way through a line at our start

  AccessLogFollower follower(options(path));
  Seen seen;
  EXPECT_EQ(poll_all(follower, seen).records, 0u);
  traefik.raw(traefik_line(3).substr(100) + "\n");
  traefik.lines(4, 6);
  const AccessLogPoll r = poll_all(follower, seen);
  // History stays history, and the tail of the line we started inside is not a malformed line.
  EXPECT_EQ(seen.numbers, range(4, 6));
  EXPECT_EQ(r.records, 2u);
  EXPECT_EQ(r.malformed, 0u);
  EXPECT_EQ(follower.stats().lines.load(), 2u);
  EXPECT_TRUE(follower.stats().following.load());
}

TEST(AccessLogFollowerTest, AppendedLinesAreDeliveredOnceAndInOrder) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path));
  Seen seen;
  int next = 0;
  for (int round = 0; round < 20; ++round) {
    const int count = round % 4;  // some polls find nothing new
    traefik.lines(next, next + count);
    next += count;
    const AccessLogPoll r = poll_all(follower, seen);
    EXPECT_EQ(r.records, static_cast<std::uint64_t>(count));
  }
  EXPECT_EQ(poll_all(follower, seen).records, 0u);
  EXPECT_EQ(seen.numbers, range(0, next));
  EXPECT_EQ(follower.stats().records.load(), static_cast<std::uint64_t>(next));
  EXPECT_EQ(follower.stats().bytes.load(), fs::file_size(path));
  EXPECT_EQ(follower.stats().malformed.load(), 0u);
  EXPECT_EQ(follower.stats().rotations.load(), 0u);
  EXPECT_EQ(follower.stats().truncations.load(), 0u);
}

TEST(AccessLogFollowerTest, StatusesAndParsedFieldsReachTheHandler) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path));
  Seen seen;
  traefik.line(0, 200);
  traefik.line(1, 401);
  traefik.line(2, 403);
  poll_all(follower, seen);
  EXPECT_EQ(seen.statuses, (std::vector<int>{200, 401, 403}));
}

TEST(AccessLogFollowerTest, APartialLineWaitsForItsNewline) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path));
  Seen seen;
  const std::string line = traefik_line(7);
  traefik.raw(line.substr(0, 40));
  EXPECT_EQ(poll_all(follower, seen).records, 0u);
  traefik.raw(line.substr(40, 200));
  EXPECT_EQ(poll_all(follower, seen).records, 0u);
  EXPECT_EQ(follower.pending_bytes(), 240u);
  traefik.raw(line.substr(240) + "\n" + traefik_line(8).substr(0, 10));
  const AccessLogPoll r = poll_all(follower, seen);
  EXPECT_EQ(r.records, 1u);
  EXPECT_EQ(r.malformed, 0u);
  EXPECT_EQ(seen.numbers, (std::vector<int>{7}));
  traefik.raw(traefik_line(8).substr(10) + "\n");
  EXPECT_EQ(poll_all(follower, seen).records, 1u);
  EXPECT_EQ(seen.numbers, (std::vector<int>{7, 8}));
  EXPECT_EQ(follower.pending_bytes(), 0u);
}

// logrotate's default: rename the file, create a new one, then USR1 makes Traefik reopen. Until
// the signal arrives Traefik keeps appending to the renamed file.
TEST(AccessLogFollowerTest, RenameRotationLosesNoLineAndReadsNoneTwice) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path));
  Seen seen;
  traefik.lines(0, 3);
  EXPECT_EQ(poll_all(follower, seen).records, 3u);

  traefik.lines(3, 5);  // after the last poll, before the rename
  ASSERT_EQ(::rename(path.c_str(), dir.file("access.log.1").c_str()), 0);
  traefik.lines(5, 7);  // after the rename, before the new file exists
  EXPECT_EQ(poll_all(follower, seen).records, 4u);
  EXPECT_EQ(follower.stats().rotations.load(), 1u);
  EXPECT_EQ(follower.stats().missing_polls.load(), 1u);  // between the rename and the new file

  std::ofstream(path).close();  // logrotate's `create`
  traefik.lines(7, 8);          // USR1 not sent yet: still the old file
  EXPECT_EQ(poll_all(follower, seen).records, 1u);
  traefik.reopen();  // postrotate: kill -USR1
  traefik.lines(8, 11);
  EXPECT_EQ(poll_all(follower, seen).records, 3u);
  traefik.lines(11, 12);
  EXPECT_EQ(poll_all(follower, seen).records, 1u);

  EXPECT_EQ(seen.numbers, range(0, 12));
  EXPECT_EQ(follower.stats().records.load(), 12u);
  EXPECT_EQ(follower.stats().rotations.load(), 1u);
  EXPECT_EQ(follower.stats().truncations.load(), 0u);
  EXPECT_EQ(follower.stats().malformed.load(), 0u);
  EXPECT_EQ(follower.stats().missing_polls.load(), 1u);
}

// Everything happens between two polls: lines to the old file, the rename, the new file, the
// reopen, lines to the new file. The old file's lines still come first and all of them come.
TEST(AccessLogFollowerTest, RenameRotationBetweenTwoPollsKeepsFileOrder) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path));
  Seen seen;
  traefik.lines(0, 2);
  poll_all(follower, seen);
  traefik.lines(2, 4);
  ASSERT_EQ(::rename(path.c_str(), dir.file("access.log.1").c_str()), 0);
  traefik.lines(4, 5);
  traefik.reopen();
  traefik.lines(5, 8);
  const AccessLogPoll r = poll_all(follower, seen);
  EXPECT_EQ(r.records, 6u);
  EXPECT_EQ(seen.numbers, range(0, 8));
  // The old file is closed once drained: the writer has moved on.
  traefik.lines(8, 9);
  EXPECT_EQ(poll_all(follower, seen).records, 1u);
  EXPECT_EQ(seen.numbers, range(0, 9));
  EXPECT_EQ(follower.stats().rotations.load(), 1u);
  EXPECT_EQ(follower.stats().missing_polls.load(), 0u);
}

// A budget that runs out inside the old file: the new file waits until the old one is done.
TEST(AccessLogFollowerTest, RenameRotationWithABacklogFinishesTheOldFileFirst) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path, 4096));
  Seen seen;
  traefik.lines(0, 40);  // ~40 KiB: ten polls
  ASSERT_EQ(::rename(path.c_str(), dir.file("access.log.1").c_str()), 0);
  traefik.reopen();
  traefik.lines(40, 50);
  const AccessLogPoll r = poll_all(follower, seen);
  EXPECT_EQ(r.records, 50u);
  EXPECT_EQ(seen.numbers, range(0, 50));
}

// Rotated twice before Traefik reopened: it still writes to the first file, which is read to
// its end before the files that came after it.
TEST(AccessLogFollowerTest, TwoRenamesBeforeTheWriterReopensLoseNothing) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path));
  Seen seen;
  traefik.lines(0, 2);
  EXPECT_EQ(poll_all(follower, seen).records, 2u);
  ASSERT_EQ(::rename(path.c_str(), dir.file("access.log.1").c_str()), 0);
  std::ofstream(path).close();
  EXPECT_EQ(poll_all(follower, seen).records, 0u);
  ASSERT_EQ(::rename(path.c_str(), dir.file("access.log.2").c_str()), 0);
  std::ofstream(path).close();
  traefik.lines(2, 4);  // still the first file
  EXPECT_EQ(poll_all(follower, seen).records, 2u);
  traefik.reopen();
  traefik.lines(4, 6);
  EXPECT_EQ(poll_all(follower, seen).records, 2u);
  EXPECT_EQ(seen.numbers, range(0, 6));
  EXPECT_EQ(follower.stats().rotations.load(), 2u);
}

// A writer that died half way through its last line: once the writer has moved on, what the old
// file ends with is all there will be of that line. A whole record without its newline is still
// a record; a cut one is a malformed line, counted.
TEST(AccessLogFollowerTest, TheUnfinishedLastLineOfARotatedFileIsSettled) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  AccessLogFollower follower(options(path));
  Seen seen;
  {
    TraefikWriter traefik(path);
    traefik.line(0);
    traefik.raw(traefik_line(1));  // no newline
    EXPECT_EQ(poll_all(follower, seen).records, 1u);
    ASSERT_EQ(::rename(path.c_str(), dir.file("access.log.1").c_str()), 0);
    traefik.reopen();
    traefik.line(2);
    traefik.raw(traefik_line(3).substr(0, 30));  // cut
  }
  EXPECT_EQ(poll_all(follower, seen).records, 2u);
  EXPECT_EQ(seen.numbers, range(0, 3));
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);  // copytruncate: the cut line will not be finished
  TraefikWriter traefik(path);
  traefik.line(4);
  const AccessLogPoll r = poll_all(follower, seen);
  EXPECT_EQ(r.records, 1u);
  EXPECT_EQ(r.malformed, 1u);
  EXPECT_EQ(seen.numbers, (std::vector<int>{0, 1, 2, 4}));
}

// logrotate `copytruncate`: the file is copied, then cut to zero in place; Traefik's O_APPEND
// descriptor goes on writing at the new end.
TEST(AccessLogFollowerTest, TruncateRotationReadsTheNewContentOnce) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path));
  Seen seen;
  traefik.lines(0, 5);
  EXPECT_EQ(poll_all(follower, seen).records, 5u);
  fs::copy_file(path, dir.file("access.log.1"));
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  traefik.lines(5, 7);  // shorter than what was read: the size says it
  EXPECT_EQ(poll_all(follower, seen).records, 2u);
  EXPECT_EQ(follower.stats().truncations.load(), 1u);
  traefik.lines(7, 9);
  EXPECT_EQ(poll_all(follower, seen).records, 2u);
  EXPECT_EQ(seen.numbers, range(0, 9));
  EXPECT_EQ(follower.stats().rotations.load(), 0u);
  EXPECT_EQ(follower.stats().malformed.load(), 0u);
}

// Truncated, then written past the old read position before the next poll: the size alone
// cannot tell, the byte before the read position can (a longer first line moves the newline).
TEST(AccessLogFollowerTest, TruncateRotationIsSeenEvenWhenTheFileRegrewPastTheReadPosition) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path));
  Seen seen;
  traefik.lines(0, 3);
  EXPECT_EQ(poll_all(follower, seen).records, 3u);
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  traefik.line(1000);  // one digit more than the old lines: a newline no longer sits there
  traefik.lines(1001, 1005);
  const AccessLogPoll r = poll_all(follower, seen);
  EXPECT_EQ(follower.stats().truncations.load(), 1u);
  EXPECT_EQ(r.records, 5u);
  EXPECT_EQ(r.malformed, 0u);
  EXPECT_EQ(seen.numbers, concat(range(0, 3), range(1000, 1005)));
}

TEST(AccessLogFollowerTest, ADeletedAndRecreatedFileIsFollowedFromItsStart) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  Seen seen;
  auto traefik = std::make_unique<TraefikWriter>(path);
  AccessLogFollower follower(options(path));
  traefik->lines(0, 2);
  EXPECT_EQ(poll_all(follower, seen).records, 2u);
  traefik.reset();
  ASSERT_EQ(::unlink(path.c_str()), 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(poll_all(follower, seen).records, 0u);
  EXPECT_EQ(follower.stats().missing_polls.load(), 3u);
  // Read to its end and let go: a deleted file held open would keep its disk space.
  EXPECT_EQ(open_deleted_files(), 0);
  EXPECT_FALSE(follower.stats().following.load());
  traefik = std::make_unique<TraefikWriter>(path);
  traefik->lines(2, 5);
  EXPECT_EQ(poll_all(follower, seen).records, 3u);
  EXPECT_TRUE(follower.stats().following.load());
  EXPECT_EQ(seen.numbers, range(0, 5));
  EXPECT_EQ(follower.stats().rotations.load(), 1u);
  EXPECT_EQ(follower.stats().missing_polls.load(), 3u);
}

TEST(AccessLogFollowerTest, AFileThatAppearsAfterStartIsReadFromItsBeginning) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  AccessLogFollower follower(options(path));
  Seen seen;
  EXPECT_FALSE(follower.stats().following.load());
  EXPECT_EQ(poll_all(follower, seen).records, 0u);
  EXPECT_EQ(follower.stats().missing_polls.load(), 2u);  // at start and at the first poll
  TraefikWriter traefik(path);
  traefik.lines(0, 4);
  EXPECT_EQ(poll_all(follower, seen).records, 4u);
  EXPECT_EQ(seen.numbers, range(0, 4));
  EXPECT_EQ(follower.stats().missing_polls.load(), 2u);
}

TEST(AccessLogFollowerTest, AnOversizedLineIsSkippedCountedAndNeverBuffered) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path, 256 * 1024));  // the long line spans several polls
  Seen seen;
  traefik.line(0);
  // 2 MiB of one line, written in pieces as a runaway writer would.
  const std::string chunk(256 * 1024, 'x');
  std::size_t max_pending = 0;
  for (int i = 0; i < 8; ++i) {
    traefik.raw(chunk);
    poll_all(follower, seen);
    max_pending = std::max(max_pending, follower.pending_bytes());
  }
  traefik.raw("\n");
  traefik.line(1);
  const AccessLogPoll r = poll_all(follower, seen);
  EXPECT_EQ(r.records, 1u);
  EXPECT_EQ(seen.numbers, (std::vector<int>{0, 1}));
  EXPECT_EQ(follower.stats().oversized.load(), 1u);
  EXPECT_EQ(follower.stats().malformed.load(), 0u);
  EXPECT_LE(max_pending, AccessLogFollower::kMaxLineBytes);
  EXPECT_EQ(follower.pending_bytes(), 0u);

  // A 2 MiB line written at once, followed by a good line in the same poll.
  traefik.raw(std::string(2 << 20, '{') + "\n");
  traefik.line(2);
  poll_all(follower, seen);
  EXPECT_EQ(seen.numbers, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(follower.stats().oversized.load(), 2u);
  EXPECT_EQ(follower.stats().malformed.load(), 0u);
}

TEST(AccessLogFollowerTest, ABacklogOverThePollBudgetIsDeliveredOverSeveralPolls) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  AccessLogFollower follower(options(path, 64 * 1024));
  Seen seen;
  {
    TraefikWriter traefik(path);
    traefik.lines(0, 5000);  // ~5 MiB, appeared after start: all of it is new
  }
  const std::uint64_t size = fs::file_size(path);
  int polls = 0;
  std::uint64_t bytes = 0;
  for (;;) {
    const AccessLogPoll r = follower.poll(seen.handler());
    ++polls;
    EXPECT_LE(r.bytes, 64u * 1024) << "poll " << polls;
    bytes += r.bytes;
    if (!r.more) break;
    ASSERT_LT(polls, 1000);
  }
  EXPECT_EQ(bytes, size);
  EXPECT_GE(polls, static_cast<int>(size / (64 * 1024)));
  EXPECT_EQ(seen.numbers, range(0, 5000));
  EXPECT_EQ(follower.stats().records.load(), 5000u);
}

TEST(AccessLogFollowerTest, MalformedLinesAreCountedAndNotDelivered) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  TraefikWriter traefik(path);
  AccessLogFollower follower(options(path));
  Seen seen;
  traefik.line(0);
  // Traefik's default `common` format, a cut JSON line, a record without its client, a blank
  // line (ignored, not malformed), and a CRLF line (accepted).
  traefik.raw(
      R"(198.51.100.7 - - [01/May/2024:12:00:00 +0000] "POST /api/method/login HTTP/1.1" 401)"
      "\n");
  traefik.raw(traefik_line(99).substr(0, 50) + "\n");
  traefik.raw(R"({"RequestHost":"h","RequestMethod":"GET","RequestPath":"/?n=98",)"
              R"("StartUTC":"2024-05-01T12:00:00Z"})"
              "\n\n");
  traefik.raw(traefik_line(1) + "\r\n");
  const AccessLogPoll r = poll_all(follower, seen);
  EXPECT_EQ(r.records, 2u);
  EXPECT_EQ(r.malformed, 3u);
  ASSERT_NE(r.first_error, nullptr);
  EXPECT_EQ(std::string(r.first_error), "not a JSON object");
  EXPECT_EQ(seen.numbers, (std::vector<int>{0, 1}));
  EXPECT_EQ(follower.stats().lines.load(), 5u);
  EXPECT_EQ(follower.stats().malformed.load(), 3u);
}

// Logs go to stdout; this captures them around a run of polls.
class StdoutCapture {
 public:
  explicit StdoutCapture(std::string path) : path_(std::move(path)) {
    std::fflush(stdout);
    saved_ = ::dup(STDOUT_FILENO);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, STDOUT_FILENO);
    ::close(fd);
  }
  ~StdoutCapture() { restore(); }
  std::string text() {
    restore();
    std::ifstream in(path_);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(AccessLogFollowerTest, LogsOncePerStateChangeNotOncePerPoll) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  Seen seen;
  StdoutCapture capture(dir.file("stdout"));
  {
    AccessLogFollower follower(options(path));
    for (int i = 0; i < 5; ++i) follower.poll(seen.handler());  // missing, five times
    {
      TraefikWriter traefik(path);
      traefik.raw("not json\nnot json either\n");  // malformed twice in a row: said once
      traefik.line(0);
      for (int i = 0; i < 3; ++i) follower.poll(seen.handler());
    }
    ASSERT_EQ(::unlink(path.c_str()), 0);
    for (int i = 0; i < 5; ++i) follower.poll(seen.handler());
    TraefikWriter traefik(path);
    traefik.line(1);
    follower.poll(seen.handler());
    EXPECT_EQ(follower.stats().missing_polls.load(), 1u + 5u + 5u);  // start, then the polls
  }
  const std::string out = capture.text();
  EXPECT_EQ(count(out, "\"event\":\"access_log_missing\""), 2) << out;
  EXPECT_EQ(count(out, "\"event\":\"access_log_following\""), 2) << out;
  EXPECT_EQ(count(out, "\"event\":\"access_log_malformed\""), 1) << out;
  EXPECT_EQ(count(out, "\"event\":\"access_log_rotated\""), 1) << out;
  EXPECT_EQ(count(out, "\"from\":\"start\""), 2) << out;
  EXPECT_EQ(seen.numbers, (std::vector<int>{0, 1}));
}

TEST(AccessLogFollowerTest, AnUnreadablePathIsAStateNotACrash) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  fs::create_directories(path);  // a directory where the log should be
  AccessLogFollower follower(options(path));
  Seen seen;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(follower.poll(seen.handler()).records, 0u);
  EXPECT_FALSE(follower.stats().following.load());
  EXPECT_EQ(follower.stats().missing_polls.load(), 4u);
  fs::remove(path);
  TraefikWriter traefik(path);
  traefik.line(0);
  EXPECT_EQ(poll_all(follower, seen).records, 1u);
}

// A FIFO is not a log file, and opening one for reading would wait for a writer: it is refused
// without blocking (were open(2) to block, this test would hang until ctest's timeout).
TEST(AccessLogFollowerTest, AFifoAtThePathIsRefusedWithoutBlocking) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  AccessLogFollower follower(options(path));
  Seen seen;
  EXPECT_EQ(follower.poll(seen.handler()).records, 0u);
  EXPECT_FALSE(follower.stats().following.load());
  EXPECT_EQ(follower.stats().missing_polls.load(), 2u);
}

}  // namespace
}  // namespace edgeguard
