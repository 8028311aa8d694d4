#include "tests/fuzz/fuzz_checks.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/json/parse.hpp>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "guard/accesslog/access_log.h"
#include "guard/admin/admin_response.h"
#include "guard/admin/admin_router.h"
#include "guard/admin/ban_endpoints.h"
#include "guard/admin/ban_list_reply.h"
#include "guard/admin/ban_request.h"
#include "guard/admin/json_fields.h"
#include "guard/bans/ban.h"
#include "guard/config/policy_loader.h"
#include "guard/core/decide.h"
#include "guard/crowdsec/decision_set.h"
#include "guard/crowdsec/decision_stream.h"
#include "guard/failures/failure_webhook.h"
#include "guard/http/forward_auth_parser.h"
#include "guard/http/response.h"
#include "guard/redis/ban_keys.h"
#include "guard/redis/ban_script.h"
#include "guard/redis/cluster_slots.h"
#include "guard/redis/gcra_call.h"
#include "guard/redis/reply_pool.h"
#include "guard/request/client_ip.h"
#include "guard/request/forward_request.h"
#include "guard/request/host_normalize.h"
#include "guard/request/login_name.h"
#include "guard/request/path_normalize.h"
#include "guard/store/local_store.h"
#include "guard/tailnet/node_list_parser.h"
#include "guard/text/rfc3339.h"
#include "tests/fuzz/parser_differential.h"

