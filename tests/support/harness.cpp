#include "tests/support/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

extern char** environ;

namespace edgeguard::testing {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
  std::vector<std::string> argv_store = args;
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Waits for `pid` until `deadline`; the exit code, 128+signal, or -1 if it is still running.
int wait_exit(pid_t pid, Clock::time_point deadline) {
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (r < 0 || Clock::now() >= deadline) return -1;
    ::usleep(5'000);
  }
}

// The integer after "\"key\":" in a JSON line (enough for the started event).
int json_int(const std::string& line, const std::string& key) {
  const auto at = line.find("\"" + key + "\":");
  if (at == std::string::npos) return 0;
  return std::atoi(line.c_str() + at + key.size() + 3);
}

}  // namespace

ScratchDir::ScratchDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = info != nullptr
                               ? std::string(info->test_suite_name()) + "." + info->name()
                               : std::string("server");
  // The sequence number lets one test hold several (two servers sharing one Redis).
  static std::atomic<int> seq{0};
  path_ = fs::current_path() / "server-tmp" /
          (name + "." + std::to_string(::getpid()) + "." + std::to_string(seq.fetch_add(1)));
  fs::remove_all(path_);
  fs::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path ScratchDir::write(const std::string& name, const std::string& text) const {
  const auto p = file(name);
  std::ofstream(p) << text;
  return p;
}

std::optional<std::string> HttpResponse::header(const std::string& name) const {
  const auto it = headers.find(lower(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

int HttpResponse::count(const std::string& name) const {
  return static_cast<int>(headers.count(lower(name)));
}

Conn::Conn(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  // Non-blocking from here on: every wait goes through poll() with a deadline.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

Conn::Conn(Conn&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buf_(std::move(other.buf_)), eof_(other.eof_) {}

Conn::~Conn() {
  close();
}

void Conn::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Conn::send(const std::string& bytes) {
  if (fd_ < 0) return false;
  const auto deadline = Clock::now() + 5s;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && Clock::now() < deadline) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, remaining_ms(deadline));
      continue;
    }
    return false;
  }
  return true;
}

Conn::Fill Conn::fill(Clock::time_point deadline) {
  if (fd_ < 0 || eof_) return Fill::eof;
  for (;;) {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf_.append(chunk, static_cast<std::size_t>(n));
      return Fill::data;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      eof_ = true;  // orderly close or reset: either way the server let go
      return Fill::eof;
    }
    if (Clock::now() >= deadline) return Fill::timeout;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, remaining_ms(deadline));
    if (p.revents == 0 && Clock::now() >= deadline) return Fill::timeout;
  }
}

HttpResponse Conn::read_response(std::chrono::milliseconds timeout) {
  HttpResponse r;
  const auto deadline = Clock::now() + timeout;
  std::size_t head_end;
  while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (fill(deadline) != Fill::data) return r;
  }
  std::istringstream head(buf_.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const auto sp = line.find(' ');
  if (sp == std::string::npos) return r;
  const std::string version = line.substr(0, sp);
  const int status = std::atoi(line.c_str() + sp + 1);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers.emplace(lower(line.substr(0, colon)), value);
  }
  const auto cl = r.header("Content-Length");
  const std::size_t length = cl ? static_cast<std::size_t>(std::atoll(cl->c_str())) : 0;
  while (buf_.size() < head_end + 4 + length) {
    if (fill(deadline) != Fill::data) return HttpResponse{};
  }
  r.body = buf_.substr(head_end + 4, length);
  buf_.erase(0, head_end + 4 + length);
  r.version = version;
  r.status = status;
  return r;
}

bool Conn::wait_closed(std::chrono::milliseconds timeout) {
  const std::size_t before = buf_.size();
  // Data arriving instead is kept for read_response, but the connection is not closed.
  return fill(Clock::now() + timeout) == Fill::eof && buf_.size() == before;
}

bool Conn::stays_open(std::chrono::milliseconds quiet) {
  const std::size_t before = buf_.size();
  return fill(Clock::now() + quiet) == Fill::timeout && buf_.size() == before;
}

