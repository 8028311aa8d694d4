// Proof through real proxies: Debian's Caddy (forward_auth) and nginx (auth_request) run the
// reference configs of deploy/ (templated only for ports and paths) in front of an upstream that
// echoes the headers it receives, with a real edgeguard as their auth service. Everything binds
// 127.0.0.1: edgeguard and the upstream on port 0 (edgeguard's ports read from its "started"
// line), the proxy on a port reserved for this process (tests/support/ports.h), since neither
// Caddy nor nginx reports the port it got. The tests check what a client and the backend see.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/ports.h"

extern char** environ;

namespace edgeguard {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr auto kStartDeadline = std::chrono::seconds(15);

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};  // a stuck proxy fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct Response {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::optional<std::string> header(const std::string& name) const {
    auto it = headers.find(lower(name));
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
};

// One HTTP/1.1 request with Connection: close; reads to EOF. status 0 on any failure.
Response http_get(int port, const std::string& path,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& method = "GET") {
  Response out;
  int fd = connect_loopback(port);
  if (fd < 0) return out;
  std::string req = method + " " + path + " HTTP/1.1\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (method == "POST") req += "Content-Length: 0\r\n";
  req += "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return out;
  }
  std::string raw;
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0) return out;
  std::istringstream head(raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  out.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    out.headers.emplace(lower(line.substr(0, colon)), value);
  }
  out.body = raw.substr(head_end + 4);
  return out;
}

template <typename Pred>
bool poll_until(Pred pred, std::chrono::milliseconds limit = kStartDeadline) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval, not a sync
  }
  return pred();
}

// The backend: answers 200 with the request head it received as the body, so a test sees
// exactly which headers the proxy forwarded.
class EchoUpstream {
 public:
  EchoUpstream() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::listen(fd_, 64) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
      thread_ = std::thread([this] { run(); });
    }
  }
  ~EchoUpstream() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      timeval tv{2, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      std::string head;
      char buf[4096];
      ssize_t n;
      while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536 &&
             (n = ::recv(c, buf, sizeof(buf), 0)) > 0) {
        head.append(buf, static_cast<size_t>(n));
      }
      std::string resp =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
          "Content-Length: " +
          std::to_string(head.size()) + "\r\n\r\n" + head;
      ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A child process with stdout/stderr in a log file; SIGTERM then SIGKILL on destruction.
class Process {
 public:
  Process(std::vector<std::string> argv, std::vector<std::string> extra_env, const fs::path& log)
      : log_(log) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<std::string> env_store;
    for (char** e = environ; *e != nullptr; ++e) env_store.emplace_back(*e);
    for (auto& e : extra_env) env_store.push_back(e);
    std::vector<char*> env;
    for (auto& e : env_store) env.push_back(e.data());
    env.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), env.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!poll_until([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; },
                    std::chrono::milliseconds(5000))) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  std::string log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  pid_t pid_ = -1;
  fs::path log_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
}

enum class Proxy { kCaddy, kNginx };

constexpr const char* kHost = "auth.securenexus.net";

// The policy edgeguard runs behind each proxy. `login` admits a burst of 3 per client IP;
// `blocked-loopback` denies the address the proxy connects from (127.0.0.1), and `blocked-doc`
// denies the documentation range a client forges in X-Forwarded-For: together they show which
// address edgeguard judged.
std::string policy(int rate_limited_status) {
  std::ostringstream y;
  y << "listen: 127.0.0.1:0\n"
    << "admin_listen: 127.0.0.1:0\n"
    << "threads: 1\n"
    << "callers: [127.0.0.0/8]\n"
    << "client_ip: {header: X-Forwarded-For, depth: 1}\n"
    << "responses: {rate_limited: " << rate_limited_status << ", forbidden: 403}\n"
    << "store: {type: local}\n"
    << "routes:\n"
    << "  - name: login\n"
    << "    hosts: [" << kHost << "]\n"
    << "    paths: [/login]\n"
    << "    limits:\n"
    << "      - {name: per-ip, average: 3, period: 1m, burst: 3, key: client_ip}\n"
    << "  - name: blocked-loopback\n"
    << "    hosts: [" << kHost << "]\n"
    << "    paths: [/blocked-loopback]\n"
    << "    deny_ips: [127.0.0.0/8]\n"
    << "  - name: blocked-doc\n"
    << "    hosts: [" << kHost << "]\n"
    << "    paths: [/blocked-doc]\n"
    << "    deny_ips: [203.0.113.0/24]\n"
    << "  - name: app\n"
    << "    hosts: [" << kHost << "]\n"
    << "default: deny\n";
  return y.str();
}

