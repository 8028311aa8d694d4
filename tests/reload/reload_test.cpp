// Hot reload through the real binary: a changed policy takes effect on SIGHUP and on the 1 s
// config-file poll, an invalid file is refused (FILE:LINE:COL in the log, counted) while the old
// policy keeps serving, buckets survive when route and limit names stay, and 50 reloads under
// keep-alive load cost no request. Ports are picked by the kernel (listen on port 0) and read
// from the "started" log line; every wait polls a condition against a deadline.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace edgeguard {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Polls `cond` until it holds or `limit` passes. Yields between tries instead of sleeping a
// guessed time: the condition is the synchronisation.
bool eventually(const std::function<bool()>& cond,
                std::chrono::milliseconds limit = std::chrono::milliseconds(8000)) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll period, not a sync point
  }
  return cond();
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes aside and renames, as editors and config management do: the server never reads half.
void write_atomically(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  std::ofstream(tmp) << text;
  fs::rename(tmp, p);
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// A keep-alive HTTP/1.1 client: one request at a time, responses read by Content-Length.
class Client {
 public:
  explicit Client(int port) : port_(port) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Returns the status, or 0 on a connection error.
  int get(const std::string& path, const std::string& extra_headers, std::string* body = nullptr) {
    if (fd_ < 0) fd_ = connect_to(port_);
    if (fd_ < 0) return 0;
    const std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: edgeguard\r\n" + extra_headers + "\r\n";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      return fail();
    }
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return fail();
    }
    const std::string head = buf_.substr(0, head_end);
    std::size_t length = 0;
    std::smatch m;
    static const std::regex content_length("\r\n[Cc]ontent-[Ll]ength: *([0-9]+)");
    if (std::regex_search(head, m, content_length)) length = std::stoul(m[1]);
    while (buf_.size() < head_end + 4 + length) {
      if (!fill()) return fail();
    }
    if (body) *body = buf_.substr(head_end + 4, length);
    buf_.erase(0, head_end + 4 + length);
    if (head.compare(0, 9, "HTTP/1.1 ") != 0) return fail();
    if (head.find("\r\nConnection: close") != std::string::npos ||
        head.find("\r\nconnection: close") != std::string::npos) {
      ::close(fd_);
      fd_ = -1;
    }
    return std::atoi(head.c_str() + 9);
  }

 private:
  bool fill() {
    char tmp[4096];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  int fail() {
    ::close(fd_);
    fd_ = -1;
    buf_.clear();
    return 0;
  }
  int port_;
  int fd_ = -1;
  std::string buf_;
};

std::string forward_headers(const std::string& host, const std::string& ip) {
  return "X-Forwarded-Method: GET\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: " + host +
         "\r\nX-Forwarded-Uri: /\r\nX-Forwarded-For: " + ip + "\r\n";
}

std::string policy(const std::string& routes) {
  return "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: 2\nroutes:\n" + routes +
         "default: allow\n";
}

// edgeguard serve on a temp config, stdout and stderr into a log file.
class Server {
 public:
  explicit Server(const std::string& config_text) {
    std::string tmpl = (fs::temp_directory_path() / "edgeguard-reload-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    config_ = dir_ / "policy.yaml";
    log_ = dir_ / "edgeguard.log";
    std::ofstream(config_) << config_text;
    const std::string bin = EDGEGUARD_BINARY, cfg = config_.string(), log = log_.string();
    std::vector<char*> argv{const_cast<char*>(bin.c_str()), const_cast<char*>("serve"),
                            const_cast<char*>("--config"), const_cast<char*>(cfg.c_str()), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    static const std::regex started(
        "\"event\":\"started\".*\"port\":([0-9]+).*\"admin_port\":([0-9]+)");
    eventually(
        [&] {
          std::smatch m;
          const std::string text = log_text();
          if (!std::regex_search(text, m, started)) return false;
          port_ = std::stoi(m[1]);
          admin_port_ = std::stoi(m[2]);
          return true;
        },
        std::chrono::milliseconds(15000));
  }
  ~Server() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  bool up() const { return pid_ > 0 && port_ > 0 && admin_port_ > 0; }
  int port() const { return port_; }
  void hup() const { ::kill(pid_, SIGHUP); }
  void rewrite(const std::string& text) const { write_atomically(config_, text); }
  std::string log_text() const { return read_file(log_); }
  const fs::path& config() const { return config_; }

  // A counter or gauge from /metrics, -1 when the scrape fails or the series is absent.
  double metric(const std::string& series) const {
    Client c(admin_port_);
    std::string body;
    if (c.get("/metrics", "Connection: close\r\n", &body) != 200) return -1;
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.compare(0, series.size() + 1, series + " ") == 0) {
        return std::atof(line.c_str() + series.size() + 1);
      }
    }
    return -1;
  }
  double reloads(const char* result) const {
    return metric(std::string("edgeguard_config_reloads_total{result=\"") + result + "\"}");
  }
  int status(const std::string& host, const std::string& ip) const {
    Client c(port_);
    return c.get("/", forward_headers(host, ip) + "Connection: close\r\n");
  }

