// The GCRA script's calling convention without a server: the EVALSHA argv, and the reply parser
// against well-formed and malformed replies (the reply trees come from hiredis's own reader, as
// they would from a socket).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include "guard/redis/gcra_call.h"

namespace edgeguard {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply read_resp(const std::string& bytes) {
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
  EXPECT_EQ(redisReaderFeed(reader.get(), bytes.data(), bytes.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
  EXPECT_NE(raw, nullptr) << "incomplete RESP: " << bytes;
  return Reply(static_cast<redisReply*>(raw));
}

// "*8\r\n:a\r\n:b\r\n..." from the verdict's five integers and the ban's three.
std::string eight(long long a, long long b, long long c, long long d, long long e,
                  long long ban = 0, long long left = 0, long long count = 0) {
  std::string s = "*8\r\n";
  for (long long v : {a, b, c, d, e, ban, left, count}) {
    s.append(":").append(std::to_string(v)).append("\r\n");
  }
  return s;
}

std::optional<GcraReply> parse(const std::string& resp, std::size_t keys) {
  Reply r = read_resp(resp);
  return parse_gcra_reply(r.get(), keys);
}

TEST(GcraCall, KeyIsItsOwnHashTag) {
  EXPECT_EQ(gcra_redis_key("edgeguard:",
                           "login\x1fper-ip\x1f"
                           "192.0.2.1"),
            "edgeguard:{login\x1fper-ip\x1f"
            "192.0.2.1}");
}

TEST(GcraCall, EvalshaArgvFollowsTheScriptContract) {
  const GcraRate a{10, 50, 5}, b{7, 70, 10};
  const GcraRate rates[] = {a, b};
  const std::string_view keys[] = {"k1", "k2"};
  std::vector<std::string> argv;
  EXPECT_EQ(gcra_evalsha_argv(argv, "p:", keys, rates, GcraScriptMode::dry_run), 10u);
  const std::vector<std::string> want = {
      "EVALSHA", std::string(gcra_script_sha1()), "2", "p:{k1}", "p:{k2}", "1", "10", "50", "7",
      "70"};
  EXPECT_EQ(argv, want);
  EXPECT_EQ(argv[gcra_mode_arg(2)], "1");
  gcra_argv_to_eval(argv);
  EXPECT_EQ(argv[0], "EVAL");
  EXPECT_EQ(argv[1], gcra_script_source());
  EXPECT_EQ(argv[2], "2");

  // A recycled argv (longer, and holding the script) is rewritten for fewer keys in its first
  // strings; the rest stay for their capacity.
  const std::string_view one[] = {"k3"};
  const std::size_t n =
      gcra_evalsha_argv(argv, "p:", one, std::span(rates, 1), GcraScriptMode::refund);
  EXPECT_EQ(argv.size(), 10u);
  argv.resize(n);
  const std::vector<std::string> again = {"EVALSHA",
                                          std::string(gcra_script_sha1()),
                                          "1",
                                          "p:{k3}",
                                          std::to_string(static_cast<int>(GcraScriptMode::refund)),
                                          "10",
                                          "50"};
  EXPECT_EQ(argv, again);
}

// A standalone run carries the ban orders of its buckets after the rates, and the bans' index
// as its last key; the mode stays right after the keys.
TEST(GcraCall, EvalshaArgvCarriesTheBanSection) {
  const GcraRate a{10, 50, 5}, b{7, 70, 10};
  const GcraRate rates[] = {a, b};
  const BanKeys keys("eg:");
  const Escalation e{2.5, 3'600'000'000'000, 86'400'000'000'000};
  const BanOrder order{"ip:192.0.2.1", "login", "per-ip", 60'000'000'000, &e, BanSource::limit};
  GcraBanSection bans{&keys, 1000, {{1, &order}}};
  const std::string_view buckets[] = {"k1", "k2"};
  std::vector<std::string> argv;
  EXPECT_EQ(gcra_evalsha_argv(argv, "p:", buckets, rates, GcraScriptMode::charge, &bans), 23u);
  const std::vector<std::string> want = {"EVALSHA",
                                         std::string(gcra_script_sha1()),
                                         "3",
                                         "p:{k1}",
                                         "p:{k2}",
                                         "eg:{bans}:index",
                                         "0",
                                         "10",
                                         "50",
                                         "7",
                                         "70",
                                         "eg:",
                                         "eg:bans",
                                         "2.5",
                                         "3600000000000",
                                         "86400000",
                                         "1000",
                                         "2",
                                         "ip:192.0.2.1",
                                         "login",
                                         "per-ip",
                                         "limit",
                                         "60000000000"};
  EXPECT_EQ(argv, want);
  EXPECT_EQ(argv[gcra_mode_arg_of(argv)], "0");
  // No orders, no section: the argv a run without bans has always had.
  GcraBanSection none{&keys, 1000, {}};
  const std::size_t plain =
      gcra_evalsha_argv(argv, "p:", buckets, rates, GcraScriptMode::charge, &none);
  EXPECT_EQ(plain, 10u);
  EXPECT_EQ(argv[2], "2");
  EXPECT_EQ(argv[gcra_mode_arg_of(argv)], "0");
}

TEST(GcraCall, ReadsAllowedAndDeniedVerdicts) {
  auto allowed = parse(eight(1, -1, 0, 4, 600), 1);
  ASSERT_TRUE(allowed.has_value());
  EXPECT_TRUE(allowed->allowed);
  EXPECT_EQ(allowed->denied, -1);
  EXPECT_EQ(allowed->remaining, 4);
  EXPECT_EQ(allowed->reset_ns, 600);

  auto denied = parse(eight(0, 2, 30, 0, 90), 3);
  ASSERT_TRUE(denied.has_value());
  EXPECT_FALSE(denied->allowed);
  EXPECT_EQ(denied->denied, 2);
  EXPECT_EQ(denied->retry_after_ns, 30);
  EXPECT_EQ(denied->reset_ns, 90);
}

// Every way a reply can break the contract is refused, never read as a verdict.
TEST(GcraCall, ReadsWhatBecameOfTheBan) {
  auto made = parse(eight(0, 1, 30, 0, 90, 1, 120'000'000'000, 1), 2);
  ASSERT_TRUE(made.has_value());
  EXPECT_FALSE(made->allowed);
  EXPECT_EQ(made->ban.state, BanStep::made);
  EXPECT_EQ(made->ban.left_ns, 120'000'000'000);
  EXPECT_EQ(made->ban.count, 1);

  auto in_force = parse(eight(0, 0, 30, 0, 90, 2, 5'000'000, 3), 1);
  ASSERT_TRUE(in_force.has_value());
  EXPECT_EQ(in_force->ban.state, BanStep::in_force);
  EXPECT_EQ(in_force->ban.count, 3);

  auto refused = parse(eight(0, 0, 30, 0, 90, 3, 0, 2), 1);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->ban.state, BanStep::refused);

  auto none = parse(eight(0, 0, 30, 0, 90), 1);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->ban.state, BanStep::none);
}

TEST(GcraCall, RefusesMalformedReplies) {
  struct Case {
    const char* why;
    std::string resp;
    std::size_t keys;
  };
  const Case cases[] = {
      {"not an array", ":1\r\n", 1},
      {"a status", "+OK\r\n", 1},
      {"a bulk string", "$2\r\nok\r\n", 1},
      {"nil", "$-1\r\n", 1},
      {"empty array", "*0\r\n", 1},
      {"four elements", "*4\r\n:1\r\n:-1\r\n:0\r\n:0\r\n", 1},
      {"five elements (the reply before bans)", "*5\r\n:1\r\n:-1\r\n:0\r\n:4\r\n:6\r\n", 1},
      {"nine elements", "*9\r\n:1\r\n:-1\r\n:0\r\n:0\r\n:0\r\n:0\r\n:0\r\n:0\r\n:0\r\n", 1},
      {"a string among them", "*8\r\n:1\r\n:-1\r\n$1\r\n0\r\n:0\r\n:0\r\n:0\r\n:0\r\n:0\r\n", 1},
      {"a nested array", "*8\r\n:1\r\n:-1\r\n:0\r\n*0\r\n:0\r\n:0\r\n:0\r\n:0\r\n", 1},
      {"a nil among them", "*8\r\n:1\r\n:-1\r\n:0\r\n:0\r\n$-1\r\n:0\r\n:0\r\n:0\r\n", 1},
      {"an error among them", "*8\r\n-ERR x\r\n:-1\r\n:0\r\n:0\r\n:0\r\n:0\r\n:0\r\n:0\r\n", 1},
      {"a string as the ban state", "*8\r\n:0\r\n:0\r\n:5\r\n:0\r\n:5\r\n$1\r\n1\r\n:9\r\n:1\r\n",
       1},
      {"verdict 2", eight(2, -1, 0, 0, 0), 1},
      {"verdict -1", eight(-1, 0, 0, 0, 0), 1},
      {"allowed naming a denier", eight(1, 0, 0, 0, 0), 1},
      {"denied index -1", eight(0, -1, 5, 0, 5), 1},
      {"denied index past the keys", eight(0, 1, 5, 0, 5), 1},
      {"denied index 2^32 (0 once narrowed)", eight(0, 4294967296LL, 5, 0, 5), 1},
      {"denied index -2^32", eight(0, -4294967296LL, 5, 0, 5), 2},
      {"negative retry", eight(0, 0, -5, 0, 5), 1},
      {"negative remaining", eight(1, -1, 0, -1, 5), 1},
      {"negative reset", eight(1, -1, 0, 1, -5), 1},
      {"huge retry (overflows now + retry)", eight(0, 0, 9223372036854775807LL, 0, 5), 1},
      {"huge reset", eight(1, -1, 0, 0, kGcraReplyMaxNs), 1},
      {"a ban for an allowed request", eight(1, -1, 0, 3, 5, 1, 60, 1), 1},
      {"ban state 4", eight(0, 0, 5, 0, 5, 4, 60, 1), 1},
      {"ban state -1", eight(0, 0, 5, 0, 5, -1, 60, 1), 1},
      {"a ban made with no time left", eight(0, 0, 5, 0, 5, 1, 0, 1), 1},
      {"a ban in force with count 0", eight(0, 0, 5, 0, 5, 2, 60, 0), 1},
      {"a negative ban time", eight(0, 0, 5, 0, 5, 1, -60, 1), 1},
      {"a huge ban time (overflows now + left)", eight(0, 0, 5, 0, 5, 1, kGcraReplyMaxNs, 1), 1},
      {"no ban with time left", eight(0, 0, 5, 0, 5, 0, 60, 0), 1},
      {"no ban with a count", eight(0, 0, 5, 0, 5, 0, 0, 2), 1},
      {"refused with time left", eight(0, 0, 5, 0, 5, 3, 60, 1), 1},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(parse(c.resp, c.keys).has_value()) << c.why;
  }
  EXPECT_FALSE(parse_gcra_reply(nullptr, 1).has_value());
}

}  // namespace
}  // namespace edgeguard