namespace edgeguard::fuzz {
namespace {

// A broken invariant must stop the run where it happened, under libFuzzer and under gtest alike.
#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

const Policy& example_policy() {
  static const std::shared_ptr<const Policy> policy = [] {
    auto load = load_policy_file(std::string(EDGEGUARD_SOURCE_DIR) + "/config/edgeguard.yaml");
    if (!load.policy) std::fprintf(stderr, "example policy: %s\n", load.error.c_str());
    FUZZ_CHECK(load.policy != nullptr);
    return load.policy;
  }();
  return *policy;
}

// The route SPEC 2.3 names: the first, in file order, whose hosts, methods and paths all match.
// Written out here route by route so that Policy::match, however it finds the route (it may
// come to index hosts), is checked against the definition rather than against itself.
const Route& first_match(const Policy& policy, std::string_view host, std::string_view path,
                         std::string_view method) {
  for (const Route& route : policy.routes) {
    if (route.matches_host(host) && route.matches_method(method) && route.matches_path(path)) {
      return route;
    }
  }
  return policy.default_route;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Checks one or more HTTP/1.1 responses back to back: a status line the guard can send, header
// lines free of control bytes (no response splitting), a Content-Length that frames the body, and
// a problem+json body that parses.
void check_responses(std::string_view out) {
  while (!out.empty()) {
    FUZZ_CHECK(out.starts_with("HTTP/1.1 "));
    const auto end = out.find("\r\n\r\n");
    FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view head = out.substr(0, end + 2);
    const int status = std::atoi(std::string(head.substr(9, 3)).c_str());
    FUZZ_CHECK(status == 200 || status == 400 || status == 403 || status == 413 || status == 429 ||
               status == 431);
    long long content_length = -1;
    std::size_t pos = 0;
    while (pos < head.size()) {
      const auto eol = head.find("\r\n", pos);
      FUZZ_CHECK(eol != std::string_view::npos);
      const std::string_view line = head.substr(pos, eol - pos);
      for (char c : line) {
        const auto u = static_cast<unsigned char>(c);
        FUZZ_CHECK(u >= 0x20 && u != 0x7f);
      }
      if (line.starts_with("Content-Length: ")) {
        content_length = std::atoll(std::string(line.substr(16)).c_str());
      }
      pos = eol + 2;
    }
    FUZZ_CHECK(content_length >= 0);
    const std::size_t body_start = end + 4;
    FUZZ_CHECK(out.size() - body_start >= static_cast<std::size_t>(content_length));
    const std::string_view body = out.substr(body_start, static_cast<std::size_t>(content_length));
    if (status == 200) {
      FUZZ_CHECK(body.empty());
    } else {
      boost::system::error_code ec;
      boost::json::parse(body, ec);
      FUZZ_CHECK(!ec);
    }
    out.remove_prefix(body_start + static_cast<std::size_t>(content_length));
  }
}

}  // namespace

// The one-pass head scan reads what Beast reads, or declines: the same outcomes, bytes consumed
// and captured values with it as without it, under the example policy's capture plan and under
// one that also keeps bodies and two key headers. Small header limits reach the limit paths.
void check_forward_auth_scanner(const std::uint8_t* data, std::size_t size) {
  static const Policy& policy = example_policy();
  static const CapturePlan plan(policy.client_ip.header, policy.key_header_names);
  static const CapturePlan body_plan("X-Real-Ip", {"X-Api-Key", "Cookie"}, true);
  const std::string_view in = as_view(data, size);
  for (const CapturePlan* p : {&plan, &body_plan}) {
    for (const std::uint32_t limit : {8192u, 64u}) {
      const auto fast = edgeguard::testing::read_requests(in, *p, true, limit);
      const auto beast = edgeguard::testing::read_requests(in, *p, false, limit);
      if (fast.record != beast.record) {
        std::fprintf(stderr, "scanner:\n%s\nbeast:\n%s\n", fast.record.c_str(),
                     beast.record.c_str());
      }
      FUZZ_CHECK(fast.record == beast.record);
      FUZZ_CHECK(beast.scanned == 0);
    }
  }
}

void check_forward_auth(const std::uint8_t* data, std::size_t size) {
  static const Policy& policy = example_policy();
  static const CapturePlan plan(policy.client_ip.header, policy.key_header_names);
  static const ClientIpStrategy strategy{
      policy.client_ip.depth,
      policy.client_ip.trusted_hops ? &*policy.client_ip.trusted_hops : nullptr};
  // Small on purpose: eviction and shard churn are reached within a short run.
  static LocalLimitStore store(4096);
  static std::int64_t now_ns = 1'000'000'000'000;
  static const auto arena = std::make_unique<std::array<char, ForwardAuthParser::kArenaBytes>>();
  static RequestScratch scratch;
  const auto peer = *IpAddress::parse("127.0.0.1");

  std::string_view in = as_view(data, size);
  std::string out;
  // Several pipelined requests on one connection, as the session handles them.
  for (int n = 0; n < 8 && !in.empty(); ++n) {
    ForwardAuthParser parser(plan, *arena);
    parser.header_limit(8192);
    parser.body_limit(1024);
    parser.eager(true);
    bool complete = false, failed = false;
    while (!complete && !failed) {
      boost::system::error_code ec;
      const std::size_t used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
      FUZZ_CHECK(used <= in.size());
      in.remove_prefix(used);
      if (ec == boost::beast::http::error::need_more) {
        if (used == 0 || in.empty()) break;
        continue;
      }
      if (ec) {
        const int status = ec == boost::beast::http::error::header_limit ? 431
                           : ec == boost::beast::http::error::body_limit ? 413
                                                                         : 400;
        write_protocol_error(out, status, "malformed HTTP request: " + ec.message());
        failed = true;
      } else if (parser.is_done()) {
        complete = true;
      } else if (used == 0) {
        break;
      }
    }
    if (!complete) break;

    const bool keep_alive = parser.keep_alive();
    FUZZ_CHECK(caller_allowed(policy, peer));
    const ParseOutcome parsed =
        parse_forward_request(parser.headers(), policy.client_ip.header, strategy, scratch);
    if (!parsed.ok()) {
      FUZZ_CHECK(!parsed.bad.problem.empty());
      write_bad_request(out, parsed.bad, keep_alive);
      continue;
    }
    const ForwardRequest& request = parsed.request;
    FUZZ_CHECK(!request.path.empty() && request.path.front() == '/');
    FUZZ_CHECK(request.path.size() <= kMaxUriBytes);
    Facts facts;
    facts.client_ip = request.client_ip;
    now_ns += 1'000'000;
    const Decision d = decide(policy, request, facts, store, now_ns);
    FUZZ_CHECK(d.route != nullptr);
    FUZZ_CHECK(d.route == &first_match(policy, request.host, request.path, request.method));
    const std::size_t before = out.size();
    write_decision(out, d, facts, keep_alive);
    const std::string route_header = "\r\nX-Edgeguard-Route: " + d.route->name + "\r\n";
    FUZZ_CHECK(out.find(route_header, before) != std::string::npos);
    if (!keep_alive) break;
  }
  check_responses(out);
  FUZZ_CHECK(store.local_bucket_count() <= store.capacity_slots());
}

namespace {

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// resolve_client_ip's contract on a list split up front: the depth-th entry from the right, or
// with trusted hops the first untrusted entry from the right; an entry that must be read and
// does not parse is an error.
ClientIpResult expected_client_ip(std::string_view value, const ClientIpStrategy& strategy) {
  ClientIpResult out;
  if (trim_blanks(value).empty()) {
    out.error = ClientIpError::missing;
    return out;
  }
  std::vector<std::string_view> entries;
  for (std::size_t start = 0;;) {
    const std::size_t comma = value.find(',', start);
    entries.push_back(value.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::reverse(entries.begin(), entries.end());
  if (strategy.trusted_hops == nullptr) {
    if (static_cast<int>(entries.size()) < strategy.depth) {
      out.error = ClientIpError::too_few_entries;
      return out;
    }
    const auto ip = parse_forwarded_entry(entries[static_cast<std::size_t>(strategy.depth - 1)]);
    if (!ip) out.error = ClientIpError::unparseable;
    if (ip) out.ip = *ip;
    return out;
  }
  for (std::string_view entry : entries) {
    const auto ip = parse_forwarded_entry(entry);
    if (!ip) {
      out.error = ClientIpError::unparseable;
      return out;
    }
    if (!strategy.trusted_hops->contains(*ip)) {
      out.ip = *ip;
      return out;
    }
  }
  out.error = ClientIpError::all_trusted;
  return out;
}

// normalize_path's errors as its contract states them: empty, not starting with '/', or the
// first '%' (left to right, escapes consumed whole) not followed by two hex digits or
// spelling %00.
PathError expected_path_error(std::string_view path) {
  if (path.empty()) return PathError::empty;
  if (path.front() != '/') return PathError::not_absolute;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') continue;
    if (i + 2 >= path.size() || !is_hex(path[i + 1]) || !is_hex(path[i + 2])) {
      return PathError::bad_escape;
    }
    if (path[i + 1] == '0' && path[i + 2] == '0') return PathError::encoded_nul;
    i += 2;
  }
  return PathError::none;
}

}  // namespace

void check_xff(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  static const CidrSet trusted = [] {
    CidrSet set;
    set.add(*Cidr::parse("10.0.0.0/8"));
    set.add(*Cidr::parse("2001:db8::/32"));
    set.finish();
    return set;
  }();
  // The first byte picks the strategy: depth 1..4, or trusted hops.
  ClientIpStrategy strategy;
  strategy.depth = 1 + (data[0] & 3);
  if (data[0] & 4) strategy.trusted_hops = &trusted;
  const std::string_view value = as_view(data + 1, size - 1);

  const ClientIpResult r = resolve_client_ip(value, strategy);
  // The answer Traefik's ipStrategy gives, worked out on a plain split of the list.
  const ClientIpResult want = expected_client_ip(value, strategy);
  FUZZ_CHECK(r.error == want.error);
  if (r.error != ClientIpError::none) return;
  FUZZ_CHECK(r.ip == want.ip);
  // The chosen address prints and parses back to itself, and is never a v4-mapped v6 form
  // (those are unmapped, so one client has one key).
  char text[64];
  const std::size_t n = r.ip.format(text);
  FUZZ_CHECK(n > 0 && n < sizeof text);
  const auto again = IpAddress::parse({text, n});
  FUZZ_CHECK(again && *again == r.ip);
  FUZZ_CHECK(parse_forwarded_entry({text, n}) == r.ip);
  // What a client adds on the left never changes the answer.
  for (std::string_view forged : {"203.0.113.9, ", "10.1.2.3,", "garbage, ", "::ffff:1.2.3.4, "}) {
    const std::string longer = std::string(forged) + std::string(value);
    const ClientIpResult f = resolve_client_ip(longer, strategy);
    FUZZ_CHECK(f.error == ClientIpError::none);
    FUZZ_CHECK(f.ip == r.ip);
  }
}

void check_path(const std::uint8_t* data, std::size_t size) {
  const std::string_view path = as_view(data, size);
  std::vector<char> out(size + 1);
  PathError error = PathError::none;
  const std::size_t n = normalize_path(path, out.data(), error);
  FUZZ_CHECK(error == expected_path_error(path));
  if (error != PathError::none) {
    FUZZ_CHECK(n == 0);
    return;
  }
  FUZZ_CHECK(n <= size);
  const std::string_view norm(out.data(), n);
  FUZZ_CHECK(!norm.empty() && norm.front() == '/');
  FUZZ_CHECK(norm.find("//") == std::string_view::npos);
  FUZZ_CHECK(norm.find("/./") == std::string_view::npos);
  FUZZ_CHECK(norm.find("/../") == std::string_view::npos);
  FUZZ_CHECK(!norm.ends_with("/.") && !norm.ends_with("/.."));
  // Every escape left is upper-case and not of an unreserved character or "/".
  for (std::size_t i = 0; i < norm.size(); ++i) {
    if (norm[i] != '%') continue;
    FUZZ_CHECK(i + 2 < norm.size());
    FUZZ_CHECK(is_hex(norm[i + 1]) && is_hex(norm[i + 2]));
    FUZZ_CHECK(!(norm[i + 1] >= 'a' && norm[i + 1] <= 'f'));
    FUZZ_CHECK(!(norm[i + 2] >= 'a' && norm[i + 2] <= 'f'));
    const int byte = std::stoi(std::string(norm.substr(i + 1, 2)), nullptr, 16);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                            byte == '_' || byte == '~' || byte == '/';
    FUZZ_CHECK(!unreserved);
  }
  // Idempotent: the normal form is its own normal form.
  std::vector<char> twice(n + 1);
  PathError error2 = PathError::none;
  const std::size_t n2 = normalize_path(norm, twice.data(), error2);
  FUZZ_CHECK(error2 == PathError::none);
  FUZZ_CHECK(std::string_view(twice.data(), n2) == norm);
}

void check_host(const std::uint8_t* data, std::size_t size) {
  const std::string_view host = as_view(data, size);
  std::vector<char> out(size + 1);
  const std::size_t n = normalize_host(host, out.data());
  if (n == 0) return;
  FUZZ_CHECK(n <= size);
  const std::string_view norm(out.data(), n);
  for (char c : norm) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  if (norm.front() != '[') {
    FUZZ_CHECK(norm.find(':') == std::string_view::npos);
    FUZZ_CHECK(norm.back() != '.');
  } else {
    FUZZ_CHECK(norm.back() == ']');
  }
  std::vector<char> twice(n + 1);
  const std::size_t n2 = normalize_host(norm, twice.data());
  FUZZ_CHECK(std::string_view(twice.data(), n2) == norm);
  // With a port and in upper case it is still the same host.
  std::string variant(norm);
  for (char& c : variant) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  variant += ":8443";
  std::vector<char> out3(variant.size() + 1);
  const std::size_t n3 = normalize_host(variant, out3.data());
  FUZZ_CHECK(std::string_view(out3.data(), n3) == norm);
}

void check_policy(const std::uint8_t* data, std::size_t size) {
  const PolicyLoad load = parse_policy(as_view(data, size), "fuzz.yaml", "/nonexistent");
  FUZZ_CHECK((load.policy != nullptr) != !load.error.empty());
  if (!load.policy) {
    FUZZ_CHECK(load.error.starts_with("fuzz.yaml:"));
    return;
  }
  const Policy& p = *load.policy;
  for (std::size_t i = 0; i < p.routes.size(); ++i) {
    FUZZ_CHECK(p.routes[i].index == static_cast<int>(i));
    FUZZ_CHECK(p.routes[i].limits.size() <= kMaxLimitsPerRoute);
    for (const LimitPolicy& l : p.routes[i].limits) {
      FUZZ_CHECK(l.rate.emission_ns > 0);
    }
  }
  FUZZ_CHECK(p.key_header_names.size() <= kMaxKeyHeaders);
  // A loaded policy routes a request by its first matching route.
  for (const char* path : {"/", "/api/v3/flows/executor/x", "/a/b/../c"}) {
    for (const char* method : {"GET", "POST"}) {
      FUZZ_CHECK(&p.match("auth.securenexus.net", path, method) ==
                 &first_match(p, "auth.securenexus.net", path, method));
    }
  }
}

namespace {

void check_nodes(NodeListFormat format, const std::uint8_t* data, std::size_t size) {
  const NodeListParse parse = parse_node_list(format, as_view(data, size));
  if (!parse.ok()) {
    FUZZ_CHECK(parse.nodes.empty() || !parse.error.empty());
    return;
  }
  auto clean = [](const std::string& s) {
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return false;
    }
    return true;
  };
  std::vector<IpAddress> seen;
  for (const TailnetNode& node : parse.nodes) {
    FUZZ_CHECK(clean(node.id) && clean(node.name) && clean(node.login) && clean(node.user));
    for (const std::string& tag : node.tags) FUZZ_CHECK(is_valid_tag(tag));
    for (const IpAddress& ip : node.addresses) seen.push_back(ip);
  }
  std::sort(seen.begin(), seen.end());
  FUZZ_CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

}  // namespace

void check_nodes_tailscale_status(const std::uint8_t* data, std::size_t size) {
  check_nodes(NodeListFormat::tailscale_status, data, size);
}
void check_nodes_tailscale_api(const std::uint8_t* data, std::size_t size) {
  check_nodes(NodeListFormat::tailscale_api, data, size);
}
void check_nodes_headscale(const std::uint8_t* data, std::size_t size) {
  check_nodes(NodeListFormat::headscale, data, size);
}
void check_nodes_list(const std::uint8_t* data, std::size_t size) {
  check_nodes(NodeListFormat::list, data, size);
}

// hiredis 0.14 (Debian 12) has no `maxelements`: "*70000000" makes it allocate and free a huge
// array, which times the fuzzer out inside hiredis. Redis is a trusted peer; keep the fuzzer on
// edgeguard's code by refusing aggregates longer than any real reply.
bool has_huge_aggregate(std::string_view text) {
  for (std::size_t at = 0; at < text.size(); at = text.find('\n', at) + 1) {
    if (std::string_view("*%~>|").find(text[at]) != std::string_view::npos) {
      long long count = 0;
      for (std::size_t i = at + 1; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        count = count * 10 + (text[i] - '0');
        if (count > 4096) return true;
      }
    }
    if (text.find('\n', at) == std::string_view::npos) break;
  }
  return false;
}

// Feeds RESP bytes through hiredis's reader, as a socket would, and hands each reply tree (at
// most 16) to `use`.
template <typename F>
void for_each_reply(std::string_view text, F use) {
  if (has_huge_aggregate(text)) return;
  // Built as edgeguard's connections build replies (reply_pool.h), so the pool is fuzzed too.
  redisReplyObjectFunctions* fn = pooled_reply_functions();
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreateWithFunctions(fn),
                                                              redisReaderFree);
  FUZZ_CHECK(reader != nullptr);
  if (redisReaderFeed(reader.get(), text.data(), text.size()) != REDIS_OK) return;
  for (int i = 0; i < 16; ++i) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK || raw == nullptr) break;
    std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                       fn->freeObject);
    use(reply.get());
  }
}

