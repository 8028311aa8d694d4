// Replay with answers computed by hand: the engine in process, and the real binary on plain,
// gzip and stdin input (table and --json).
#include "guard/replay/replay.h"

#include <unistd.h>
#include <zlib.h>

#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "guard/accesslog/access_log.h"
#include "guard/accesslog/log_reader.h"
#include "guard/config/policy_loader.h"

namespace edgeguard {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::string_view kPolicy = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
routes:
  - name: login
    hosts: [auth.example.net]
    paths: [/login]
    methods: [POST]
    limits:
      - {name: per-ip, average: 10, period: 1m, burst: 5, key: client_ip}
  - name: shadowed
    hosts: [shadow.example.net]
    mode: shadow
    limits:
      - {name: per-ip, average: 1, period: 1s, burst: 2, key: client_ip}
  - name: blocked
    hosts: [blocked.example.net]
    deny_ips: [198.51.100.0/24]
default: allow
)";

// 2024-05-01T12:00:00Z: a 10-second slot boundary, so peak windows are easy to reason about.
constexpr std::int64_t kBase = 1714564800;

std::string stamp(std::int64_t seconds_after_base, int millis = 0) {
  std::int64_t s = kBase + seconds_after_base;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s", format_rfc3339(s * 1'000'000'000).c_str());
  std::string out(buf);
  out.pop_back();  // "Z"
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%03dZ", millis);
  return out + frac;
}

std::string line(const std::string& ip, const std::string& host, const std::string& method,
                 const std::string& path, std::int64_t t, const std::string& extra = "") {
  return R"({"ClientAddr":")" + ip + R"(:4711","ClientHost":")" + ip +
         R"(","DownstreamStatus":200,"RequestHost":")" + host + R"(","RequestMethod":")" + method +
         R"(","RequestPath":")" + path + R"(","ServiceURL":{"Host":"x"},"StartUTC":")" + stamp(t) +
         "\"" + extra + "}";
}

// The known-answer log. Counts, by hand:
//  login, 203.0.113.8: 5 POSTs at t = 0: the full burst, all allowed (a key of its own).
//  login, 203.0.113.7: 20 POSTs at t = 0..19 s. 10/min burst 5: T = 6 s, tolerance 30 s; a
//    request at t passes when TAT <= t + 24, then TAT += 6. TAT after each pass: 6, 12, 18, 24,
//    30 (t = 0..4 pass), t = 5 fails (30 > 29), t = 6 passes (TAT 36), t = 7..11 fail,
//    t = 12 passes (42), t = 13..17 fail, t = 18 passes (48), t = 19 fails.
//    => 8 allowed, 12 denied. All 20 fall in two 10-s slots: peak 20 per minute.
//  3 GETs on /login: the route wants POST, so they go to `default` (allow).
//  shadowed, 203.0.113.9: 6 requests at t = 30. 1/s burst 2: T = 1 s, tolerance 2 s: passes
//    while TAT <= t + 1: TAT 0 -> 1 -> 2, then 3 > 2: 2 allowed, 4 shadow_deny.
//  blocked: 4 from 198.51.100.9 (deny_ips: deny, reason ip), 2 from 203.0.113.7 (allow).
//  3 malformed lines, 1 blank line (ignored), 1 record with an unparseable ClientHost (400).
std::vector<std::string> known_log() {
  std::vector<std::string> lines;
  for (int i = 0; i < 5; ++i)
    lines.push_back(line("203.0.113.8", "auth.example.net", "POST", "/login?next=%2F", 0));
  for (int t = 0; t < 20; ++t)
    lines.push_back(line("203.0.113.7", "auth.example.net", "POST", "/login", t));
  for (int i = 0; i < 3; ++i)
    lines.push_back(line("203.0.113.7", "auth.example.net", "GET", "/login", 20));
  lines.push_back("this is not json");
  lines.push_back("");
  for (int i = 0; i < 6; ++i)
    lines.push_back(line("203.0.113.9", "shadow.example.net", "GET", "/", 30));
  lines.push_back(R"({"ClientHost":"203.0.113.7"})");
  for (int i = 0; i < 4; ++i)
    lines.push_back(line("198.51.100.9", "blocked.example.net", "GET", "/", 40));
  for (int i = 0; i < 2; ++i)
    lines.push_back(line("203.0.113.7", "blocked.example.net", "GET", "/", 41));
  lines.push_back(
      R"({"ClientHost":"1.2.3.4","RequestHost":"h","RequestMethod":"GET","RequestPath":"/","StartUTC":"noon"})");
  lines.push_back(line("not-an-ip", "auth.example.net", "GET", "/", 42));
  return lines;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "edgeguard-replay-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return (path_ / name).string();
  }
  std::string write_gzip(const std::string& name, const std::string& text) const {
    const std::string p = (path_ / name).string();
    gzFile gz = gzopen(p.c_str(), "wb");
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
    return p;
  }

 private:
  fs::path path_;
};

