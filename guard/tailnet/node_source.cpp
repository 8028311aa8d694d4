#include "guard/tailnet/node_source.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

extern char** environ;

namespace edgeguard {
namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kMaxStderr = 512;

std::string errno_text(int err) {
  return std::strerror(err);
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Reads what is available on a readable fd. Returns false at EOF or on a hard error.
bool drain(int fd, std::string* into, std::size_t limit, bool* over_limit) {
  char buf[kChunk];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  const auto got = static_cast<std::size_t>(n);
  if (into->size() + got > limit) {
    into->append(buf, limit - into->size());
    *over_limit = true;
    return true;
  }
  into->append(buf, got);
  return true;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

std::string trim_stderr(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return text;
}

// Parsers emit nodes in source order, so an unchanged source gives an equal vector.
bool same_nodes(const NodeDirectory& current, const std::vector<TailnetNode>& nodes) {
  return std::equal(current.entries().begin(), current.entries().end(), nodes.begin(), nodes.end(),
                    [](const DirectoryEntry& e, const TailnetNode& n) { return e.node == n; });
}

}  // namespace

CommandOutput run_command(const std::vector<std::string>& argv, std::size_t max_bytes,
                          std::int64_t timeout_ns) {
  CommandOutput result;
  if (argv.empty() || argv[0].empty()) {
    result.error = "empty command";
    return result;
  }
  int out_fds[2], err_fds[2];
  if (::pipe2(out_fds, O_CLOEXEC) != 0) {
    result.error = "pipe: " + errno_text(errno);
    return result;
  }
  Fd out_read(out_fds[0]), out_write(out_fds[1]);
  if (::pipe2(err_fds, O_CLOEXEC) != 0) {
    result.error = "pipe: " + errno_text(errno);
    return result;
  }
  Fd err_read(err_fds[0]), err_write(err_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  // The server may block or handle signals on its threads; the child starts clean.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawn_rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  out_write.reset();
  err_write.reset();
  if (spawn_rc != 0) {
    result.error = "cannot run " + argv[0] + ": " + errno_text(spawn_rc);
    return result;
  }

  // A pidfd lets one poll() wait for output and exit together, with the deadline as timeout.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
  bool out_open = true, err_open = true, exited = false, over_limit = false, timed_out = false;
  bool err_over = false;
  int status = 0;
  std::string err_text;
  while ((out_open || err_open || !exited) && !over_limit) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) {
      timed_out = true;
      break;
    }
    const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    pollfd fds[3];
    nfds_t n = 0;
    int out_i = -1, err_i = -1, pid_i = -1;
    if (out_open) out_i = static_cast<int>(n), fds[n++] = {out_read.get(), POLLIN, 0};
    if (err_open) err_i = static_cast<int>(n), fds[n++] = {err_read.get(), POLLIN, 0};
    if (!exited && pidfd.get() >= 0)
      pid_i = static_cast<int>(n), fds[n++] = {pidfd.get(), POLLIN, 0};
    // Without a pidfd (old kernel) the exit is polled every 10 ms once the pipes are closed.
    const int wait_ms = pid_i < 0 && !exited ? static_cast<int>(std::min<long>(left_ms, 10))
                                             : static_cast<int>(std::min<long>(left_ms, 60'000));
    const int ready = ::poll(fds, n, wait_ms);
    if (ready < 0 && errno != EINTR) {
      result.error = "poll: " + errno_text(errno);
      break;
    }
    if (ready > 0) {
      if (out_i >= 0 && fds[out_i].revents != 0) {
        out_open = drain(out_read.get(), &result.out, max_bytes, &over_limit);
      }
      if (err_i >= 0 && fds[err_i].revents != 0) {
        err_open = drain(err_read.get(), &err_text, kMaxStderr, &err_over);
        if (err_over) err_open = false;  // enough for a message; the rest is dropped
      }
    }
    if (!exited && (pid_i < 0 || (ready > 0 && fds[pid_i].revents != 0))) {
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
      } else if (w < 0 && errno != EINTR) {
        exited = true;  // reaped elsewhere (SIGCHLD ignored?): the status is unknown
        status = -1;
      }
    }
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!result.error.empty()) {
    result.out.clear();
    return result;
  }
  std::string detail;
  if (over_limit) {
    detail = "output exceeds " + std::to_string(max_bytes) + " bytes";
  } else if (timed_out) {
    detail = "timed out after " + std::to_string(timeout_ns / 1'000'000) + " ms";
  } else if (status == -1) {
    detail = "exit status unavailable";
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    detail = describe_status(status);
  }
  if (!detail.empty()) {
    result.out.clear();
    result.error = argv[0] + ": " + detail;
    const std::string err = trim_stderr(std::move(err_text));
    if (!err.empty()) result.error += " (stderr: " + err + ")";
    return result;
  }
  result.ok = true;
  return result;
}

NodeSource::NodeSource(NodeSourceConfig config)
    : config_(std::move(config)), current_(std::make_shared<const NodeDirectory>()) {}

LoadResult NodeSource::fail(std::string error) {
  loads_failed_.fetch_add(1, std::memory_order_relaxed);
  LoadResult r;
  r.error = std::move(error);
  r.nodes = current_.get()->size();
  return r;
}

LoadResult NodeSource::refresh() {
  std::lock_guard<std::mutex> lock(load_mu_);
  return refresh_locked();
}

LoadResult NodeSource::refresh_locked() {
  std::string text;
  std::string where;
  if (!config_.command.empty()) {
    where = "command " + config_.command[0];
    CommandOutput out = run_command(config_.command, config_.max_bytes, config_.command_timeout_ns);
    if (!out.ok) return fail(std::move(out.error));
    text = std::move(out.out);
  } else {
    where = config_.file;
    Fd fd(::open(config_.file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      const int err = errno;
      last_stamp_ = FileStamp{static_cast<std::uint64_t>(err), 0, 0, 0, false};
      return fail(where + ": " + errno_text(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail(where + ": " + errno_text(errno));
    // The stamp comes from the very file read, so a rename racing this load is seen next poll.
    last_stamp_ =
        FileStamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                  static_cast<std::uint64_t>(st.st_size),
                  std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec, true};
    bool over_limit = false;
    while (true) {
      char buf[kChunk];
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(where + ": " + errno_text(errno));
      if (n == 0) break;
      if (text.size() + static_cast<std::size_t>(n) > config_.max_bytes) {
        over_limit = true;
        break;
      }
      text.append(buf, static_cast<std::size_t>(n));
    }
    if (over_limit) {
      return fail(where + ": larger than " + std::to_string(config_.max_bytes) + " bytes");
    }
  }
  NodeListParse parsed = parse_node_list(config_.format, text);
  if (!parsed.ok()) {
    return fail(where + " (" + std::string(node_list_format_name(config_.format)) +
                "): " + parsed.error);
  }
  loads_ok_.fetch_add(1, std::memory_order_relaxed);
  LoadResult r;
  r.ok = true;
  if (same_nodes(*current_.get(), parsed.nodes)) {
    r.unchanged = true;
    r.nodes = parsed.nodes.size();
    return r;
  }
  auto directory = std::make_shared<const NodeDirectory>(std::move(parsed.nodes));
  r.loaded = true;
  r.nodes = directory->size();
  current_.publish(std::move(directory));
  return r;
}

LoadResult NodeSource::reload_if_changed() {
  std::lock_guard<std::mutex> lock(load_mu_);
  if (!config_.command.empty()) {
    LoadResult r;
    r.ok = true;
    r.nodes = current_.get()->size();
    return r;
  }
  struct stat st {};
  FileStamp now;
  if (::stat(config_.file.c_str(), &st) != 0) {
    now = FileStamp{static_cast<std::uint64_t>(errno), 0, 0, 0, false};
  } else {
    now = FileStamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                    static_cast<std::uint64_t>(st.st_size),
                    std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec, true};
  }
  if (now == last_stamp_) {
    LoadResult r;
    r.ok = true;
    r.nodes = current_.get()->size();
    return r;
  }
  return refresh_locked();
}

}  // namespace edgeguard