void check_redis_reply(const std::uint8_t* data, std::size_t size) {
  // edgeguard's part is what it does with each tree: the slot map, and MOVED/ASK redirects.
  const RedisEndpoint asked{"127.0.0.1", 7000};
  for_each_reply(as_view(data, size), [&](const redisReply* reply) {
    if (auto map = parse_cluster_slots(reply, asked)) {
      for (std::int16_t owner : map->owner) {
        FUZZ_CHECK(owner >= -1 && owner < static_cast<int>(map->masters.size()));
      }
      for (const auto* nodes : {&map->masters, &map->replicas}) {
        for (const RedisEndpoint& n : *nodes)
          FUZZ_CHECK(!n.host.empty() && n.port > 0 && n.port < 65536);
      }
    }
    if (reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_STATUS ||
        reply->type == REDIS_REPLY_STRING) {
      if (auto redirect = parse_redirect({reply->str, reply->len})) {
        FUZZ_CHECK(redirect->slot >= 0 && redirect->slot < kClusterSlots);
        FUZZ_CHECK(!redirect->target.host.empty());
      }
    }
  });
}

// What read_ban_step promises: safe to add to a monotonic clock, and consistent.
void check_ban_step(const BanStepReply& ban) {
  FUZZ_CHECK(ban.left_ns >= 0 && ban.left_ns < kGcraReplyMaxNs);
  FUZZ_CHECK(ban.count >= 0);
  switch (ban.state) {
    case BanStep::none:
      FUZZ_CHECK(ban.left_ns == 0 && ban.count == 0);
      break;
    case BanStep::made:
    case BanStep::in_force:
      FUZZ_CHECK(ban.left_ns > 0 && ban.count >= 1);
      break;
    case BanStep::refused:
      FUZZ_CHECK(ban.left_ns == 0);
      break;
  }
}

