#include "tests/support/crowdsec_fixture.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace edgeguard::testing {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLockDir = "/tmp/edgeguard-test-ports";
constexpr int kPortSpan = 8000;  // candidates just below the ephemeral range
constexpr auto kCscliTimeout = std::chrono::seconds(30);

int ephemeral_start() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (in >> low && low > kPortSpan + 1024) return low;
  return 32768;
}

bool can_bind(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as Go's listener does
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

void child_setup(int out_fd, int err_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) ::dup2(null_fd, 0);
  if (out_fd >= 0) ::dup2(out_fd, 1);
  if (err_fd >= 0) ::dup2(err_fd, 2);
}

[[noreturn]] void exec(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

// Runs argv to completion within `timeout`; its stdout into *out, its stderr appended to `log`.
int run(const std::vector<std::string>& argv, const fs::path& log, std::string* out,
        std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  const int err_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {
    child_setup(pipe_fds[1], err_fd);
    exec(argv);
  }
  ::close(pipe_fds[1]);
  if (err_fd >= 0) ::close(err_fd);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    return -1;
  }
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (out) *out = std::move(text);
  if (timed_out || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// GET /health with a short deadline: true on a 200.
bool healthy(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, 200) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
        err == 0) {
      const std::string req =
          "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
        std::string answer;
        pollfd r{fd, POLLIN, 0};
        while (answer.size() < 12 && ::poll(&r, 1, 500) == 1) {
          char buf[256];
          const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) break;
          answer.append(buf, static_cast<std::size_t>(n));
        }
        ok = answer.starts_with("HTTP/1.1 200");
      }
    }
  }
  ::close(fd);
  return ok;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

ReservedPort::ReservedPort() {
  ::mkdir(kLockDir, 01777);
  const int high = ephemeral_start();
  const int low = high - kPortSpan;
  // Start at a different place per process so parallel tests rarely meet on a lock.
  const int offset = static_cast<int>(::getpid()) % kPortSpan;
  for (int i = 0; i < kPortSpan; ++i) {
    const int port = low + (offset + i) % kPortSpan;
    const std::string path = std::string(kLockDir) + "/" + std::to_string(port) + ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      continue;
    }
    if (!can_bind(port)) {  // something outside the tests listens there
      ::close(fd);
      continue;
    }
    lock_fd_ = fd;
    port_ = port;
    return;
  }
}

ReservedPort::~ReservedPort() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

CrowdsecLapi::CrowdsecLapi() {
  std::string pattern = (fs::temp_directory_path() / "edgeguard-crowdsec-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = pattern;
  if (port() == 0) {
    error_ = "no port could be reserved";
    return;
  }
  for (const char* sub : {"data", "hub", "notifications"}) fs::create_directories(dir_ / sub);
  const std::string d = dir_.string();
  write_file(dir_ / "config.yaml",
             "common:\n"
             "  daemonize: false\n"
             "  log_media: stdout\n"
             "  log_level: info\n"
             "config_paths:\n"
             "  config_dir: " +
                 d +
                 "/\n"
                 "  data_dir: " +
                 d +
                 "/data/\n"
                 "  simulation_path: " +
                 d +
                 "/simulation.yaml\n"
                 "  hub_dir: " +
                 d +
                 "/hub/\n"
                 "  index_path: " +
                 d +
                 "/hub/.index.json\n"
                 "  notification_dir: " +
                 d +
                 "/notifications/\n"
                 "  plugin_dir: /usr/lib/crowdsec/plugins/\n"
                 "crowdsec_service:\n"
                 "  acquisition_path: " +
                 d +
                 "/acquis.yaml\n"
                 "db_config:\n"
                 "  log_level: info\n"
                 "  type: sqlite\n"
                 "  db_path: " +
                 d +
                 "/data/crowdsec.db\n"
                 "  use_wal: true\n"
                 "api:\n"
                 "  client:\n"
                 "    credentials_path: " +
                 d +
                 "/local_api_credentials.yaml\n"
                 "  server:\n"
                 "    log_level: info\n"
                 "    listen_uri: 127.0.0.1:" +
                 std::to_string(port()) +
                 "\n"
                 "    profiles_path: " +
                 d +
                 "/profiles.yaml\n"
                 "    trusted_ips: [127.0.0.1]\n"
                 // No online_client: no Central API. No prometheus listener (it would need a port).
                 "prometheus:\n"
                 "  enabled: false\n");
  write_file(dir_ / "simulation.yaml", "simulation: off\n");
  write_file(dir_ / "acquis.yaml", "");
  write_file(dir_ / "profiles.yaml",
             "name: default_ip_remediation\n"
             "filters:\n"
             " - Alert.Remediation == true && Alert.GetScope() == \"Ip\"\n"
             "decisions:\n"
             " - type: ban\n"
             "   duration: 4h\n"
             "on_success: break\n");
  // cscli's own machine: `cscli decisions add/delete` go through LAPI with these credentials.
  if (cscli({"machines", "add", "cscli", "--auto", "-f",
             (dir_ / "local_api_credentials.yaml").string()}) != 0) {
    error_ = "cscli machines add failed: " + log_tail();
    return;
  }
  start();
}

CrowdsecLapi::~CrowdsecLapi() {
  kill();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

bool CrowdsecLapi::start() {
  if (pid_ > 0) return true;
  if (dir_.empty() || port() == 0) return false;
  const fs::path log = dir_ / "lapi.log";
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {
    child_setup(log_fd, log_fd);
    exec({"crowdsec", "-c", (dir_ / "config.yaml").string(), "-no-cs"});
  }
  if (log_fd >= 0) ::close(log_fd);
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  pid_ = pid;
  const bool up = eventually(
      [this] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return true;  // it exited: stop waiting
        }
        return healthy(port());
      },
      std::chrono::seconds(20));
  if (!up || pid_ <= 0) {
    error_ = "LAPI did not come up: " + log_tail();
    kill();
    return false;
  }
  error_.clear();
  return true;
}

