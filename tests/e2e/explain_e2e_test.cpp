// `edgeguard explain` beside a running server that shares its limits through Redis: explain
// reads the policy and the data sources, never the shared buckets. Asked about a client many
// times, it must leave Redis untouched, so the server still admits that client's whole burst:
// an operator's question must never lock out the user asked about. (In local mode explain's
// buckets die with its process, so charging them would be invisible: Redis is where the risk
// is.)
#include <boost/json.hpp>

#include <string>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_support.h"
#include "tests/support/harness.h"
#include "tests/support/redis_fixture.h"

namespace edgeguard::testing {
namespace {

TEST(ExplainE2e, ExplainingAClientLeavesTheSharedBucketsAlone) {
  TempDir tmp;
  RedisServer redis(tmp.path());
  ASSERT_TRUE(redis.running());
  ScratchDir dir;
  const std::string yaml =
      "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nthreads: 1\n"
      "store: {type: redis, redis: {address: " +
      redis.address() +
      ", timeout: 1s}}\n"
      "routes:\n"
      "  - name: login\n"
      "    hosts: [auth.test]\n"
      "    limits:\n"
      "      - {name: per-ip, average: 1, period: 1h, burst: 2, key: client_ip}\n"
      "default: allow\n";
  Server server(dir, yaml);
  ASSERT_TRUE(server.started()) << server.stderr_text();

  for (int i = 0; i < 5; ++i) {
    const RunResult r =
        run_edgeguard({"explain", "--config", server.config_path().string(), "--method", "POST",
                       "--host", "auth.test", "--uri", "/login", "--ip", "198.51.100.7", "--json"},
                      dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    const auto v = boost::json::parse(r.out, ec);
    ASSERT_FALSE(ec) << r.out;
    EXPECT_EQ(v.at("verdict"), "allow") << i;
    EXPECT_EQ(v.at("route"), "login");
  }
  Reply keys = redis.command({"DBSIZE"});
  ASSERT_NE(keys, nullptr);
  EXPECT_EQ(keys->integer, 0) << "explain wrote to the shared store";
  EXPECT_EQ(redis.info_field("commandstats", "cmdstat_evalsha"), "");
  EXPECT_EQ(redis.info_field("commandstats", "cmdstat_eval"), "");

  // The client still has its whole burst on the server.
  const Call login = call_from("auth.test", "198.51.100.7", "POST", "/login");
  EXPECT_EQ(call_once(server.port(), login).status, 200);
  EXPECT_EQ(call_once(server.port(), login).status, 200);
  const HttpResponse third = call_once(server.port(), login);
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(reason_of(third), "rate_limit");
}

}  // namespace
}  // namespace edgeguard::testing
