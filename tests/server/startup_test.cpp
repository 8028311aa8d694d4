// What an operator meets when edgeguard cannot start (each failure exits 1 and names its cause,
// a config mistake with FILE:LINE:COL), and what the admin listener answers besides /metrics:
// /healthz, /readyz while serving and once draining, 404 and 405.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace edgeguard::testing {
namespace {

// A loopback port held by this test for as long as the object lives: listening, without
// SO_REUSEPORT, so nobody else can bind it.
class HeldPort {
 public:
  HeldPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(fd_, 1) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~HeldPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::string policy(const std::string& listen, const std::string& admin_listen,
                   const std::string& more = "") {
  return "listen: \"" + listen + "\"\nadmin_listen: \"" + admin_listen +
         "\"\nthreads: 1\ncallers: [127.0.0.0/8]\n" + more +
         "routes:\n  - name: app\n    hosts: [app.example.test]\ndefault: allow\n";
}

class Startup : public ::testing::Test {
 protected:
  // `edgeguard serve` on `yaml`: it must fail to start, within the deadline.
  RunResult serve(const std::string& yaml) {
    const auto file = dir_.write("edgeguard.yaml", yaml).string();
    return run_edgeguard({"serve", "--config", file}, dir_, 10000ms);
  }
  std::string config_file() const { return dir_.file("edgeguard.yaml").string(); }

