#include "guard/request/path_normalize.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "example_policy.h"

namespace edgeguard {
namespace {

struct Normalised {
  std::string path;
  PathError error = PathError::none;
};

Normalised normalise(std::string_view in) {
  std::string out(in.size() + 1, '\0');
  Normalised n;
  out.resize(normalize_path(in, out.data(), n.error));
  n.path = out;
  return n;
}

TEST(PathNormalize, Table) {
  const std::pair<const char*, const char*> cases[] = {
      {"/", "/"},
      {"/a/b", "/a/b"},
      {"/a/b/", "/a/b/"},
      {"//a///b//", "/a/b/"},
      {"/./a/./b/.", "/a/b/"},
      {"/a/b/../../c", "/c"},
      {"/a/b/../c/./d/..", "/a/c/"},
      {"/a/..", "/"},
      {"/..", "/"},
      {"/../../../etc/passwd", "/etc/passwd"},
      {"/a/%2e%2e/b", "/b"},
      {"/a/%2E%2E/b", "/b"},
      {"/a/.%2e/b", "/b"},
      {"/a/%2e./b", "/b"},
      {"/a/%2e/b", "/a/b"},
      {"/%61%62%63", "/abc"},
      {"/%41%5a%30%2D%2e%5F%7e", "/AZ0-._~"},
      {"/a%2fb", "/a/b"},
      {"/a%2Fb", "/a/b"},
      {"/a%2F%2F%2fb", "/a/b"},
      {"/a%2f..%2fb", "/b"},
      {"/a%3ab", "/a%3Ab"},  // reserved: kept escaped, hex upper-cased
      {"/a%3Ab", "/a%3Ab"},
      {"/%e2%82%ac", "/%E2%82%AC"},
      {"/%252e%252e/x", "/%252e%252e/x"},  // decoded once only, like the backend: not ".."
      {"/a/...", "/a/..."},                // not a dot segment
      {"/a/.b/..c", "/a/.b/..c"},
      {"/a/b/..", "/a/"},
      {"/a/b/.", "/a/b/"},
  };
  for (const auto& [in, out] : cases) {
    const auto n = normalise(in);
    EXPECT_EQ(n.error, PathError::none) << in;
    EXPECT_EQ(n.path, out) << in;
    // Normalising is idempotent: a normalised path is a fixed point.
    EXPECT_EQ(normalise(n.path).path, n.path) << in;
  }
}

TEST(PathNormalize, Errors) {
  const std::pair<const char*, PathError> cases[] = {
      {"", PathError::empty},
      {"a/b", PathError::not_absolute},
      {"%2Fa", PathError::not_absolute},
      {"/a%00b", PathError::encoded_nul},
      {"/a%zzb", PathError::bad_escape},
      {"/a%4", PathError::bad_escape},
      {"/a%", PathError::bad_escape},
      {"/a%g1", PathError::bad_escape},
      {"/a%4x/b", PathError::bad_escape},
  };
  for (const auto& [in, error] : cases) {
    const auto n = normalise(in);
    EXPECT_EQ(n.error, error) << in;
    EXPECT_STRNE(describe(n.error), "ok") << in;
  }
}

std::string encode_all(std::string_view path, bool lower_hex) {
  std::string out;
  for (char c : path) {
    if (c == '/') {
      out += c;
      continue;
    }
    char buf[4];
    std::snprintf(buf, sizeof buf, lower_hex ? "%%%02x" : "%%%02X", static_cast<unsigned char>(c));
    out += buf;
  }
  return out;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to,
                        std::size_t skip = 0) {
  for (auto pos = s.find(from, skip); pos != std::string::npos;
       pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// Every spelling an attacker might try for `plain` (an absolute path).
std::vector<std::string> tricks(const std::string& plain) {
  const std::string rest = plain.substr(1);
  std::vector<std::string> out = {
      "/x/../" + rest,
      "/x/%2e%2e/" + rest,
      "/x/%2E%2E/" + rest,
      "/x/.%2E/" + rest,
      "/x/y/../../" + rest,
      "/x%2f..%2f" + rest,
      "/x%2F..%2F" + rest,
      "/outpost.goauthentik.io/../" + rest,
      "/outpost.goauthentik.io/%2e%2e/" + rest,
      "/../" + rest,
      "/../../.." + plain,
      "/" + plain,
      replace_all(plain, "/", "//"),
      replace_all(plain, "/", "/./"),
      replace_all(plain, "/", "%2F", 1),
      replace_all(plain, "/", "%2f", 1),
      encode_all(plain, false),
      encode_all(plain, true),
  };
  char first[4];
  std::snprintf(first, sizeof first, "%%%02x", static_cast<unsigned char>(plain[1]));
  std::string escaped_first = "/";  // e.g. /%61pi/...
  escaped_first.append(first).append(plain, 2);
  out.push_back(escaped_first);
  if (plain.back() == '/') out.push_back(plain + ".");
  if (plain.back() == '/') out.push_back(plain + "x/..");
  if (plain.back() == '/') out.push_back(plain + "%2e");
  // Mixed-case escapes: every other escape lower case.
  std::string mixed = encode_all(plain, false);
  for (std::size_t i = 0, k = 0; i + 2 < mixed.size(); ++i) {
    if (mixed[i] == '%' && (k++ % 2 == 0)) {
      mixed[i + 1] = static_cast<char>(std::tolower(mixed[i + 1]));
      mixed[i + 2] = static_cast<char>(std::tolower(mixed[i + 2]));
    }
  }
  out.push_back(mixed);
  return out;
}

TEST(PathNormalize, EveryTrickLandsOnTheRouteOfThePlainPath) {
  const auto policy = testing::example_policy();
  ASSERT_TRUE(policy);
  struct Target {
    const char* host;
    const char* method;
    const char* path;
    const char* route;
  };
  const Target targets[] = {
      {"auth.securenexus.net", "POST", "/api/v3/flows/executor/default-authentication-flow/",
       "authentik-login"},
      {"auth.securenexus.net", "POST", "/application/o/token/", "authentik-login"},
      {"auth.securenexus.net", "POST", "/if/flow/default-authentication-flow/", "authentik-login"},
      {"auth.securenexus.net", "GET", "/outpost.goauthentik.io/auth/traefik", "authentik-outpost"},
      {"grafana.securenexus.net", "GET", "/api/dashboards/home", "admin"},
  };
  for (const auto& t : targets) {
    ASSERT_EQ(policy->match(t.host, t.path, t.method).name, t.route) << t.path;
    for (const auto& trick : tricks(t.path)) {
      const auto n = normalise(trick);
      ASSERT_EQ(n.error, PathError::none) << trick;
      EXPECT_EQ(n.path, t.path) << trick;
      EXPECT_EQ(policy->match(t.host, n.path, t.method).name, t.route) << trick;
    }
  }
}

}  // namespace
}  // namespace edgeguard