std::string join(const std::vector<std::string>& lines, std::size_t from = 0,
                 std::size_t to = std::string::npos) {
  std::string out;
  for (std::size_t i = from; i < std::min(to, lines.size()); ++i) out += lines[i] + "\n";
  return out;
}

struct RunResult {
  int exit_code = -1;
  std::string out;
};

RunResult run(const std::string& args) {
  RunResult r;
  const std::string cmd = std::string(EDGEGUARD_BINARY) + " replay " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

const json::object& route_of(const json::value& report, std::string_view name) {
  for (const auto& r : report.at("routes").as_array()) {
    if (r.at("route").as_string() == name) return r.as_object();
  }
  static const json::object none;
  ADD_FAILURE() << "no route " << name;
  return none;
}

std::int64_t num(const json::value& v) {
  return v.to_number<std::int64_t>();
}

// Checks a --json report of known_log() against the hand-computed answers.
void expect_known_answers(const json::value& r) {
  EXPECT_EQ(num(r.at("lines")), 44);  // 45 lines, one of them blank
  EXPECT_EQ(num(r.at("requests")), 40);
  EXPECT_EQ(num(r.at("malformed")), 3);
  EXPECT_EQ(num(r.at("bad_requests")), 1);
  EXPECT_EQ(num(r.at("late")), 0);
  EXPECT_EQ(r.at("first").as_string(), "2024-05-01T12:00:00Z");
  EXPECT_EQ(r.at("last").as_string(), "2024-05-01T12:00:41Z");

  const auto& login = route_of(r, "login");
  EXPECT_EQ(num(login.at("requests")), 25);
  EXPECT_EQ(num(login.at("allow")), 13);
  EXPECT_EQ(num(login.at("deny")), 12);
  EXPECT_EQ(num(login.at("would_deny_by_reason").at("rate_limit")), 12);
  const auto& limit = login.at("limits").as_array().at(0);
  EXPECT_EQ(limit.at("limit").as_string(), "per-ip");
  EXPECT_EQ(num(limit.at("would_deny")), 12);
  EXPECT_EQ(num(limit.at("keys")), 2);
  const auto& top = limit.at("top_keys").as_array().at(0);
  EXPECT_EQ(top.at("key").as_string(), "203.0.113.7");
  EXPECT_EQ(num(top.at("requests")), 20);
  EXPECT_EQ(num(top.at("denied")), 12);
  EXPECT_EQ(num(top.at("peak_per_minute")), 20);
  const auto& second = limit.at("top_keys").as_array().at(1);
  EXPECT_EQ(second.at("key").as_string(), "203.0.113.8");
  EXPECT_EQ(num(second.at("denied")), 0);
  EXPECT_EQ(num(second.at("peak_per_minute")), 5);

  const auto& shadowed = route_of(r, "shadowed");
  EXPECT_EQ(shadowed.at("mode").as_string(), "shadow");
  EXPECT_EQ(num(shadowed.at("requests")), 6);
  EXPECT_EQ(num(shadowed.at("allow")), 2);
  EXPECT_EQ(num(shadowed.at("deny")), 0);
  EXPECT_EQ(num(shadowed.at("shadow_deny")), 4);
  EXPECT_EQ(num(shadowed.at("would_deny")), 4);

  const auto& blocked = route_of(r, "blocked");
  EXPECT_EQ(num(blocked.at("requests")), 6);
  EXPECT_EQ(num(blocked.at("deny")), 4);
  EXPECT_EQ(num(blocked.at("would_deny_by_reason").at("ip")), 4);
  const auto& client = blocked.at("top_denied_clients").as_array().at(0);
  EXPECT_EQ(client.at("key").as_string(), "198.51.100.9");
  EXPECT_EQ(num(client.at("denied")), 4);

  const auto& def = route_of(r, "default");
  EXPECT_EQ(num(def.at("requests")), 3);
  EXPECT_EQ(num(def.at("allow")), 3);
}

class ReplayCli : public ::testing::Test {
 protected:
  void SetUp() override { config_ = dir_.write("policy.yaml", std::string(kPolicy)); }
  TempDir dir_;
  std::string config_;
};

TEST_F(ReplayCli, JsonReportMatchesTheHandComputedAnswers) {
  const std::string log = dir_.write("access.log", join(known_log()));
  const RunResult r = run("--config " + config_ + " --json " + log);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  expect_known_answers(json::parse(r.out));
  // The first malformed lines are reported with their line numbers (1-based).
  const auto examples = json::parse(r.out).at("malformed_examples").as_array();
  ASSERT_EQ(examples.size(), 3u);
  EXPECT_EQ(num(examples[0].at("line")), 29);
  EXPECT_EQ(examples[0].at("error").as_string(), "not a JSON object");
  EXPECT_EQ(num(examples[1].at("line")), 37);
  EXPECT_EQ(examples[1].at("error").as_string(), "missing RequestHost");
  EXPECT_EQ(num(examples[2].at("line")), 44);
}

TEST_F(ReplayCli, GzipSplitFilesAndStdinGiveTheSameAnswers) {
  const auto lines = known_log();
  // First half gzip, second half plain, in order: the same replay as one file.
  const std::string a = dir_.write_gzip("access.log.1.gz", join(lines, 0, 23));
  const std::string b = dir_.write("access.log", join(lines, 23));
  const RunResult split = run("--config " + config_ + " --json " + a + " " + b);
  ASSERT_EQ(split.exit_code, 0);
  expect_known_answers(json::parse(split.out));

  const std::string whole = dir_.write_gzip("all.gz", join(lines));
  const RunResult piped = run("--config " + config_ + " --json - < " + whole);
  ASSERT_EQ(piped.exit_code, 0);
  expect_known_answers(json::parse(piped.out));
}

TEST_F(ReplayCli, TableNamesRoutesLimitsAndKeys) {
  const std::string log = dir_.write("access.log", join(known_log()));
  const RunResult r = run("--config " + config_ + " --top 1 " + log);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("3 malformed lines"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(":29: not a JSON object"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("limit per-ip 10/1m burst 5: would deny 12, 2 keys"), std::string::npos)
      << r.out;
  // --top 1: the most denied key only, with its columns aligned under the header.
  std::istringstream in(r.out);
  std::string l, header, row;
  while (std::getline(in, l)) {
    if (l.find("key") != std::string::npos && l.find("peak/min") != std::string::npos &&
        header.empty()) {
      header = l;
      std::getline(in, row);
    }
  }
  ASSERT_FALSE(header.empty()) << r.out;
  EXPECT_NE(row.find("203.0.113.7"), std::string::npos);
  EXPECT_EQ(row.size(), header.size());  // right-aligned numbers end under their headings
  EXPECT_EQ(r.out.find("203.0.113.8"), std::string::npos);
  EXPECT_NE(r.out.find("login"), std::string::npos);
}

TEST_F(ReplayCli, UnreadableInputAndBadArgumentsFail) {
  EXPECT_EQ(run("--config " + config_ + " " + (dir_.path() / "missing.log").string()).exit_code, 1);
  EXPECT_EQ(run("--config " + config_).exit_code, 2);
  EXPECT_EQ(run("--config " + config_ + " --top x -").exit_code, 2);
  // A truncated gzip is a read error, not a silent partial report.
  const std::string gz = dir_.write_gzip("cut.gz", join(known_log()));
  std::string bytes;
  {
    std::ifstream in(gz, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string cut = dir_.write("cut2.gz", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(run("--config " + config_ + " " + cut).exit_code, 1);
}

// The engine directly: the client address from a logged X-Forwarded-For when the policy looks
// past the peer, and the clock that never goes back.
TEST(ReplayEngine, DepthTwoReadsTheLoggedForwardedFor) {
  const std::string yaml = std::string(kPolicy) + "client_ip: {depth: 2}\n";
  const PolicyLoad load = parse_policy(yaml, "policy.yaml");
  ASSERT_TRUE(load.policy) << load.error;
  const auto snapshot = make_snapshot(load.policy, nullptr, nullptr);
  Replay replay(*snapshot);
  AccessLogParser parser(replay.header_names());
  AccessRecord rec;
  // Traefik's peer is a CDN edge (10.1.2.3); the client it forwarded for is 198.51.100.9.
  const std::string l = line("10.1.2.3", "blocked.example.net", "GET", "/", 0,
                             R"(,"request_X-Forwarded-For":"198.51.100.9")");
  ASSERT_EQ(parser.parse(l, rec), nullptr);
  replay.add(rec, "t", 1);
  // Without the header depth 2 has only one entry: edgeguard would answer 400.
  const std::string text1 =
      line("10.1.2.3", "blocked.example.net", "GET", "/", 0);  // rec views into it
  ASSERT_EQ(parser.parse(text1, rec), nullptr);
  replay.add(rec, "t", 2);
  const ReplayReport r = replay.report(5);
  EXPECT_EQ(r.requests, 1u);
  EXPECT_EQ(r.bad_requests, 1u);
  ASSERT_EQ(r.routes.size(), 4u);
  EXPECT_EQ(r.routes[2].name, "blocked");
  EXPECT_EQ(r.routes[2].deny, 1u);
  ASSERT_EQ(r.routes[2].top_denied_clients.size(), 1u);
  EXPECT_EQ(r.routes[2].top_denied_clients[0].key, "198.51.100.9");
}

TEST(ReplayEngine, LateRecordsAreDecidedAtTheReplayClock) {
  const PolicyLoad load = parse_policy(kPolicy, "policy.yaml");
  ASSERT_TRUE(load.policy) << load.error;
  const auto snapshot = make_snapshot(load.policy, nullptr, nullptr);
  Replay replay(*snapshot);
  AccessLogParser parser(replay.header_names());
  AccessRecord rec;
  // 6 requests at t = 10 use the burst (5) and one more is denied; a line logged after them
  // that started at t = 0 is decided at t = 10 (denied), not at t = 0 when the bucket was full.
  for (int i = 0; i < 6; ++i) {
    const std::string text2 =
        line("203.0.113.7", "auth.example.net", "POST", "/login", 10);  // rec views into it
    ASSERT_EQ(parser.parse(text2, rec), nullptr);
    replay.add(rec, "t", 1);
  }
  const std::string text3 =
      line("203.0.113.7", "auth.example.net", "POST", "/login", 0);  // rec views into it
  ASSERT_EQ(parser.parse(text3, rec), nullptr);
  replay.add(rec, "t", 7);
  const ReplayReport r = replay.report(5);
  EXPECT_EQ(r.late, 1u);
  EXPECT_EQ(r.routes[0].allow, 5u);
  EXPECT_EQ(r.routes[0].deny, 2u);
}

TEST(ReplayEngine, PeakRateForgetsOldSlots) {
  const PolicyLoad load = parse_policy(kPolicy, "policy.yaml");
  ASSERT_TRUE(load.policy) << load.error;
  const auto snapshot = make_snapshot(load.policy, nullptr, nullptr);
  Replay replay(*snapshot);
  AccessLogParser parser(replay.header_names());
  AccessRecord rec;
  // 3 requests per 10-s slot spread over 5 minutes: any minute holds 18, and a minute's gap
  // must not let old slots add up. Then 4 more in one slot after a gap: still 18.
  for (int t = 0; t < 300; t += 10) {
    for (int i = 0; i < 3; ++i) {
      const std::string text4 =
          line("203.0.113.7", "shadow.example.net", "GET", "/", t + i);  // rec views into it
      ASSERT_EQ(parser.parse(text4, rec), nullptr);
      replay.add(rec, "t", 1);
    }
  }
  for (int i = 0; i < 4; ++i) {
    const std::string text5 =
        line("203.0.113.7", "shadow.example.net", "GET", "/", 500);  // rec views into it
    ASSERT_EQ(parser.parse(text5, rec), nullptr);
    replay.add(rec, "t", 2);
  }
  const ReplayReport r = replay.report(5);
  ASSERT_EQ(r.routes[1].limits.size(), 1u);
  ASSERT_EQ(r.routes[1].limits[0].top_keys.size(), 1u);
  EXPECT_EQ(r.routes[1].limits[0].top_keys[0].peak_per_minute, 18u);
  EXPECT_EQ(r.routes[1].limits[0].top_keys[0].requests, 94u);
}

TEST(LogReader, PlainGzipCrlfAndALastLineWithoutNewline) {
  TempDir dir;
  const std::string text = "one\r\ntwo\n\nthree";
  for (const std::string& p : {dir.write("plain", text), dir.write_gzip("gz", text)}) {
    std::string error;
    auto reader = LogReader::open(p, &error);
    ASSERT_TRUE(reader) << error;
    std::vector<std::string> got;
    std::string_view l;
    while (reader->next(l)) got.emplace_back(l);
    EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "", "three"}));
    EXPECT_TRUE(reader->error().empty());
  }
}

TEST(LogReader, SkipsOversizedLinesAndKeepsGoing) {
  TempDir dir;
  const std::string big(LogReader::kMaxLineBytes + 10, 'x');
  const std::string p = dir.write("big", "a\n" + big + "\nb\n");
  std::string error;
  auto reader = LogReader::open(p, &error);
  ASSERT_TRUE(reader);
  std::vector<std::string> got;
  std::string_view l;
  while (reader->next(l)) got.emplace_back(l.substr(0, 10));  // keep a failure's output short
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(reader->oversized_lines(), 1u);
}

// Bans replayed with escalation on the log's clock. Worked by hand (average 2 per hour, burst 2:
// T = 1800 s, tolerance 3600 s; ban 10 m, factor 2):
//  .7 at t = 0, 1 passes (TAT 1800, 3600); t = 2 is denied and banned 600 s (until 602);
//     t = 3 is refused by the ban (no new one); at t = 700 the ban is over but the bucket is
//     not (next TAT 5400 is 4700 s ahead > 3600): denied and banned again, 2nd offence 1200 s;
//     at t = 2000 (ban over at 1900) the bucket admits (5400 - 2000 = 3400 <= 3600).
//  .8 at t = 0, 0, 0: the third is banned 600 s.
//  => 3 bans of 2 subjects, 2400 s in all; .7 first (1800 s).
TEST(ReplayEngine, BansAreReplayedWithEscalation) {
  const PolicyLoad load = parse_policy(R"(listen: 127.0.0.1:0
bans: {escalation: {factor: 2, max: 1d, memory: 7d}}
routes:
  - name: login
    hosts: [auth.example.net]
    limits:
      - {name: per-ip, average: 2, period: 1h, burst: 2, key: client_ip, ban: {for: 10m}}
)",
                                       "policy.yaml");
  ASSERT_TRUE(load.policy) << load.error;
  const auto snapshot = make_snapshot(load.policy, nullptr, nullptr);
  Replay replay(*snapshot);
  AccessLogParser parser(replay.header_names());
  AccessRecord rec;
  std::uint64_t n = 0;
  auto add = [&](const char* ip, std::int64_t t) {
    const std::string text = line(ip, "auth.example.net", "POST", "/login", t);
    ASSERT_EQ(parser.parse(text, rec), nullptr);
    replay.add(rec, "t", ++n);
  };
  for (int i = 0; i < 3; ++i) add("203.0.113.8", 0);
  add("203.0.113.7", 0);
  add("203.0.113.7", 1);
  add("203.0.113.7", 2);
  add("203.0.113.7", 3);
  add("203.0.113.7", 700);
  add("203.0.113.7", 2000);
  const ReplayReport r = replay.report(5);
  ASSERT_EQ(r.routes[0].name, "login");
  const RouteReport& login = r.routes[0];
  EXPECT_EQ(login.allow, 5u);
  EXPECT_EQ(login.deny, 4u);
  EXPECT_EQ(login.bans, 3u);
  EXPECT_EQ(login.banned_subjects, 2u);
  EXPECT_EQ(login.ban_seconds, 2400);
  ASSERT_EQ(login.top_banned.size(), 2u);
  EXPECT_EQ(login.top_banned[0].subject, "ip:203.0.113.7");
  EXPECT_EQ(login.top_banned[0].bans, 2u);
  EXPECT_EQ(login.top_banned[0].seconds, 1800);
  EXPECT_EQ(login.top_banned[1].subject, "ip:203.0.113.8");
  EXPECT_EQ(login.top_banned[1].seconds, 600);
  // The limit is the one that denied, bans included.
  ASSERT_EQ(login.limits.size(), 1u);
  EXPECT_EQ(login.limits[0].denied, 3u);
  ASSERT_EQ(login.would_deny_by_reason.size(), 1u);
  EXPECT_EQ(login.would_deny_by_reason[0].first, "ban");
  EXPECT_EQ(login.would_deny_by_reason[0].second, 4u);
}

// Failures replayed from the log's statuses (failures.access_log): 401s from one address on a
// route with a failure limit of burst 3 (ban 10 m): the third 401 in a row bans it (the failure
// that empties the bucket). A 200 is no failure; a 401 on a route without failure limits counts
// nowhere; a policy without an access_log source counts none.
TEST(ReplayEngine, LoggedFailuresChargeFailureLimitsAndBan) {
  const std::string yaml = R"(listen: 127.0.0.1:0
failures: {access_log: {file: /var/log/traefik/access.log, status: [401]}}
routes:
  - name: erp
    hosts: [erp.example.net]
    failure_limits:
      - {name: ip, average: 3, period: 1h, burst: 3, key: client_ip, ban: {for: 10m}}
  - name: plain
    hosts: [plain.example.net]
)";
  auto run = [](const std::string& policy_yaml) {
    const PolicyLoad load = parse_policy(policy_yaml, "policy.yaml");
    EXPECT_TRUE(load.policy) << load.error;
    const auto snapshot = make_snapshot(load.policy, nullptr, nullptr);
    Replay replay(*snapshot);
    AccessLogParser parser(replay.header_names());
    AccessRecord rec;
    std::uint64_t n = 0;
    auto add = [&](const char* host, int status, std::int64_t t) {
      std::string text = line("203.0.113.9", host, "POST", "/api/method/login", t);
      text.replace(text.find("\"DownstreamStatus\":200"), 22,
                   "\"DownstreamStatus\":" + std::to_string(status));
      ASSERT_EQ(parser.parse(text, rec), nullptr) << text;
      replay.add(rec, "t", ++n);
    };
    add("erp.example.net", 401, 0);
    add("erp.example.net", 200, 1);
    add("plain.example.net", 401, 2);
    add("erp.example.net", 401, 3);
    add("erp.example.net", 401, 4);  // the third failure: banned 600 s
    add("erp.example.net", 200, 5);  // refused by the ban
    return replay.report(5);
  };
  const ReplayReport r = run(yaml);
  ASSERT_EQ(r.routes[0].name, "erp");
  EXPECT_EQ(r.routes[0].failures, 3u);
  EXPECT_EQ(r.routes[0].bans, 1u);
  EXPECT_EQ(r.routes[0].ban_seconds, 600);
  ASSERT_EQ(r.routes[0].top_banned.size(), 1u);
  EXPECT_EQ(r.routes[0].top_banned[0].subject, "ip:203.0.113.9");
  EXPECT_EQ(r.routes[0].deny, 1u);  // the request after the ban
  EXPECT_EQ(r.routes[1].failures, 0u);

  const std::string no_source =
      yaml.substr(0, yaml.find("failures:")) + yaml.substr(yaml.find("routes:"));
  const ReplayReport quiet = run(no_source);
  EXPECT_EQ(quiet.routes[0].failures, 0u);
  EXPECT_EQ(quiet.routes[0].bans, 0u);
}

}  // namespace
}  // namespace edgeguard