void CrowdsecLapi::kill() {
  if (pid_ <= 0) return;
  // SIGKILL ends a stopped process too; no SIGCONT first, which would let it answer once more.
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void CrowdsecLapi::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int CrowdsecLapi::cscli(const std::vector<std::string>& args, std::string* out) const {
  std::vector<std::string> argv = {"cscli", "-c", (dir_ / "config.yaml").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, dir_ / "cscli.log", out, kCscliTimeout);
}

std::string CrowdsecLapi::add_bouncer(const std::string& name) const {
  std::string key;
  if (cscli({"bouncers", "add", name, "-o", "raw"}, &key) != 0) return "";
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  return key;
}

bool CrowdsecLapi::add_machine(const std::string& name, const std::string& password) const {
  // -f: the credentials file cscli would otherwise overwrite is its own; write these aside.
  return cscli({"machines", "add", name, "--password", password, "-f",
                (dir_ / ("machine-" + name + ".yaml")).string()}) == 0;
}

std::string CrowdsecLapi::decisions_json() const {
  std::string out;
  cscli({"decisions", "list", "-a", "-o", "json"}, &out);
  return out;
}

std::string CrowdsecLapi::log_tail() const {
  std::string text;
  for (const char* name : {"lapi.log", "cscli.log"}) {
    std::ifstream in(dir_ / name);
    std::stringstream s;
    s << in.rdbuf();
    std::string t = s.str();
    if (t.size() > 1500) t = t.substr(t.size() - 1500);
    if (!t.empty()) text += std::string("[") + name + "] " + t;
  }
  return text;
}

LapiRelay::LapiRelay(int lapi_port) : lapi_port_(lapi_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0 || ::pipe2(wake_, O_CLOEXEC) != 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return;
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

LapiRelay::~LapiRelay() {
  if (wake_[1] >= 0) ::close(wake_[1]);
  if (acceptor_.joinable()) acceptor_.join();
  cut();  // ends every relay thread
  for (std::thread& t : threads_) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_[0] >= 0) ::close(wake_[0]);
}

void LapiRelay::cut() {
  mode_ = Mode::cut;
  std::lock_guard lock(mutex_);
  // shutdown, not close: the relay thread still owns the descriptor and closes it itself.
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
}

void LapiRelay::lose_answers() {
  mode_ = Mode::lose_answers;
}

void LapiRelay::mend() {
  mode_ = Mode::relay;
}

void LapiRelay::accept_loop() {
  while (true) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents != 0) return;  // the destructor closed the pipe
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++accepted_;
    if (mode_ == Mode::cut) {
      ::close(fd);
      continue;
    }
    std::lock_guard lock(mutex_);
    threads_.emplace_back([this, fd] { relay(fd); });
  }
}

void LapiRelay::relay(int client_fd) {
  const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(lapi_port_));
  if (upstream < 0 || ::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (upstream >= 0) ::close(upstream);
    ::close(client_fd);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    open_fds_.push_back(client_fd);
    open_fds_.push_back(upstream);
    if (mode_ == Mode::cut) {  // cut between accept and here
      ::shutdown(client_fd, SHUT_RDWR);
      ::shutdown(upstream, SHUT_RDWR);
    }
  }
  // Both directions in one thread: poll, then a blocking send of what arrived (loopback, small
  // answers: the peer is reading).
  pollfd p[2] = {{client_fd, POLLIN, 0}, {upstream, POLLIN, 0}};
  bool open = true;
  while (open) {
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2 && open; ++i) {
      if (p[i].revents == 0) continue;
      char buf[16384];
      const ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
      if (n <= 0 || (i == 1 && mode_ == Mode::lose_answers)) {
        open = false;
        break;
      }
      for (ssize_t sent = 0; sent < n;) {
        const ssize_t m =
            ::send(p[1 - i].fd, buf + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
        if (m <= 0) {
          open = false;
          break;
        }
        sent += m;
      }
    }
  }
  std::lock_guard lock(mutex_);
  std::erase_if(open_fds_, [&](int fd) { return fd == client_fd || fd == upstream; });
  ::close(client_fd);
  ::close(upstream);
}

}  // namespace edgeguard::testing
