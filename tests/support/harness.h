#pragma once
// Black-box harness for the edgeguard binary: a child process serving a config written for the
// test (ports read back from its "started" line, so no port is guessed), and a raw TCP client
// whose every wait is bounded by a deadline. Bytes go out exactly as the test writes them.
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace edgeguard::testing {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A fresh directory per test under the working directory (the build tree), removed afterwards.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::filesystem::path file(const std::string& name) const { return path_ / name; }
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

struct HttpResponse {
  int status = 0;  // 0: no complete response before the deadline
  std::string version;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::optional<std::string> header(const std::string& name) const;
  int count(const std::string& name) const;
};

// A TCP connection to 127.0.0.1:port. All reads wait at most until the given deadline.
class Conn {
 public:
  explicit Conn(int port);
  ~Conn();
  Conn(Conn&& other) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // Reads one response (Content-Length framed); status 0 if none arrives in time.
  HttpResponse read_response(std::chrono::milliseconds timeout = 5000ms);
  // True once the peer has closed (EOF or reset) with no further bytes; false on timeout or
  // when data arrives instead (it is kept for read_response).
  bool wait_closed(std::chrono::milliseconds timeout);
  // True when nothing at all arrives (no data, no close) for `quiet`.
  bool stays_open(std::chrono::milliseconds quiet);
  void close();

 private:
  // Appends what arrives before `deadline`; returns false on EOF/error or timeout.
  enum class Fill { data, eof, timeout };
  Fill fill(Clock::time_point deadline);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// A ForwardAuth call as Traefik sends it (render() says exactly what that is). Empty optional
// headers are left out.
struct Call {
  std::string method = "GET";  // the client's method: X-Forwarded-Method, not the request line
  std::string host = "app.example.test";
  std::string uri = "/";
  std::string xff = "198.51.100.10";
  std::vector<std::pair<std::string, std::string>> extra;
  std::string version = "HTTP/1.1";
  bool include_method = true, include_host = true, include_uri = true, include_xff = true;
  // Traefik's forwardBody (v3.3+): the client's body goes along, framed as the client framed it
  // (Content-Length, or chunked when `chunked`). Without forward_body no body is sent, and a
  // non-empty `body` is a mistake in the test (reported as a failure).
  std::string body;
  bool forward_body = false;
  bool chunked = false;
  // Traefik's preserveRequestMethod (v3.4+): the request line carries `method` instead of GET.
  bool preserve_method = false;
};
std::string render(const Call& call);

// Event-loop threads for a server whose test does not depend on their number: `fallback`
// unless EDGEGUARD_TEST_THREADS is set (tests/tsan.sh sets it, so the server tests run under
// ThreadSanitizer with several loops while the normal run keeps its fixed order).
int test_threads(int fallback = 1);

// Result of running the binary to completion.
struct RunResult {
  int exit_code = -1;  // -1: killed after the deadline or did not start
  std::string out;
  std::string err;
};
RunResult run_edgeguard(const std::vector<std::string>& args, const ScratchDir& dir,
                        std::chrono::milliseconds timeout = 15000ms);

// `edgeguard serve --config FILE` in the background. The destructor kills it (SIGKILL) if it is
// still running, so a failing test never leaves a server behind.
class Server {
 public:
  Server(const ScratchDir& dir, const std::string& yaml);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  bool started() const { return port_ > 0; }
  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  pid_t pid() const { return pid_; }
  std::string stdout_text() const;
  std::string stderr_text() const;

  // Sends SIGTERM; waits until exit. Returns the exit status, or -1 if still running at the
  // deadline.
  int terminate_and_wait(std::chrono::milliseconds timeout);
  // Waits for an exit the test already asked for (signal(SIGTERM)): a second SIGTERM would
  // reach a process that has stopped listening for it and kill it, hiding its real status.
  int wait_and_reap(std::chrono::milliseconds timeout);
  bool running();

  // The config file it serves. rewrite_config() replaces it by rename, as editors and config
  // management do, so the server never reads half a file; signal(SIGHUP) asks for a reload.
  const std::filesystem::path& config_path() const { return config_; }
  void rewrite_config(const std::string& yaml) const;
  void signal(int sig) const;

  // GET on the admin listener; the whole body, or "" on failure.
  std::string admin_get(const std::string& path);
  // Any method on the admin listener, the whole response (status 0 when none came).
  HttpResponse admin_request(const std::string& method, const std::string& path);
  // The value of one metric line (exact name and labels as rendered), or nullopt when absent.
  std::optional<double> metric(const std::string& name_and_labels);

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int admin_port_ = 0;
  std::filesystem::path config_, out_, err_;
};

// One request, a fresh connection, its response.
HttpResponse call_once(int port, const Call& call);

// Polls `pred` until true or `timeout`; the interval is a poll, not a synchronisation.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    ::usleep(10'000);
  }
  return pred();
}

}  // namespace edgeguard::testing
