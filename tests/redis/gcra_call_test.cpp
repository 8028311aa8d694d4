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

// "*5\r\n:a\r\n:b\r\n..." from five integers.
std::string five(long long a, long long b, long long c, long long d, long long e) {
  std::string s = "*5\r\n";
  for (long long v : {a, b, c, d, e}) {
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
  gcra_evalsha_argv(argv, "p:", keys, rates, GcraScriptMode::dry_run);
  const std::vector<std::string> want = {
      "EVALSHA", std::string(gcra_script_sha1()), "2", "p:{k1}", "p:{k2}", "1", "10", "50", "7",
      "70"};
  EXPECT_EQ(argv, want);
  EXPECT_EQ(argv[gcra_mode_arg(2)], "1");
  gcra_argv_to_eval(argv);
  EXPECT_EQ(argv[0], "EVAL");
  EXPECT_EQ(argv[1], gcra_script_source());
  EXPECT_EQ(argv[2], "2");

  // A recycled argv (longer, and holding the script) is rewritten whole, for fewer keys.
  const std::string_view one[] = {"k3"};
  gcra_evalsha_argv(argv, "p:", one, std::span(rates, 1), GcraScriptMode::refund);
  const std::vector<std::string> again = {"EVALSHA",
                                          std::string(gcra_script_sha1()),
                                          "1",
                                          "p:{k3}",
                                          std::to_string(static_cast<int>(GcraScriptMode::refund)),
                                          "10",
                                          "50"};
  EXPECT_EQ(argv, again);
}

TEST(GcraCall, ReadsAllowedAndDeniedVerdicts) {
  auto allowed = parse(five(1, -1, 0, 4, 600), 1);
  ASSERT_TRUE(allowed.has_value());
  EXPECT_TRUE(allowed->allowed);
  EXPECT_EQ(allowed->denied, -1);
  EXPECT_EQ(allowed->remaining, 4);
  EXPECT_EQ(allowed->reset_ns, 600);

  auto denied = parse(five(0, 2, 30, 0, 90), 3);
  ASSERT_TRUE(denied.has_value());
  EXPECT_FALSE(denied->allowed);
  EXPECT_EQ(denied->denied, 2);
  EXPECT_EQ(denied->retry_after_ns, 30);
  EXPECT_EQ(denied->reset_ns, 90);
}

// Every way a reply can break the contract is refused, never read as a verdict.
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
      {"six elements", "*6\r\n:1\r\n:-1\r\n:0\r\n:0\r\n:0\r\n:0\r\n", 1},
      {"a string among them", "*5\r\n:1\r\n:-1\r\n$1\r\n0\r\n:0\r\n:0\r\n", 1},
      {"a nested array", "*5\r\n:1\r\n:-1\r\n:0\r\n*0\r\n:0\r\n", 1},
      {"a nil among them", "*5\r\n:1\r\n:-1\r\n:0\r\n:0\r\n$-1\r\n", 1},
      {"an error among them", "*5\r\n-ERR x\r\n:-1\r\n:0\r\n:0\r\n:0\r\n", 1},
      {"verdict 2", five(2, -1, 0, 0, 0), 1},
      {"verdict -1", five(-1, 0, 0, 0, 0), 1},
      {"allowed naming a denier", five(1, 0, 0, 0, 0), 1},
      {"denied index -1", five(0, -1, 5, 0, 5), 1},
      {"denied index past the keys", five(0, 1, 5, 0, 5), 1},
      {"denied index 2^32 (0 once narrowed)", five(0, 4294967296LL, 5, 0, 5), 1},
      {"denied index -2^32", five(0, -4294967296LL, 5, 0, 5), 2},
      {"negative retry", five(0, 0, -5, 0, 5), 1},
      {"negative remaining", five(1, -1, 0, -1, 5), 1},
      {"negative reset", five(1, -1, 0, 1, -5), 1},
      {"huge retry (overflows now + retry)", five(0, 0, 9223372036854775807LL, 0, 5), 1},
      {"huge reset", five(1, -1, 0, 0, kGcraReplyMaxNs), 1},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(parse(c.resp, c.keys).has_value()) << c.why;
  }
  EXPECT_FALSE(parse_gcra_reply(nullptr, 1).has_value());
}

}  // namespace
}  // namespace edgeguard