// The policy behind a CDN: the proxy trusts the CDN edge (127.0.0.1, the test client) and
// appends it to the X-Forwarded-For the CDN sent, so the visitor is the entry left of the
// proxy's own peer: depth 2, as README and deploy/traefik tell CDN users. Country data is
// MaxMind's test database: 89.160.20.112 is SE, 81.2.69.160 is GB.
std::string cdn_policy(const fs::path& country_db) {
  std::ostringstream y;
  y << "listen: 127.0.0.1:0\n"
    << "admin_listen: 127.0.0.1:0\n"
    << "threads: 1\n"
    << "callers: [127.0.0.0/8]\n"
    << "client_ip: {header: X-Forwarded-For, depth: 2}\n"
    << "responses: {rate_limited: 403, forbidden: 403}\n"
    << "store: {type: local}\n"
    << "geoip: {country_db: " << country_db.string() << "}\n"
    << "routes:\n"
    << "  - name: no-se\n"
    << "    hosts: [" << kHost << "]\n"
    << "    paths: [/no-se]\n"
    << "    geo: {deny_countries: [SE]}\n"
    << "  - name: gb-only\n"
    << "    hosts: [" << kHost << "]\n"
    << "    paths: [/gb-only]\n"
    << "    geo: {allow_countries: [GB]}\n"
    << "default: deny\n";
  return y.str();
}

// EDGEGUARD_PROXY_TEST_BINARY overrides the built binary (another build, an installed one).
std::string edgeguard_binary() {
  const char* env = std::getenv("EDGEGUARD_PROXY_TEST_BINARY");
  return env != nullptr && *env != '\0' ? env : EDGEGUARD_BINARY;
}

class ProxyTest : public ::testing::TestWithParam<Proxy> {
 protected:
  // True for the CDN topology: the test client is a trusted CDN edge forwarding for visitors.
  virtual bool behind_cdn() const { return false; }

  void SetUp() override {
    const std::string binary = edgeguard_binary();
    if (!fs::exists(binary)) GTEST_SKIP() << "no edgeguard binary at " << binary;
    const bool caddy = GetParam() == Proxy::kCaddy;
    const char* proxy_bin = caddy ? "/usr/bin/caddy" : "/usr/sbin/nginx";
    if (!fs::exists(proxy_bin)) GTEST_SKIP() << proxy_bin << " is not installed";

    char tmpl[] = "/tmp/edgeguard-proxy-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_NE(upstream_.port(), 0);
    proxy_port_ = edgeguard::testing::reserve_port();
    ASSERT_GT(proxy_port_, 0);

    // nginx's auth_request turns any status but 2xx/401/403 into 500: 403 for rate limits.
    rate_limited_status_ = caddy ? 429 : 403;
    if (behind_cdn()) {
      const fs::path db = dir_ / "country.mmdb";
      fs::copy_file(fs::path(EDGEGUARD_TEST_DATA) / "maxmind/GeoIP2-Country-Test.mmdb", db);
      std::ofstream(dir_ / "edgeguard.yaml") << cdn_policy(db);
    } else {
      std::ofstream(dir_ / "edgeguard.yaml") << policy(rate_limited_status_);
    }
    edgeguard_ = std::make_unique<Process>(
        std::vector<std::string>{binary, "serve", "--config", dir_ / "edgeguard.yaml"},
        std::vector<std::string>{}, dir_ / "edgeguard.log");
    ASSERT_TRUE(poll_until([&] { return read_started(edgeguard_->log()); }))
        << "edgeguard did not start:\n"
        << edgeguard_->log();
    ASSERT_EQ(http_get(admin_port_, "/healthz", {}).status, 200) << edgeguard_->log();

    const std::string eg = "127.0.0.1:" + std::to_string(eg_port_);
    const std::string up = "127.0.0.1:" + std::to_string(upstream_.port());
    const fs::path source = EDGEGUARD_SOURCE_DIR;
    if (caddy) {
      // The reference Caddyfile reads its addresses from the environment ({$VAR:default}).
      const std::string d = dir_.string();
      proxy_ = std::make_unique<Process>(
          std::vector<std::string>{proxy_bin, "run", "--config",
                                   (source / "deploy/caddy/Caddyfile").string(), "--adapter",
                                   "caddyfile"},
          std::vector<std::string>{
              "HOME=" + d, "XDG_DATA_HOME=" + d, "XDG_CONFIG_HOME=" + d, "EDGEGUARD_ADDR=" + eg,
              "SITE_ADDRESS=http://" + std::string(kHost) + ":" + std::to_string(proxy_port_),
              "UPSTREAM_ADDR=" + up, "CADDY_ADMIN=off",
              "TRUSTED_PROXIES=" + std::string(behind_cdn() ? "127.0.0.1/32" : "")},
          dir_ / "proxy.log");
    } else {
      std::string conf = read_file(source / "deploy/nginx/edgeguard.conf");
      ASSERT_FALSE(conf.empty());
      replace_all(conf, "{{PREFIX}}", dir_.string());
      replace_all(conf, "{{LISTEN_ADDR}}", "127.0.0.1:" + std::to_string(proxy_port_));
      replace_all(conf, "{{EDGEGUARD_ADDR}}", eg);
      replace_all(conf, "{{UPSTREAM_ADDR}}", up);
      replace_all(conf, "{{TRUSTED_PROXIES}}", behind_cdn() ? "127.0.0.1/32 1;" : "");
      std::ofstream(dir_ / "nginx.conf") << conf;
      proxy_ = std::make_unique<Process>(
          std::vector<std::string>{proxy_bin, "-c", (dir_ / "nginx.conf").string(), "-p",
                                   dir_.string(), "-g", "daemon off;"},
          std::vector<std::string>{}, dir_ / "proxy.log");
    }
    ASSERT_TRUE(poll_until([&] {
      int fd = connect_loopback(proxy_port_);
      if (fd >= 0) ::close(fd);
      return fd >= 0;
    })) << "proxy did not start:\n"
        << proxy_->log();
  }