 private:
  fs::path dir_, config_, log_;
  pid_t pid_ = -1;
  int port_ = 0, admin_port_ = 0;
};

const std::string kDenyOffice =
    "  - name: app\n    hosts: [app.test]\n    deny_ips: [203.0.113.0/24]\n";
const std::string kOpen = "  - name: app\n    hosts: [app.test]\n";

TEST(Reload, SighupAppliesAChangedPolicy) {
  Server s(policy(kDenyOffice));
  ASSERT_TRUE(s.up()) << s.log_text();
  EXPECT_EQ(s.status("app.test", "203.0.113.7"), 403);
  s.rewrite(policy(kOpen));
  s.hup();
  EXPECT_TRUE(eventually([&] { return s.status("app.test", "203.0.113.7") == 200; }));
  EXPECT_TRUE(eventually([&] { return s.reloads("success") >= 1; }));
  EXPECT_EQ(s.reloads("failure"), 0);
  EXPECT_NE(s.log_text().find("\"event\":\"reloaded\""), std::string::npos);
}

// The 1 s file poll notices a change by the file's inode, size and modification time. A change
// that keeps all three (rewritten in place to the same length, its mtime put back, as `cp -p`
// or a restore from backup does) is seen by SIGHUP alone: were SIGHUP to do nothing, this
// policy would never apply, however long one waited.
TEST(Reload, SighupAppliesAChangeTheFilePollCannotSee) {
  const std::string deny_other =
      "  - name: app\n    hosts: [app.test]\n    deny_ips: [203.0.114.0/24]\n";
  ASSERT_EQ(deny_other.size(), kDenyOffice.size());
  Server s(policy(kDenyOffice));
  ASSERT_TRUE(s.up()) << s.log_text();
  EXPECT_EQ(s.status("app.test", "203.0.113.7"), 403);
  struct stat before {};
  ASSERT_EQ(::stat(s.config().c_str(), &before), 0);

  // Same inode, same size at every instant (no truncation), then the old mtime again.
  const std::string text = policy(deny_other);
  const int fd = ::open(s.config().c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, text.data(), text.size(), 0), static_cast<ssize_t>(text.size()));
  const timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::futimens(fd, times), 0);
  ::close(fd);
  struct stat after {};
  ASSERT_EQ(::stat(s.config().c_str(), &after), 0);
  ASSERT_EQ(after.st_ino, before.st_ino);
  ASSERT_EQ(after.st_size, before.st_size);
  ASSERT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);

  s.hup();
  EXPECT_TRUE(eventually([&] { return s.status("app.test", "203.0.113.7") == 200; }))
      << s.log_text();
  EXPECT_EQ(s.status("app.test", "203.0.114.7"), 403);
  EXPECT_EQ(s.reloads("success"), 1);
}

TEST(Reload, ConfigFilePollAppliesARewriteWithoutASignal) {
  Server s(policy(kOpen));
  ASSERT_TRUE(s.up()) << s.log_text();
  EXPECT_EQ(s.status("app.test", "203.0.113.7"), 200);
  s.rewrite(policy(kDenyOffice));
  EXPECT_TRUE(eventually([&] { return s.status("app.test", "203.0.113.7") == 403; }));
  EXPECT_EQ(s.reloads("success"), 1);
}

