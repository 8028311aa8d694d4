#pragma once
// The compiled policy: everything the YAML said, validated and turned into the shapes the
// decision needs (CIDR sets, integer nanosecond rates, method bitmasks, precompiled matchers).
// Built once by config/ and shared immutably by every thread; a reload builds a new one.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <re2/re2.h>

#include "guard/bans/ban.h"
#include "guard/limit/gcra.h"
#include "guard/net/cidr_set.h"
#include "guard/policy/restart_settings.h"

namespace edgeguard {

enum class Mode : std::uint8_t { enforce, shadow };

// The most limits one route may have: the loader refuses more, and the request path sizes its
// fixed arrays (limit calls, the local store's locks, per-limit metrics) by it.
inline constexpr std::size_t kMaxLimitsPerRoute = 8;
// Joins route name, limit name and key parts into one bucket key ("route\x1flimit\x1f1.2.3.4"):
// a control byte, which route and limit names (letters, digits, - _ .) never contain.
inline constexpr char kKeySeparator = '\x1f';

struct Responses {
  int rate_limited = 429;
  int forbidden = 403;
};

struct PathMatcher {
  enum class Kind : std::uint8_t { prefix, exact, regex } kind = Kind::prefix;
  std::string text;  // the prefix or exact path, already normalised
  // RE2, not std::regex: matching is linear in the path, so no pattern an operator writes can
  // be turned into a stall by a crafted path (std::regex backtracks: (a+)+$ takes seconds).
  std::shared_ptr<const re2::RE2> regex;
  bool matches(std::string_view path) const;
};

// What a limit counts by. A limit's key is the list of these parts.
struct KeyPart {
  // username: the login name the route reads from the request body (Route::username_field),
  // or the one a failure report names.
  enum class Kind : std::uint8_t {
    client_ip,
    route,
    host,
    header,
    username
  } kind = Kind::client_ip;
  int header_slot = -1;  // for `header:NAME`: index into ForwardRequest::key_headers
};

// `ban:` on a limit: when it denies, the key's subject is banned (SPEC section 9).
struct BanRule {
  std::int64_t for_ns = 15 * 60'000'000'000LL;  // the first ban; later ones escalate
  bool scope_all = false;                       // every route, not only this one
};

struct LimitPolicy {
  std::string name;
  GcraRate rate;
  double average = 0;
  std::int64_t period_ns = 0;
  std::vector<KeyPart> key;
  std::string rate_limit_policy;  // precomputed `"per-ip";q=10;w=60` for RateLimit-Policy
  std::string key_prefix;         // "route\x1flimit": keys are scoped by route and limit name
  std::optional<BanRule> ban;     // always set on a failure limit (15m unless configured)

  // A limit keyed on the username does not apply to a request without one, nor one keyed on
  // the client address to a failure report without one.
  bool keyed_on(KeyPart::Kind kind) const {
    for (const KeyPart& p : key) {
      if (p.kind == kind) return true;
    }
    return false;
  }
};

struct GeoRule {
  std::vector<std::string> allow_countries;  // empty = no allow-list
  std::vector<std::string> deny_countries;
  std::vector<std::uint32_t> allow_asns;
  std::vector<std::uint32_t> deny_asns;
  bool unknown_allow = true;
  bool shadow = false;
  CidrSet tailnet_ranges;  // Policy::tailnet.ranges: addresses this rule never judges
};

// `require: enrolled` is the rule's only mode: the client must be an enrolled node.
struct TailnetRule {
  std::vector<std::string> tags;   // any of them
  std::vector<std::string> users;  // login names, any of them
  bool shadow = false;
};

struct Route {
  std::string name;
  int index = 0;  // position in Policy::routes; the default route is routes.size()
  std::vector<std::string> exact_hosts;    // "auth.example.com"
  std::vector<std::string> host_suffixes;  // from "*.example.com": ".example.com"
  std::vector<PathMatcher> paths;          // empty = every path
  std::uint32_t method_mask = 0;           // 0 = every method
  std::vector<std::string> other_methods;  // methods outside the bitmask
  Mode mode = Mode::enforce;
  CidrSet bypass;
  CidrSet deny_ips;
  CidrSet allow_ips;
  bool has_allow_ips = false;
  std::optional<TailnetRule> tailnet;
  std::optional<GeoRule> geo;
  std::vector<LimitPolicy> limits;
  // `username: {field: uid_field}`: the body field that names the account (SPEC section 9).
  std::string username_field;
  // Charged by failures only (webhook, access log); exhausting one bans its subject.
  std::vector<LimitPolicy> failure_limits;
  // `crowdsec: on | off | shadow` (on by default when the policy has a crowdsec section).
  enum class Crowdsec : std::uint8_t { on, off, shadow } crowdsec = Crowdsec::on;
  Responses responses;
  bool is_default = false;
  bool default_deny = false;  // only for the implicit default route