  void TearDown() override {
    proxy_.reset();
    edgeguard_.reset();
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
  }

  Response get(const std::string& path,
               std::vector<std::pair<std::string, std::string>> headers = {},
               const std::string& method = "GET") {
    headers.emplace_back("Host", kHost);
    return http_get(proxy_port_, path, headers, method);
  }

  // The ports edgeguard got, from its "started" line; false until it is logged.
  bool read_started(const std::string& log) {
    const auto at = log.find("\"event\":\"started\"");
    if (at == std::string::npos) return false;
    const std::string line = log.substr(at, log.find('\n', at) - at);
    auto field = [&](const std::string& key) {
      const auto k = line.find("\"" + key + "\":");
      return k == std::string::npos ? 0 : std::atoi(line.c_str() + k + key.size() + 3);
    };
    eg_port_ = field("port");
    admin_port_ = field("admin_port");
    return eg_port_ > 0 && admin_port_ > 0;
  }

  std::string logs() const {
    return "--- edgeguard:\n" + edgeguard_->log() + "--- proxy:\n" + proxy_->log();
  }

  EchoUpstream upstream_;
  fs::path dir_;
  int eg_port_ = 0, admin_port_ = 0, proxy_port_ = 0, rate_limited_status_ = 0;
  std::unique_ptr<Process> edgeguard_, proxy_;
};

TEST_P(ProxyTest, LoginBurstEndsInRateLimitWithHeadersIntact) {
  // Each request forges a different X-Forwarded-For: were it trusted, every request would get a
  // fresh bucket and the burst would never be limited.
  for (int i = 0; i < 3; ++i) {
    Response r =
        get("/login", {{"X-Forwarded-For", "198.51.100." + std::to_string(i + 1)}}, "POST");
    ASSERT_EQ(r.status, 200) << "request " << i << "\n" << r.body << logs();
    EXPECT_NE(r.body.find("X-Edgeguard-Route: login"), std::string::npos) << r.body;
  }
  Response limited = get("/login", {{"X-Forwarded-For", "198.51.100.99"}}, "POST");
  ASSERT_EQ(limited.status, rate_limited_status_) << limited.body << logs();
  ASSERT_TRUE(limited.header("Retry-After").has_value()) << logs();
  EXPECT_GE(std::atoi(limited.header("Retry-After")->c_str()), 1);
  ASSERT_TRUE(limited.header("RateLimit-Policy").has_value());
  EXPECT_NE(limited.header("RateLimit-Policy")->find("\"per-ip\""), std::string::npos);
  EXPECT_NE(limited.header("RateLimit-Policy")->find("q=3"), std::string::npos);
  ASSERT_TRUE(limited.header("RateLimit").has_value());
  EXPECT_NE(limited.header("RateLimit")->find("r=0"), std::string::npos);
  ASSERT_TRUE(limited.header("Content-Type").has_value());
  EXPECT_NE(limited.header("Content-Type")->find("problem+json"), std::string::npos);
  // Not forwarded: the backend answer would carry the request head in its body.
  EXPECT_EQ(limited.body.find("POST /login"), std::string::npos);
}