void check_gcra_reply(const std::uint8_t* data, std::size_t size) {
  // First byte: how many keys the script ran over (1..16, as a route has); the rest is RESP.
  if (size == 0) return;
  const std::size_t keys = data[0] % 16 + 1;
  for_each_reply(as_view(data + 1, size - 1), [&](const redisReply* reply) {
    const auto verdict = parse_gcra_reply(reply, keys);
    if (!verdict) return;
    // Accepted only as the script's contract says, and safe to use: the denied index picks
    // one of the keys, every time can be added to a monotonic clock, and a ban is only
    // reported for a denial.
    FUZZ_CHECK(reply->type == REDIS_REPLY_ARRAY && reply->elements == 8);
    for (std::size_t i = 0; i < 8; ++i) FUZZ_CHECK(reply->element[i]->type == REDIS_REPLY_INTEGER);
    FUZZ_CHECK(reply->element[0]->integer == (verdict->allowed ? 1 : 0));
    if (verdict->allowed) {
      FUZZ_CHECK(verdict->denied == -1);
      FUZZ_CHECK(verdict->ban.state == BanStep::none);
    } else {
      FUZZ_CHECK(verdict->denied >= 0 && static_cast<std::size_t>(verdict->denied) < keys);
      FUZZ_CHECK(reply->element[1]->integer == verdict->denied);
    }
    for (std::int64_t t : {verdict->retry_after_ns, verdict->remaining, verdict->reset_ns}) {
      FUZZ_CHECK(t >= 0 && t < kGcraReplyMaxNs);
    }
    check_ban_step(verdict->ban);
  });
}

