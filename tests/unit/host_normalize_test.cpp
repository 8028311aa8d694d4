#include "guard/request/host_normalize.h"

#include <gtest/gtest.h>

#include <string>

#include "example_policy.h"

namespace edgeguard {
namespace {

std::string normalise(std::string_view host) {
  std::string out(host.size() + 1, '\0');
  out.resize(normalize_host(host, out.data()));
  return out;
}

TEST(HostNormalize, Table) {
  const std::pair<const char*, const char*> cases[] = {
      {"auth.securenexus.net", "auth.securenexus.net"},
      {"Auth.SecureNexus.NET", "auth.securenexus.net"},
      {"auth.securenexus.net:443", "auth.securenexus.net"},
      {"auth.securenexus.net.", "auth.securenexus.net"},
      {"AUTH.securenexus.net.:8443", "auth.securenexus.net"},
      {"localhost", "localhost"},
      {"198.51.100.7:80", "198.51.100.7"},
      {"[2001:DB8::1]:443", "[2001:db8::1]"},
      {"[::1]", "[::1]"},
      {"my_host-1.example", "my_host-1.example"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(normalise(in), out) << in;
}

TEST(HostNormalize, GarbageIsRefused) {
  for (const char* bad : {"", " ", ".", ":443", "auth securenexus.net", " auth.securenexus.net",
                          "auth.securenexus.net/", "user@auth.securenexus.net", "auth.net:https",
                          "auth.net:", "auth.net:123456", "[::1", "[::1]x", "[::1]:", "[::g]",
                          "auth.net\r\nx: y", "auth\tnet", "a*.net", "2001:db8::1"}) {
    EXPECT_EQ(normalise(bad), "") << "'" << bad << "'";
  }
}

TEST(HostNormalize, SpellingsLandOnTheSameRoute) {
  const auto policy = testing::example_policy();
  ASSERT_TRUE(policy);
  const std::pair<const char*, const char*> cases[] = {
      {"auth.securenexus.net", "authentik-login"},
      {"AUTH.SECURENEXUS.NET", "authentik-login"},
      {"auth.securenexus.net:443", "authentik-login"},
      {"auth.securenexus.net.", "authentik-login"},
      {"Auth.SecureNexus.Net.:443", "authentik-login"},
      {"GRAFANA.securenexus.net:3000", "admin"},
      {"x.Admin.SecureNexus.net.", "admin"},
      {"admin.securenexus.net", "default"},  // the apex is not matched by *.admin...
      {"Erp.Byrne-Accounts.Org:443", "erp"},
  };
  for (const auto& [host, route] : cases) {
    const auto h = normalise(host);
    ASSERT_FALSE(h.empty()) << host;
    EXPECT_EQ(policy->match(h, "/api/v3/flows/executor/x/", "POST").name, route) << host;
  }
}

}  // namespace
}  // namespace edgeguard