  bool matches_host(std::string_view host) const;
  bool matches_method(std::string_view method) const;
  bool matches_path(std::string_view path) const;
};

// The reloadable part of `tailnet:` (the node source is a RestartSettings).
struct TailnetSettings {
  // Tailnet addresses: never judged by country, and the only addresses a node may be enrolled
  // with. Default: Tailscale's 100.64.0.0/10 and fd7a:115c:a1e0::/48.
  CidrSet ranges;
  std::int64_t refresh_ns = 30'000'000'000;  // how often a command source runs again
};

struct ClientIpSettings {
  std::string header = "X-Forwarded-For";
  int depth = 1;
  int ipv6_prefix = 64;
  std::optional<CidrSet> trusted_hops;
};

// The ForwardAuth listener's protection against slow or greedy clients.
struct ServerSettings {
  std::size_t max_connections = 10000;             // beyond: accepted and closed at once
  std::size_t max_header_bytes = 8192;             // beyond: 431
  std::int64_t header_timeout_ns = 5'000'000'000;  // a request's headers must arrive within this
  std::int64_t idle_timeout_ns = 60'000'000'000;   // keep-alive connection with no request
  std::size_t max_body_bytes = 64 * 1024;          // a forwarded body beyond: 413
};

struct LogSettings {
  bool allow = false;         // log allowed decisions too
  double allow_sample = 1.0;  // fraction of them
};

// `bans:` at the top level: who is never banned and how repeat offences escalate (a reload
// applies both). How many active bans a process holds is a restart setting (bans.max_active).
struct BanSettings {
  CidrSet exempt;
  Escalation escalation;
};

// `admin:`: who may use the admin API's /v1 endpoints. A reload applies it: the token file is
// read whenever the policy loads, so rewriting the file and reloading rotates the token.
struct AdminSettings {
  std::string token_file;  // empty: no token; only loopback callers may use /v1
  std::string token;       // the file's token: a secret, never logged or echoed
};

// `failures:`: where failed logins come from (the access log's path is a restart setting).
struct FailureSettings {
  std::string webhook_token_file;  // empty: no webhook (POST /v1/failures answers 404)
  std::string webhook_token;       // a secret, never logged or echoed
  std::vector<int> access_log_statuses{401, 403};  // DownstreamStatus values that are failures
};

struct Policy {
  std::string source_path;
  RestartSettings settings;  // fixed for the life of the process; a reload may not change them
  CidrSet callers;
  ClientIpSettings client_ip;
  Responses responses;
  TailnetSettings tailnet;
  LogSettings log;
  ServerSettings server;
  BanSettings bans;
  AdminSettings admin;
  FailureSettings failures;
  std::vector<Route> routes;
  Route default_route;                        // name "default"; allow or deny
  std::vector<std::string> key_header_names;  // headers named by `header:NAME` keys (lower case)
  bool reads_bodies = false;                  // some route reads a username from the body

  // The first route (in file order) whose hosts, paths and methods all match; else default.
  const Route& match(std::string_view host, std::string_view path, std::string_view method) const;
};

// Bit for a method in Route::method_mask, or 0 for a method outside the common set.
std::uint32_t method_bit(std::string_view method);

}  // namespace edgeguard