void check_ban_record(const BanRecord& r) {
  FUZZ_CHECK(r.count >= 1);
  FUZZ_CHECK(r.until_ms >= 0);
  FUZZ_CHECK(!r.subject.empty() && r.subject.size() <= kMaxBanText);
  FUZZ_CHECK(r.reason.size() <= kMaxBanText);
  FUZZ_CHECK(!r.scope.empty() && r.scope.find(':') == std::string::npos);
}

void check_ban_message(const std::uint8_t* data, std::size_t size) {
  // The bans' messages (pub/sub) and records (key values) as text, and the same bytes as RESP
  // replies of the ban script. Accepted text is canonical: it formats back to the same bytes.
  const std::string_view text = as_view(data, size);
  if (const auto record = parse_ban_record(text)) {
    check_ban_record(*record);
    FUZZ_CHECK(format_ban_record(*record) == text);
  }
  if (const auto message = parse_ban_message(text)) {
    if (message->kind == BanMessage::Kind::unban) {
      FUZZ_CHECK(!message->record.subject.empty() && "unban " + message->record.subject == text);
    } else {
      FUZZ_CHECK(message->left_ns >= 1 && message->left_ns < kGcraReplyMaxNs);
      check_ban_record(message->record);
      FUZZ_CHECK("ban " + std::to_string(message->left_ns) + " " +
                     format_ban_record(message->record) ==
                 text);
    }
  }
  for_each_reply(text, [&](const redisReply* reply) {
    if (const auto step = parse_ban_step_reply(reply)) {
      FUZZ_CHECK(step->state != BanStep::none);
      check_ban_step(*step);
    }
    if (const auto lifted = parse_unban_reply(reply)) FUZZ_CHECK(*lifted >= 0);
    if (const auto page = parse_resync_reply(reply)) {
      FUZZ_CHECK(!page->cursor.empty());
      for (char c : page->cursor) FUZZ_CHECK(c >= '0' && c <= '9');
      FUZZ_CHECK(page->bans.size() + page->unreadable == (reply->elements - 1) / 2);
      for (const auto& [record, left_ms] : page->bans) {
        check_ban_record(record);
        FUZZ_CHECK(left_ms > 0 && left_ms < kGcraReplyMaxNs / 1'000'000);
      }
    }
  });
}

