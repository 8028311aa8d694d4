// A flood of distinct offenders through the binary against a limit that bans, with a small
// bans.max_active: the bans held never exceed it (edgeguard_bans_active, sampled through the
// flood), the server's memory stays flat once the table is full, every offender is still
// banned at the moment of banning, and the newest offenders hold the table while the oldest
// gave way (GET /v1/bans).
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"
#include "tests/support/sanitizers.h"

namespace edgeguard::testing {
namespace {

namespace json = boost::json;

constexpr int kMaxActive = 1000;
constexpr int kOffenders = 20 * kMaxActive;

// One request passes (burst 1), the next is denied and bans for an hour: the flood outlasts no
// ban, so the table is full of active bans from the 1000th offender on.
const std::string kPolicy = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
callers: [127.0.0.0/8]
threads: 1
bans: {max_active: )" + std::to_string(kMaxActive) +
                            R"(}
routes:
  - name: login
    hosts: [auth.example.net]
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 1, key: client_ip, ban: {for: 1h}}
default: allow
)";

std::string offender(int i) {
  const unsigned a = 0x0A000000u + static_cast<unsigned>(i);  // 10.0.0.0 upwards
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

// VmRSS of a process, in bytes (0 when unreadable).
std::size_t rss_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
  }
  return 0;
}

TEST(BanFlood, DistinctOffendersNeverHoldMoreThanMaxActiveAndTheNewestStayBanned) {
  ScratchDir dir;
  Server server(dir, kPolicy);
  ASSERT_TRUE(server.started()) << server.stderr_text();

  // One keep-alive connection, as Traefik keeps them; a new one if the server closed it.
  auto conn = std::make_unique<Conn>(server.port());
  auto ask = [&](const std::string& ip) {
    const std::string call = render(call_from("auth.example.net", ip));
    if (!conn->ok() || !conn->send(call)) {
      conn = std::make_unique<Conn>(server.port());
      EXPECT_TRUE(conn->send(call));
    }
    return conn->read_response();
  };

  std::size_t rss_full = 0;  // once the table first fills
  double most_active = 0;
  int banned = 0;
  for (int i = 0; i < kOffenders; ++i) {
    const std::string ip = offender(i);
    ASSERT_EQ(ask(ip).status, 200) << ip;
    const HttpResponse denied = ask(ip);
    ASSERT_EQ(denied.status, 403) << ip;
    if (reason_of(denied) == "ban" && denied.header("Retry-After") == "3600") ++banned;
    if ((i + 1) % 500 == 0) {
      most_active = std::max(most_active, server.metric("edgeguard_bans_active").value_or(-1));
    }
    if (i + 1 == 2 * kMaxActive) rss_full = rss_of(server.pid());
  }
  const std::size_t rss_end = rss_of(server.pid());
  std::printf("ban flood: %d offenders, max_active %d; most active %.0f; RSS %zu -> %zu bytes\n",
              kOffenders, kMaxActive, most_active, rss_full, rss_end);

  // Every offender was banned at the moment of banning: the table made room for each.
  EXPECT_EQ(banned, kOffenders);
  EXPECT_EQ(server.metric(R"(edgeguard_bans_total{route="login",source="limit"})"), kOffenders);
  // Never more held than max_active, and never fewer than the three quarters giving way keeps.
  EXPECT_LE(most_active, kMaxActive);
  EXPECT_GE(server.metric("edgeguard_bans_active").value_or(-1), kMaxActive * 3 / 4);
  // Memory: once full, 18 000 more offenders leave RSS flat. Unbounded, their bans and
  // offences alone would take ~10 MB (bench/README.md: ~500 bytes a ban).
  // (Not under a sanitizer: tests/support/sanitizers.h.)
  ASSERT_GT(rss_full, 0u);
  if (!kSanitized) {
    EXPECT_LE(rss_end, rss_full + (3u << 20));
  }

  // The bans held are the newest: the last offender's, not the first's.
  const std::string listed = server.admin_get("/v1/bans");
  boost::system::error_code ec;
  const json::value v = json::parse(listed, ec);
  ASSERT_FALSE(ec) << listed.substr(0, 200);
  std::set<std::string> subjects;
  for (const json::value& b : v.at("bans").as_array()) {
    subjects.insert(std::string(b.at("subject").as_string()));
  }
  EXPECT_LE(subjects.size(), static_cast<std::size_t>(kMaxActive));
  EXPECT_TRUE(subjects.contains("ip:" + offender(kOffenders - 1)));
  EXPECT_FALSE(subjects.contains("ip:" + offender(0)));
  // And the request path agrees: the newest offender is refused as banned on its first request
  // since, by the ban (not by the limit: the limit's denial would have made a new ban).
  const double made_before =
      server.metric(R"(edgeguard_bans_total{route="login",source="limit"})").value_or(-1);
  const HttpResponse newest = ask(offender(kOffenders - 1));
  EXPECT_EQ(newest.status, 403);
  EXPECT_EQ(reason_of(newest), "ban");
  EXPECT_EQ(server.metric(R"(edgeguard_bans_total{route="login",source="limit"})"), made_before);
}

}  // namespace
}  // namespace edgeguard::testing
