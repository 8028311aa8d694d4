// Header names of every length are captured: a limit keyed on `header:X-Org` (5 bytes) counts
// each organisation in its own bucket, `client_ip.header: X-IP` (4 bytes) reads the client from
// that header, and names of 63 bytes and more (which share one bit of the parser's length
// filter) are captured too. Through the real binary over loopback.
#include <string>

#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace edgeguard::testing {
namespace {

const char* kHead = R"(listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 1
callers: [127.0.0.0/8]
)";

Call with_header(const std::string& host, const std::string& name, const std::string& value) {
  Call c;
  c.host = host;
  c.extra.emplace_back(name, value);
  return c;
}

TEST(ShortHeaders, ALimitKeyedOnAFiveByteHeaderCountsEachValueApart) {
  ScratchDir dir;
  Server server(dir, std::string(kHead) + R"(routes:
  - name: api
    hosts: [api.example.test]
    limits: [{name: per-org, average: 1, period: 1h, burst: 1, key: "header:X-Org"}]
)");
  ASSERT_TRUE(server.started()) << server.stdout_text() << server.stderr_text();
  const int port = server.port();
  EXPECT_EQ(call_once(port, with_header("api.example.test", "X-Org", "acme")).status, 200);
  EXPECT_EQ(call_once(port, with_header("api.example.test", "X-Org", "acme")).status, 429);
  // Another organisation from the same address has its own bucket: the value is the key. Were
  // the header not captured, every caller would share one bucket and this would be 429.
  EXPECT_EQ(call_once(port, with_header("api.example.test", "X-Org", "globex")).status, 200);
  // Case does not matter in a header name.
  EXPECT_EQ(call_once(port, with_header("api.example.test", "x-org", "initech")).status, 200);
  EXPECT_EQ(call_once(port, with_header("api.example.test", "X-ORG", "initech")).status, 429);
}

TEST(ShortHeaders, AFourByteClientIpHeaderIsTheClientAddress) {
  ScratchDir dir;
  Server server(dir, std::string(kHead) + R"(client_ip: {header: X-IP}
routes:
  - name: app
    hosts: [app.example.test]
    deny_ips: [203.0.113.0/24]
)");
  ASSERT_TRUE(server.started()) << server.stdout_text() << server.stderr_text();
  const int port = server.port();
  // X-Forwarded-For names an allowed address; the configured header is the one that counts.
  auto denied = with_header("app.example.test", "X-IP", "203.0.113.7");
  denied.xff = "198.51.100.10";
  EXPECT_EQ(call_once(port, denied).status, 403);
  auto allowed = with_header("app.example.test", "x-ip", "198.51.100.7");
  allowed.xff = "203.0.113.9";
  EXPECT_EQ(call_once(port, allowed).status, 200);
  // Without it: a 400 naming the configured header.
  Call missing;
  missing.host = "app.example.test";
  const auto r = call_once(port, missing);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("X-IP"), std::string::npos) << r.body;
}

TEST(ShortHeaders, LongHeaderNamesAreCapturedToo) {
  const std::string long63 = "X-" + std::string(61, 'a');
  const std::string long70 = "X-" + std::string(68, 'b');
  ScratchDir dir;
  Server server(
      dir, std::string(kHead) + "routes:\n  - name: api\n    hosts: [api.example.test]\n" +
               "    limits: [{name: per-key, average: 1, period: 1h, burst: 1, key: [\"header:" +
               long63 + "\", \"header:" + long70 + "\"]}]\n");
  ASSERT_TRUE(server.started()) << server.stdout_text() << server.stderr_text();
  const auto call = [&](const std::string& a, const std::string& b) {
    Call c;
    c.host = "api.example.test";
    c.extra = {{long63, a}, {long70, b}};
    return call_once(server.port(), c).status;
  };
  EXPECT_EQ(call("one", "x"), 200);
  EXPECT_EQ(call("one", "x"), 429);
  EXPECT_EQ(call("two", "x"), 200);  // the 63-byte header is part of the key
  EXPECT_EQ(call("one", "y"), 200);  // and so is the 70-byte one
}

}  // namespace
}  // namespace edgeguard::testing