// The admin API's request parsing: the bytes as a POST /v1/bans body, and as the subject of a
// DELETE /v1/bans/<subject> path. A request that parses is within bounds, its subject canonical
// (canonicalising again changes nothing) and its route one of the policy's; a refusal names at
// most a short printable field and its problem+json body parses.
void check_admin_request(const std::uint8_t* data, std::size_t size) {
  const Policy& policy = example_policy();
  const std::string_view text = as_view(data, size);
  auto check_refusal = [](const FieldError& e) {
    FUZZ_CHECK(!e.detail.empty() && e.detail.size() <= 1024);
    FUZZ_CHECK(e.field.size() <= 70);
    for (char c : e.field) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
    const AdminResponse r = problem(400, e.detail, e.field);
    boost::json::error_code ec;
    const auto v = boost::json::parse(r.body, ec);
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(v.as_object().at("detail").as_string() == e.detail);
  };
  auto check_subject = [&](const std::string& subject) {
    std::string why;
    const auto again = canonical_subject(subject, policy.client_ip.ipv6_prefix, &why);
    FUZZ_CHECK(again && *again == subject);
  };

  FieldError error;
  if (auto fields = parse_json_fields(text, &error)) {
    FUZZ_CHECK(fields->size() <= kMaxJsonFields);
    for (std::size_t i = 0; i < fields->size(); ++i) {
      for (std::size_t j = i + 1; j < fields->size(); ++j) {
        FUZZ_CHECK((*fields)[i].name != (*fields)[j].name);
      }
    }
  } else {
    check_refusal(error);
  }
  if (auto request = parse_ban_request(text, policy, &error)) {
    check_subject(request->subject);
    FUZZ_CHECK(request->for_ns >= kMinBanNs && request->for_ns <= kMaxBanNs);
    bool known = request->route == kEveryRoute;
    for (const Route& r : policy.routes) known = known || r.name == request->route;
    FUZZ_CHECK(known);
  } else {
    check_refusal(error);
  }

  if (auto decoded = percent_decode(text)) {
    FUZZ_CHECK(percent_decode(percent_encode(*decoded)) == *decoded);
    if (auto subject = parse_unban_subject(*decoded, policy, &error)) {
      check_subject(*subject);
      FUZZ_CHECK(is_valid_utf8(*subject));
    } else {
      check_refusal(error);
    }
  }
}