TEST_P(ProxyTest, AllowedRequestReachesUpstreamWithRouteAndWithoutForgedIdentity) {
  Response r = get("/dashboard", {{"X-Edgeguard-Route", "forged-route"},
                                  {"Tailscale-User", "mallory@example.com"},
                                  {"Tailscale-Tags", "tag:admin"},
                                  {"X-Edgeguard-Country", "ZZ"}});
  ASSERT_EQ(r.status, 200) << r.body << logs();
  EXPECT_NE(r.body.find("GET /dashboard"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("X-Edgeguard-Route: app\r\n"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("forged-route"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("mallory@example.com"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("tag:admin"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("X-Edgeguard-Country: ZZ"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("{http.reverse_proxy"), std::string::npos) << r.body;
}

TEST_P(ProxyTest, ClientIpIsThePeerTheProxySawWhateverXForwardedForSays) {
  // The proxy connects from 127.0.0.1: a rule denying loopback must deny, even when the client
  // claims to be elsewhere...
  Response loop = get("/blocked-loopback", {{"X-Forwarded-For", "198.51.100.7"}});
  EXPECT_EQ(loop.status, 403) << loop.body << logs();
  EXPECT_EQ(loop.body.find("GET /blocked-loopback"), std::string::npos);
  // ...and a rule denying the forged address must not, since edgeguard never judged it.
  Response doc = get("/blocked-doc", {{"X-Forwarded-For", "203.0.113.5"}});
  EXPECT_EQ(doc.status, 200) << doc.body << logs();
  EXPECT_NE(doc.body.find("X-Edgeguard-Route: blocked-doc"), std::string::npos) << doc.body;
  Response doc_multi = get("/blocked-doc", {{"X-Forwarded-For", "10.1.1.1, 203.0.113.5"}});
  EXPECT_EQ(doc_multi.status, 200) << doc_multi.body << logs();
}

TEST_P(ProxyTest, UnknownHostFallsToDefaultDeny) {
  Response r = http_get(proxy_port_, "/", {{"Host", "other.example.org"}});
  // Caddy has no site for that host and answers an empty 200 itself, never reaching edgeguard
  // or the backend; nginx's only server is the default one, so edgeguard's default: deny
  // answers 403. Either way an answer must come: a failed connection is no pass.
  ASSERT_NE(r.status, 0) << "no answer from the proxy\n" << logs();
  EXPECT_EQ(r.body.find("GET / HTTP/1.1"), std::string::npos) << r.body << logs();
  if (GetParam() == Proxy::kNginx) {
    EXPECT_EQ(r.status, 403) << logs();
  } else {
    EXPECT_EQ(r.status, 200) << logs();
    EXPECT_EQ(r.body, "") << logs();
  }
}

TEST_P(ProxyTest, MetricsExposeEveryNameTheDashboardAndAlertsMayUse) {
  ASSERT_EQ(get("/dashboard").status, 200) << logs();
  Response m = http_get(admin_port_, "/metrics", {{"Host", "127.0.0.1"}});
  ASSERT_EQ(m.status, 200) << logs();
  std::istringstream names(read_file(fs::path(EDGEGUARD_SOURCE_DIR) / "deploy/metrics.txt"));
  int checked = 0;
  for (std::string name; std::getline(names, name);) {
    if (name.empty() || name[0] == '#') continue;
    ++checked;
    EXPECT_NE(m.body.find("# TYPE " + name + " "), std::string::npos)
        << name << " (deploy/metrics.txt) is not on /metrics";
  }
  EXPECT_GE(checked, 16);
  EXPECT_NE(m.body.find("route=\"app\""), std::string::npos) << m.body;
}

// The same proxies behind a CDN: the test client is the CDN edge (127.0.0.1, trusted by the
// proxy through the reference configs' optional trusted-proxy setting) and names the visitor in
// X-Forwarded-For, as a CDN does. Loopback itself is never judged by country, so this is how a
// denied country reaches edgeguard through a real proxy.
class ProxyBehindCdnTest : public ProxyTest {
 protected:
  bool behind_cdn() const override { return true; }

  Response from_visitor(const std::string& path, const std::string& forwarded_for) {
    return get(path, {{"X-Forwarded-For", forwarded_for}});
  }

  std::optional<double> metric(const std::string& name_and_labels) {
    Response m = http_get(admin_port_, "/metrics", {{"Host", "127.0.0.1"}});
    std::istringstream lines(m.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.compare(0, name_and_labels.size() + 1, name_and_labels + " ") == 0) {
        return std::atof(line.c_str() + name_and_labels.size() + 1);
      }
    }
    return std::nullopt;
  }
};

constexpr const char* kSeVisitor = "89.160.20.112";
constexpr const char* kGbVisitor = "81.2.69.160";

TEST_P(ProxyBehindCdnTest, DeniedCountryGets403WithReasonGeo) {
  for (const std::string path : {"/no-se", "/gb-only"}) {
    Response r = from_visitor(path, kSeVisitor);
    ASSERT_EQ(r.status, 403) << path << "\n" << r.body << logs();
    EXPECT_EQ(r.body.find("GET " + path), std::string::npos) << "reached the backend: " << r.body;
    // Caddy passes edgeguard's problem+json through; nginx answers with its own body, so the
    // reason is read from edgeguard's decision counter for both.
    if (GetParam() == Proxy::kCaddy) {
      EXPECT_NE(r.body.find("\"reason\":\"geo\""), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(metric("edgeguard_decisions_total{route=\"no-se\",verdict=\"deny\",reason=\"geo\"}"),
            1.0)
      << logs();
  EXPECT_EQ(metric("edgeguard_decisions_total{route=\"gb-only\",verdict=\"deny\",reason=\"geo\"}"),
            1.0)
      << logs();
}

TEST_P(ProxyBehindCdnTest, AllowedCountryReachesUpstreamWithCountryHeader) {
  for (const std::string path : {"/no-se", "/gb-only"}) {
    Response r = from_visitor(path, kGbVisitor);
    ASSERT_EQ(r.status, 200) << path << "\n" << r.body << logs();
    EXPECT_NE(r.body.find("GET " + path), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("X-Edgeguard-Country: GB\r\n"), std::string::npos) << r.body;
  }
}

TEST_P(ProxyBehindCdnTest, VisitorIsTheEntryTheCdnAppendedNotOneTheVisitorForged) {
  // A Swedish visitor sends "X-Forwarded-For: 81.2.69.160" (GB); the CDN appends the address it
  // saw. Only that entry (left of the proxy's peer) is judged, so the forgery gains nothing...
  Response forged = from_visitor("/no-se", std::string(kGbVisitor) + ", " + kSeVisitor);
  EXPECT_EQ(forged.status, 403) << forged.body << logs();
  // ...and the reverse: a GB visitor forging a Swedish entry is still let through as GB.
  Response gb = from_visitor("/gb-only", std::string(kSeVisitor) + ", " + kGbVisitor);
  EXPECT_EQ(gb.status, 200) << gb.body << logs();
  EXPECT_NE(gb.body.find("X-Edgeguard-Country: GB\r\n"), std::string::npos) << gb.body;
}

INSTANTIATE_TEST_SUITE_P(Proxies, ProxyBehindCdnTest,
                         ::testing::Values(Proxy::kCaddy, Proxy::kNginx), [](const auto& info) {
                           return std::string(info.param == Proxy::kCaddy ? "Caddy" : "Nginx");
                         });

INSTANTIATE_TEST_SUITE_P(Proxies, ProxyTest, ::testing::Values(Proxy::kCaddy, Proxy::kNginx),
                         [](const auto& info) {
                           return std::string(info.param == Proxy::kCaddy ? "Caddy" : "Nginx");
                         });

}  // namespace
}  // namespace edgeguard