  ScratchDir dir_;
};

TEST_F(Startup, ListenPortInUseExits1NamingTheAddress) {
  HeldPort held;
  ASSERT_GT(held.port(), 0);
  const std::string listen = "127.0.0.1:" + std::to_string(held.port());
  const RunResult r = serve(policy(listen, "127.0.0.1:0"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot listen on " + listen), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"event\":\"startup_failed\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\"event\":\"started\""), std::string::npos) << r.out;
}

TEST_F(Startup, AdminPortInUseExits1NamingTheAddress) {
  HeldPort held;
  ASSERT_GT(held.port(), 0);
  const std::string admin = "127.0.0.1:" + std::to_string(held.port());
  const RunResult r = serve(policy("127.0.0.1:0", admin));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot listen on " + admin + " (admin_listen)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("\"event\":\"started\""), std::string::npos) << r.out;
}

TEST_F(Startup, AdminListenOnAnAddressOfNoInterfaceExits1) {
  // 192.0.2.1 (TEST-NET-1) is on no interface of a test machine.
  const RunResult r = serve(policy("127.0.0.1:0", "192.0.2.1:0"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot listen on 192.0.2.1:0 (admin_listen)"), std::string::npos) << r.err;
}

TEST_F(Startup, AListenAddressThatIsNoIpAddressIsAConfigErrorAtItsPosition) {
  // A listener binds an address, not a name; `check` must say so too, not only `serve`.
  struct Case {
    const char* name;
    std::string yaml;
    std::string error;
  };
  const Case cases[] = {
      {"admin_listen name", policy("127.0.0.1:0", "localhost:9090"),
       ":2:15: admin_listen: 'localhost' is not an IP address"},
      {"admin_listen bad octet", policy("127.0.0.1:0", "999.1.1.1:9090"),
       ":2:15: admin_listen: '999.1.1.1' is not an IP address"},
      {"admin_listen any", policy("127.0.0.1:0", "*:9090"),
       ":2:15: admin_listen: '*' is not an IP address"},
      {"listen name", policy("localhost:8080", "127.0.0.1:0"),
       ":1:9: listen: 'localhost' is not an IP address (or *)"},
      {"admin_listen without port", policy("127.0.0.1:0", "127.0.0.1"),
       ":2:15: admin_listen must be HOST:PORT"},
      {"admin_listen bad port", policy("127.0.0.1:0", "127.0.0.1:99999"),
       ":2:15: admin_listen: bad port '99999'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const RunResult r = serve(c.yaml);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(config_file() + c.error), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("\"event\":\"config_invalid\""), std::string::npos) << r.out;
    const RunResult check = run_edgeguard({"check", "--config", config_file()}, dir_);
    EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
    EXPECT_NE(check.err.find(config_file() + c.error), std::string::npos) << check.err;
  }
  // "*" is every address, for listen only.
  const auto any = dir_.write("any.yaml", policy("*:0", "127.0.0.1:0")).string();
  EXPECT_EQ(run_edgeguard({"check", "--config", any}, dir_).exit_code, 0);
}

TEST_F(Startup, MissingGeoipDatabaseExits1NamingTheFile) {
  const std::string db = dir_.file("GeoLite2-Country.mmdb").string();  // never written
  const RunResult r =
      serve(policy("127.0.0.1:0", "127.0.0.1:0", "geoip: {country_db: " + db + "}\n"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find(db), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"event\":\"startup_failed\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\"event\":\"started\""), std::string::npos) << r.out;
}

TEST_F(Startup, ACorruptGeoipDatabaseExits1NamingTheFile) {
  const std::string db = dir_.write("country.mmdb", "not a MaxMind database").string();
  const RunResult r =
      serve(policy("127.0.0.1:0", "127.0.0.1:0", "geoip: {country_db: " + db + "}\n"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find(db), std::string::npos) << r.err;
}

// ---- the admin listener ------------------------------------------------------------------

class Admin : public ::testing::Test {
 protected:
  void start(int threads = 1) {
    server_ = std::make_unique<Server>(
        dir_,
        "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: " + std::to_string(threads) +
            "\ncallers: [127.0.0.0/8]\nroutes:\n  - name: app\n    hosts: "
            "[app.example.test]\ndefault: allow\n");
    ASSERT_TRUE(server_->started()) << server_->stdout_text() << server_->stderr_text();
  }

  ScratchDir dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(Admin, HealthAndReadinessAnswer200WhileServing) {
  start(test_threads());
  const HttpResponse health = server_->admin_request("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  const HttpResponse ready = server_->admin_request("GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
  EXPECT_EQ(ready.header("Content-Type"), "text/plain; charset=utf-8");
  // A query string does not change the path.
  EXPECT_EQ(server_->admin_request("GET", "/readyz?verbose=1").status, 200);
}

TEST_F(Admin, AnUnknownPathIs404AndAReadOnlyPathRefusesOtherMethodsWith405) {
  start(test_threads());
  const HttpResponse missing = server_->admin_request("GET", "/status");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("/metrics, /healthz, /readyz"), std::string::npos) << missing.body;
  // The ForwardAuth listener's path is no admin path either.
  EXPECT_EQ(server_->admin_request("GET", "/auth").status, 404);
  EXPECT_EQ(server_->admin_request("POST", "/status").status, 404);
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    SCOPED_TRACE(method);
    for (const char* path : {"/metrics", "/healthz", "/readyz"}) {
      SCOPED_TRACE(path);
      const HttpResponse r = server_->admin_request(method, path);
      EXPECT_EQ(r.status, 405);
      EXPECT_NE(r.body.find("takes GET, HEAD"), std::string::npos) << r.body;
    }
  }
  // Still serving afterwards.
  EXPECT_EQ(server_->admin_request("GET", "/metrics").status, 200);
}

TEST_F(Admin, OnSigtermReadinessStopsAnsweringWhileInFlightRequestsFinish) {
  start();  // one loop: the round trip below proves the half request has been read
  EXPECT_EQ(server_->admin_request("GET", "/readyz").status, 200);
  Conn idle(server_->port());
  ASSERT_TRUE(idle.send(render(Call{})));
  ASSERT_EQ(idle.read_response().status, 200);
  Conn busy(server_->port());
  const std::string req = render(Call{});
  ASSERT_TRUE(busy.send(req.substr(0, req.size() / 2)));
  ASSERT_EQ(call_once(server_->port(), Call{}).status, 200);

  server_->signal(SIGTERM);
  // Draining: a load balancer asking /readyz is refused, so it sends no new traffic...
  EXPECT_TRUE(eventually([&] { return !Conn(server_->admin_port()).ok(); }))
      << "the admin listener still accepts while draining";
  // ...while the process still runs, waiting for the request it holds. (The idle connection
  // closing says the loop has begun draining, which the answer below depends on.)
  EXPECT_TRUE(idle.wait_closed(5000ms));
  EXPECT_TRUE(server_->running());
  ASSERT_TRUE(busy.send(req.substr(req.size() / 2)));
  const HttpResponse r = busy.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_EQ(server_->wait_and_reap(8000ms), 0);
}

}  // namespace
}  // namespace edgeguard::testing