void check_crowdsec_stream(const std::uint8_t* data, std::size_t size) {
  // LAPI's decision stream answer -> parse -> a startup set -> the same answer as a delta.
  constexpr ScopeMask kAll = scope_bit(DecisionScope::ip) | scope_bit(DecisionScope::range) |
                             scope_bit(DecisionScope::country) | scope_bit(DecisionScope::as);
  constexpr std::int64_t kNow = 1'000'000'000'000;
  StreamUpdate update;
  std::string error;
  if (!parse_decision_stream(as_view(data, size), kAll, update, &error)) {
    FUZZ_CHECK(!error.empty());
    return;
  }
  // The event reader accepts nothing Boost.JSON's own parser would refuse.
  boost::system::error_code ec;
  const boost::json::value dom =
      boost::json::parse(boost::json::string_view(reinterpret_cast<const char*>(data), size), ec);
  FUZZ_CHECK(!ec && dom.is_object());
  for (const StreamDecision& d : update.added) {
    FUZZ_CHECK(d.has_duration);
    switch (d.scope) {
      case DecisionScope::ip:
        FUZZ_CHECK(d.prefix == (d.address.is_v4() ? 32 : 128));
        break;
      case DecisionScope::range:
        FUZZ_CHECK(d.prefix <= (d.address.is_v4() ? 32 : 128));
        FUZZ_CHECK(d.address.masked(d.prefix) == d.address);
        break;
      case DecisionScope::country:
        FUZZ_CHECK((d.target >> 8) >= 'A' && (d.target >> 8) <= 'Z');
        FUZZ_CHECK((d.target & 0xff) >= 'A' && (d.target & 0xff) <= 'Z');
        break;
      case DecisionScope::as:
        FUZZ_CHECK(d.target != 0);
        break;
    }
  }
  const DecisionSet empty;
  const auto set = DecisionSet::apply(empty, update, true, kNow);
  FUZZ_CHECK(set->size() <= update.added.size());
  // Every decision still running is found for its own value, and what is found is active.
  for (const StreamDecision& d : update.added) {
    if (d.duration_ns <= 0) continue;
    const auto c = static_cast<char>(d.target >> 8), c2 = static_cast<char>(d.target & 0xff);
    const char country[2] = {c, c2};
    const CrowdsecDecision* found =
        d.scope == DecisionScope::country ? set->find(IpAddress(), {country, 2}, 0, kNow)
        : d.scope == DecisionScope::as    ? set->find(IpAddress(), "", d.target, kNow)
                                          : set->find(d.address, "", 0, kNow);
    FUZZ_CHECK(found != nullptr && found->active(kNow));
    FUZZ_CHECK(found->type <= d.type);  // nothing of lower precedence hides it
  }
  // As a delta on that set: nothing `deleted` names survives unless `new` sends it again.
  const auto next = DecisionSet::apply(*set, update, false, kNow);
  for (const StreamDecision& gone : update.deleted) {
    bool resent = false;
    for (const StreamDecision& d : update.added) resent = resent || d.key() == gone.key();
    if (resent) continue;
    for (const CrowdsecDecision& d : next->decisions()) FUZZ_CHECK(d.id != gone.key());
  }
}

// The fields of a record, copied out of the parser's buffers.
struct RecordCopy {
  std::string client_host, request_host, method, path, router_name, client_addr;
  std::int64_t start_ns;
  int downstream_status;
  std::array<std::string, kMaxRecordHeaders> headers;
  std::array<bool, kMaxRecordHeaders> header_present;
  bool operator==(const RecordCopy&) const = default;
};

RecordCopy copy_of(const AccessRecord& r) {
  RecordCopy c{std::string(r.client_host),
               std::string(r.request_host),
               std::string(r.method),
               std::string(r.path),
               std::string(r.router_name),
               std::string(r.client_addr),
               r.start_ns,
               r.downstream_status,
               {},
               r.header_present};
  for (std::size_t i = 0; i < kMaxRecordHeaders; ++i) c.headers[i] = std::string(r.headers[i]);
  return c;
}

void check_access_log(const std::uint8_t* data, std::size_t size) {
  // One parser for the whole run, as replay and the follower keep one: its scratch buffer is
  // reused from line to line, and a record must not see a previous line's bytes.
  static AccessLogParser parser({"X-Forwarded-For", "X-Real-Ip"});
  const std::string_view line = as_view(data, size);
  AccessRecord rec;
  const char* why = parser.parse(line, rec);
  // Copied now: the next parse reuses the buffers the record's strings point into.
  const RecordCopy first = why == nullptr ? copy_of(rec) : RecordCopy{};
  // JSON whitespace around the object changes nothing, refused or not.
  const std::string padded = " \t" + std::string(line) + "\r\n";
  AccessRecord again;
  const char* why_again = parser.parse(padded, again);
  FUZZ_CHECK((why == nullptr) == (why_again == nullptr));
  if (why != nullptr) {
    FUZZ_CHECK(*why != '\0' && std::string_view(why) == why_again);
    return;
  }
  FUZZ_CHECK(first == copy_of(again));
  // Unescaping never grows a string.
  for (const std::string* v : {&first.client_host, &first.request_host, &first.method, &first.path,
                               &first.router_name, &first.client_addr}) {
    FUZZ_CHECK(v->size() <= line.size());
  }
  FUZZ_CHECK(first.downstream_status >= 0 && first.downstream_status <= 999);
  // StartUTC went through the RFC 3339 reader: its whole seconds format back and read again to
  // the same instant.
  if (first.start_ns >= 0) {
    const auto back = parse_rfc3339_ns(format_rfc3339(first.start_ns));
    FUZZ_CHECK(back && *back == first.start_ns - first.start_ns % 1'000'000'000);
  }
}

// The failures webhook's body (POST /v1/failures): whatever the bytes, a refusal names a short
// printable field; an accepted batch holds 1..kMaxFailureBatch reports, each with a route of the
// policy that has failure limits and a client address or a username (a success: a username).
void check_failure_reports(const std::uint8_t* data, std::size_t size) {
  static const std::shared_ptr<const Policy> policy = [] {
    const auto load = parse_policy(R"(routes:
  - name: login
    hosts: [auth.example.net]
    failure_limits:
      - {name: user, average: 5, period: 15m, burst: 5, key: username}
      - {name: ip, average: 5, period: 15m, burst: 5, key: client_ip}
  - name: plain
    hosts: [plain.example.net]
)",
                                   "fuzz.yaml");
    FUZZ_CHECK(load.policy != nullptr);
    return load.policy;
  }();
  FieldError error;
  const auto reports = parse_failure_reports(as_view(data, size), *policy, &error);
  if (!reports) {
    FUZZ_CHECK(!error.detail.empty());
    FUZZ_CHECK(error.field.size() <= 80);
    for (char c : error.field) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
    return;
  }
  FUZZ_CHECK(!reports->empty() && reports->size() <= kMaxFailureBatch);
  for (const FailureReport& r : *reports) {
    FUZZ_CHECK(r.route == "login");
    FUZZ_CHECK(r.client_ip.has_value() || !r.username.empty());
    if (r.success) FUZZ_CHECK(!r.username.empty());
  }
}

