#include "tests/fuzz/fuzz_checks.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/json/parse.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "guard/config/policy_loader.h"
#include "guard/core/decide.h"
#include "guard/http/forward_auth_parser.h"
#include "guard/http/response.h"
#include "guard/redis/cluster_slots.h"
#include "guard/request/client_ip.h"
#include "guard/request/forward_request.h"
#include "guard/request/host_normalize.h"
#include "guard/request/path_normalize.h"
#include "guard/store/local_store.h"
#include "guard/tailnet/node_list_parser.h"

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

void check_redis_reply(const std::uint8_t* data, std::size_t size) {
  // hiredis's own reader turns the bytes into reply trees, as it does for a socket; edgeguard's
  // part is what it does with each tree: the slot map, and MOVED/ASK redirects.
  // hiredis 0.14 (Debian 12) has no `maxelements`: "*70000000" makes it allocate and free a huge
  // array, which times the fuzzer out inside hiredis. Redis is a trusted peer; keep the fuzzer on
  // edgeguard's code by refusing aggregates longer than any real reply.
  const std::string_view text = as_view(data, size);
  for (std::size_t at = 0; at < text.size(); at = text.find('\n', at) + 1) {
    if (std::string_view("*%~>|").find(text[at]) != std::string_view::npos) {
      long long count = 0;
      for (std::size_t i = at + 1; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        count = count * 10 + (text[i] - '0');
        if (count > 4096) return;
      }
    }
    if (text.find('\n', at) == std::string_view::npos) break;
  }
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
  FUZZ_CHECK(reader != nullptr);
  if (redisReaderFeed(reader.get(), reinterpret_cast<const char*>(data), size) != REDIS_OK) return;
  const RedisEndpoint asked{"127.0.0.1", 7000};
  for (int i = 0; i < 16; ++i) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK || raw == nullptr) break;
    std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                       freeReplyObject);
    if (auto map = parse_cluster_slots(reply.get(), asked)) {
      for (std::int16_t owner : map->owner) {
        FUZZ_CHECK(owner >= -1 && owner < static_cast<int>(map->masters.size()));
      }
      for (const RedisEndpoint& m : map->masters) FUZZ_CHECK(!m.host.empty());
    }
    if (reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_STATUS ||
        reply->type == REDIS_REPLY_STRING) {
      if (auto redirect = parse_redirect({reply->str, reply->len})) {
        FUZZ_CHECK(redirect->slot >= 0 && redirect->slot < kClusterSlots);
        FUZZ_CHECK(!redirect->target.host.empty());
      }
    }
  }
}

}  // namespace edgeguard::fuzz