TEST(Reload, InvalidFileIsRefusedAndTheOldPolicyKeepsServing) {
  Server s(policy(kDenyOffice));
  ASSERT_TRUE(s.up()) << s.log_text();
  // Line 6 (the route's `limits`) has an unknown key: `averag`.
  s.rewrite(
      policy("  - name: app\n    hosts: [app.test]\n    limits:\n"
             "      - {name: per-ip, averag: 10, period: 1m, burst: 5}\n"));
  s.hup();
  ASSERT_TRUE(eventually([&] { return s.reloads("failure") >= 1; })) << s.log_text();
  EXPECT_EQ(s.reloads("success"), 0);
  const std::string log = s.log_text();
  EXPECT_NE(log.find("\"event\":\"reload_refused\""), std::string::npos) << log;
  const std::regex located(s.config().string() + ":[0-9]+:[0-9]+: ");
  EXPECT_TRUE(std::regex_search(log, located)) << log;
  // Still the old policy, which still denies the office range.
  EXPECT_EQ(s.status("app.test", "203.0.113.7"), 403);
  EXPECT_EQ(s.status("app.test", "198.51.100.7"), 200);
  // A good file afterwards is taken.
  s.rewrite(policy(kOpen));
  s.hup();
  EXPECT_TRUE(eventually([&] { return s.status("app.test", "203.0.113.7") == 200; }));
}

TEST(Reload, BucketStateSurvivesWhenRouteAndLimitNamesStay) {
  // 1 per hour, burst 3: no token comes back during the test.
  const std::string limited =
      "  - name: login\n    hosts: [auth.test]\n    limits:\n"
      "      - {name: per-ip, average: 1, period: 1h, burst: 3}\n";
  Server s(policy(limited));
  ASSERT_TRUE(s.up()) << s.log_text();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.status("auth.test", "203.0.113.7"), 200) << i;
  // Same route and limit names, another route added: the used burst stays used.
  s.rewrite(policy(limited + kOpen));
  s.hup();
  ASSERT_TRUE(eventually([&] { return s.reloads("success") >= 1; }));
  EXPECT_EQ(s.status("app.test", "203.0.113.7"), 200);  // the new route is live
  EXPECT_EQ(s.status("auth.test", "203.0.113.7"), 429);
  // Renaming the limit starts a fresh bucket: the name is what carries state.
  std::string renamed = limited;
  renamed.replace(renamed.find("per-ip"), 6, "per-client");
  s.rewrite(policy(renamed));
  s.hup();
  ASSERT_TRUE(eventually([&] { return s.reloads("success") >= 2; }));
  EXPECT_EQ(s.status("auth.test", "203.0.113.7"), 200);
}

TEST(Reload, FiftyReloadsUnderKeepAliveLoadLoseNoRequest) {
  const auto version = [](int burst) {
    return policy(
        "  - name: api\n    hosts: [api.test]\n    limits:\n"
        "      - {name: per-ip, average: 100000, period: 1s, burst: " +
        std::to_string(burst) + "}\n");
  };
  Server s(version(100));
  ASSERT_TRUE(s.up()) << s.log_text();
  std::atomic<bool> stop{false};
  std::atomic<long> ok{0}, limited{0}, other{0}, errors{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&, t] {
      Client c(s.port());
      const std::string headers =
          forward_headers("api.test", "203.0.113." + std::to_string(10 + t));
      while (!stop.load()) {
        const int st = c.get("/", headers);
        if (st == 200)
          ++ok;
        else if (st == 429)
          ++limited;
        else if (st == 0)
          ++errors;
        else
          ++other;
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return ok.load() > 100; }));
  int done = 0;
  for (int i = 1; i <= 50; ++i) {
    const double before = s.reloads("success");
    s.rewrite(version(100 + i));
    s.hup();
    // Wait for this reload to land before the next (the poll may take the rewrite first).
    if (!eventually([&] { return s.reloads("success") > before; })) break;
    done = i;
  }
  const long before = ok.load();
  EXPECT_TRUE(eventually([&] { return ok.load() > before + 100; }));  // still serving after
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(done, 50) << s.log_text();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(s.reloads("failure"), 0);
}

}  // namespace
}  // namespace edgeguard