// The login name in a forwarded body: the first byte picks the media type, the rest is the body.
// A name found is canonical (trimmed, lower case, no control character, bounded) and canonical
// again unchanged; a form body's name never holds '&'.
void check_login_name(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  static constexpr std::string_view kTypes[] = {"application/json",
                                                "application/x-www-form-urlencoded; charset=UTF-8",
                                                "application/vnd.api+json", "text/plain"};
  const std::string_view type = kTypes[data[0] % 4];
  std::array<char, kMaxUsernameBytes> out;
  const std::string_view name =
      extract_username(type, as_view(data + 1, size - 1), "uid_field", out);
  if (name.empty()) return;
  FUZZ_CHECK(type != "text/plain");
  FUZZ_CHECK(name.size() <= kMaxUsernameBytes);
  FUZZ_CHECK(name.front() != ' ' && name.back() != ' ');
  for (char c : name) {
    FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  }
  std::array<char, kMaxUsernameBytes> again;
  FUZZ_CHECK(canonical_username(name, again) == name);
}

// GET /v1/bans as `explain --admin` reads it. A list that parses holds bans explain can load:
// an ip: subject canonical, user:/key: ones with their value, a route, a count >= 1; written
// back as the server writes it (append_ban_json) it reads the same, `until` rounded up to the
// second (the API's precision).
void check_ban_list(const std::uint8_t* data, std::size_t size) {
  std::string error;
  const auto bans = parse_ban_list(as_view(data, size), 64, &error);
  if (!bans) {
    FUZZ_CHECK(!error.empty() && error.size() <= 512);
    return;
  }
  constexpr std::int64_t kSecond = 1'000'000'000;
  // Rounded up, the last second parse_rfc3339_ns reads back (an int64 of ns ends in 2262).
  constexpr std::int64_t kLast = (std::numeric_limits<std::int64_t>::max() / kSecond - 1) * kSecond;
  bool writable = true;
  std::string again = "{\"bans\":[";
  for (const Ban& b : *bans) {
    FUZZ_CHECK(!b.route.empty() && b.count >= 1);
    if (b.subject.starts_with("ip:")) {
      std::string why;
      const auto canonical = canonical_subject(b.subject, 64, &why);
      FUZZ_CHECK(canonical && *canonical == b.subject);
    } else {
      FUZZ_CHECK((b.subject.starts_with("user:") && b.subject.size() > 5) ||
                 (b.subject.starts_with("key:") && b.subject.size() > 4));
    }
    writable = writable && b.until_ns >= 0 && b.until_ns <= kLast;
    if (again.size() > 9) again += ',';
    append_ban_json(again, b);
  }
  again += "]}";
  if (!writable) return;
  const auto reread = parse_ban_list(again, 64, &error);
  FUZZ_CHECK(reread && reread->size() == bans->size());
  for (std::size_t i = 0; i < bans->size(); ++i) {
    const Ban& a = (*bans)[i];
    const Ban& b = (*reread)[i];
    FUZZ_CHECK(a.subject == b.subject && a.route == b.route && a.reason == b.reason);
    FUZZ_CHECK(a.count == b.count && a.source == b.source);
    FUZZ_CHECK(b.until_ns == (a.until_ns + kSecond - 1) / kSecond * kSecond);
  }
}

}  // namespace edgeguard::fuzz
