#include "guard/net/host_port.h"

#include <gtest/gtest.h>

namespace edgeguard {
namespace {

TEST(HostPort, ParsesNamesV4AndBracketedV6) {
  const auto a = parse_host_port("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  const auto b = parse_host_port("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  const auto c = parse_host_port("redis.internal:6379");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "redis.internal");
}

TEST(HostPort, RefusesWhatIsNotHostColonPort) {
  const std::pair<const char*, HostPortError> bad[] = {
      {"localhost", HostPortError::no_port}, {":8080", HostPortError::no_port},
      {"[]:80", HostPortError::no_port},     {"h:", HostPortError::bad_port},
      {"h:65536", HostPortError::bad_port},  {"h:80x", HostPortError::bad_port},
      {"h:-1", HostPortError::bad_port},
  };
  for (const auto& [text, want] : bad) {
    HostPortError why = HostPortError::none;
    EXPECT_FALSE(parse_host_port(text, &why)) << text;
    EXPECT_EQ(why, want) << text;
  }
}

}  // namespace
}  // namespace edgeguard