// What Traefik's forwardAuth middleware sends, read from its source (pkg/middlewares/auth/
// forward.go, v3.3 and later): the auth request is always a GET (the client's method only with
// preserveRequestMethod, v3.4+), the client's method is in X-Forwarded-Method, and the
// X-Forwarded-Proto/-Host/-Uri/-For headers carry the rest. No body, unless forwardBody is on:
// then forwardReq.ContentLength and forwardReq.TransferEncoding are copied from the client's
// request, so Go's client sends "Content-Length: N" (or nothing for an empty body) or, for a
// chunked client request, "Transfer-Encoding: chunked", still on a GET with the method in
// X-Forwarded-Method. The client's other headers are copied minus hop-by-hop ones (`extra`).
std::string render(const Call& c) {
  const std::string& line_method = c.preserve_method ? c.method : std::string("GET");
  std::string s = line_method + " /auth " + c.version + "\r\nHost: edgeguard.internal\r\n";
  if (c.include_method) s += "X-Forwarded-Method: " + c.method + "\r\n";
  s += "X-Forwarded-Proto: https\r\n";
  if (c.include_host) s += "X-Forwarded-Host: " + c.host + "\r\n";
  if (c.include_uri) s += "X-Forwarded-Uri: " + c.uri + "\r\n";
  if (c.include_xff) s += "X-Forwarded-For: " + c.xff + "\r\n";
  for (const auto& [k, v] : c.extra) s += k + ": " + v + "\r\n";
  if (!c.forward_body) {
    if (!c.body.empty()) ADD_FAILURE() << "Call::body is only sent with forward_body, as Traefik";
    return s + "\r\n";
  }
  if (c.chunked) {
    s += "Transfer-Encoding: chunked\r\n\r\n";
    if (!c.body.empty()) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx", c.body.size());
      s += std::string(size) + "\r\n" + c.body + "\r\n";
    }
    return s + "0\r\n\r\n";
  }
  if (!c.body.empty()) s += "Content-Length: " + std::to_string(c.body.size()) + "\r\n";
  return s + "\r\n" + c.body;
}

int test_threads(int fallback) {
  const char* env = std::getenv("EDGEGUARD_TEST_THREADS");
  const int n = env != nullptr ? std::atoi(env) : 0;
  return n > 0 ? n : fallback;
}

RunResult run_edgeguard(const std::vector<std::string>& args, const ScratchDir& dir,
                        std::chrono::milliseconds timeout) {
  static int seq = 0;
  const auto out = dir.file("run" + std::to_string(seq) + ".out");
  const auto err = dir.file("run" + std::to_string(seq++) + ".err");
  std::vector<std::string> argv{EDGEGUARD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r;
  const pid_t pid = spawn(argv, out, err);
  if (pid <= 0) return r;
  r.exit_code = wait_exit(pid, Clock::now() + timeout);
  if (r.exit_code == -1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

Server::Server(const ScratchDir& dir, const std::string& yaml) {
  config_ = dir.write("edgeguard.yaml", yaml);
  out_ = dir.file("serve.out");
  err_ = dir.file("serve.err");
  pid_ = spawn({EDGEGUARD_BINARY, "serve", "--config", config_.string()}, out_, err_);
  if (pid_ <= 0) return;
  // The ports are in the first "started" line; poll the log until it appears (or the child dies).
  eventually(
      [&] {
        std::istringstream lines(slurp(out_));
        std::string line;
        while (std::getline(lines, line)) {
          if (line.find("\"event\":\"started\"") != std::string::npos) {
            port_ = json_int(line, "port");
            admin_port_ = json_int(line, "admin_port");
            return true;
          }
        }
        return !running();
      },
      15000ms);
}

Server::~Server() {
  if (pid_ <= 0) return;
  if (::waitpid(pid_, nullptr, WNOHANG) == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool Server::running() {
  return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0;
}

std::string Server::stdout_text() const {
  return slurp(out_);
}
std::string Server::stderr_text() const {
  return slurp(err_);
}

int Server::terminate_and_wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return wait_and_reap(timeout);
}

int Server::wait_and_reap(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  const int code = wait_exit(pid_, Clock::now() + timeout);
  if (code != -1) pid_ = -1;  // reaped
  return code;
}

void Server::rewrite_config(const std::string& yaml) const {
  const fs::path tmp = config_.string() + ".new";
  std::ofstream(tmp) << yaml;
  fs::rename(tmp, config_);
}

void Server::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::string Server::admin_get(const std::string& path) {
  const HttpResponse r = admin_request("GET", path);
  return r.status == 200 ? r.body : "";
}

HttpResponse Server::admin_request(const std::string& method, const std::string& path) {
  Conn c(admin_port_);
  const std::string length = method == "POST" || method == "PUT" ? "Content-Length: 0\r\n" : "";
  if (!c.ok() || !c.send(method + " " + path + " HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n" +
                         length + "\r\n")) {
    return {};
  }
  return c.read_response();
}

std::optional<double> Server::metric(const std::string& name_and_labels) {
  std::istringstream lines(admin_get("/metrics"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > name_and_labels.size() &&
        line.compare(0, name_and_labels.size(), name_and_labels) == 0 &&
        line[name_and_labels.size()] == ' ') {
      return std::atof(line.c_str() + name_and_labels.size() + 1);
    }
  }
  return std::nullopt;
}

HttpResponse call_once(int port, const Call& call) {
  Conn c(port);
  if (!c.ok() || !c.send(render(call))) return {};
  return c.read_response();
}

}  // namespace edgeguard::testing
