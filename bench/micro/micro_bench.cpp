// Micro benchmarks of the decision path (SPEC section 8): each piece a request goes through, and
// the whole of it minus I/O. Every benchmark reports `allocs`: heap allocations per iteration
// (tests/support/alloc_counter.cpp interposes malloc), which must be 0 on the request path.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "guard/bans/ban_table.h"
#include "guard/config/policy_loader.h"
#include "guard/core/decide.h"
#include "guard/crowdsec/decision_set.h"
#include "guard/crowdsec/decision_stream.h"
#include "guard/http/forward_auth_parser.h"
#include "guard/http/response.h"
#include "guard/limit/gcra.h"
#include "guard/limit/traefik_rate.h"
#include "guard/log/event_log.h"
#include "guard/net/cidr_set.h"
#include "guard/pipeline/pipeline.h"
#include "guard/request/client_ip.h"
#include "guard/request/forward_request.h"
#include "guard/request/path_normalize.h"
#include "guard/service/service.h"
#include "guard/store/local_store.h"
#include "guard/tailnet/node_directory.h"
#include "tests/support/alloc_counter.h"

namespace edgeguard {
namespace {

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "micro_bench: %s\n", why.c_str());
  std::exit(1);
}

// Reports allocations per iteration of the loop it wraps (construct before, finish after).
class AllocScope {
 public:
  explicit AllocScope(benchmark::State& state) : state_(state), start_(thread_allocations()) {}
  void finish() {
    const auto n = thread_allocations() - start_;
    state_.counters["allocs"] =
        benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
  }

 private:
  benchmark::State& state_;
  std::uint64_t start_;
};

// ---------------------------------------------------------------------------------------------
// Request parsing pieces.

void BM_ClientIp(benchmark::State& state) {
  // What Traefik sends when the client supplied its own X-Forwarded-For: theirs, then the peer.
  const std::string_view v4 = "10.1.2.3, 198.51.100.23";
  const std::string_view v6 = "10.1.2.3, 2001:db8:85a3::8a2e:370:7334";
  const std::string_view value = state.range(0) == 4 ? v4 : v6;
  const ClientIpStrategy strategy{1, nullptr};
  AllocScope allocs(state);
  for (auto _ : state) {
    auto r = resolve_client_ip(value, strategy);
    benchmark::DoNotOptimize(r);
  }
  allocs.finish();
}
BENCHMARK(BM_ClientIp)->Arg(4)->Arg(6)->ArgName("family");

void BM_PathNormalize(benchmark::State& state) {
  const std::string_view paths[] = {
      "/api/v3/flows/executor/default-authentication-flow/",
      "/app/sales-invoice/ACC-SINV-2024-00017",
      "/static//js/../css/./%7Etheme/main%2ecss",
  };
  const std::string_view path = paths[state.range(0)];
  std::array<char, kMaxUriBytes> out;
  AllocScope allocs(state);
  for (auto _ : state) {
    PathError err = PathError::none;
    benchmark::DoNotOptimize(normalize_path(path, out.data(), err));
    benchmark::DoNotOptimize(err);
  }
  allocs.finish();
}
BENCHMARK(BM_PathNormalize)->DenseRange(0, 2)->ArgName("case");

// ---------------------------------------------------------------------------------------------
// Route matching: 50 routes of the shapes a real policy has (exact hosts, wildcards, prefixes,
// exact paths, method lists, a few regexes).

std::string fifty_routes_yaml() {
  std::string y = "callers: [127.0.0.0/8]\nroutes:\n";
  for (int i = 0; i < 50; ++i) {
    const std::string n = std::to_string(i);
    y += "  - name: r" + n + "\n";
    switch (i % 5) {
      case 0:
        y += "    hosts: [app" + n + ".example.com]\n";
        break;
      case 1:
        y += "    hosts: [\"*.tenant" + n + ".example.org\"]\n";
        y += "    paths: [/api/v" + n + "/, \"= /login" + n + "\"]\n";
        break;
      case 2:
        y += "    hosts: [svc" + n + ".example.com, svc" + n + ".example.net]\n";
        y += "    paths: [/admin/]\n    methods: [POST, PUT, DELETE]\n";
        break;
      case 3:
        y += "    hosts: [shop" + n + ".example.com]\n";
        y += i % 10 == 3 ? "    paths: [\"~ ^/cart/[0-9]+/checkout$\"]\n"
                         : "    paths: [/cart/, /checkout/]\n";
        break;
      case 4:
        y += "    hosts: [\"*.zone" + n + ".example.net\", zone" + n + ".example.net]\n";
        y += "    paths: [/]\n";
        break;
    }
    y += "    limits:\n      - {name: per-ip, average: 10, period: 1m, burst: 5, key: client_ip}\n";
  }
  y += "default: deny\n";
  return y;
}

void BM_RouteMatch50(benchmark::State& state) {
  static const auto policy = [] {
    auto load = parse_policy(fifty_routes_yaml(), "fifty.yaml");
    if (!load.policy) die(load.error);
    if (load.policy->routes.size() != 50) die("expected 50 routes");
    return load.policy;
  }();
  struct Case {
    std::string_view host, path, method, expect;
  };
  static constexpr Case kCases[] = {
      {"app0.example.com", "/", "GET", "r0"},
      {"a.tenant21.example.org", "/api/v21/items", "GET", "r21"},
      {"shop23.example.com", "/cart/17/checkout", "POST", "r23"},  // a regex route
      {"www.zone49.example.net", "/index.html", "GET", "r49"},
      {"unknown.example.com", "/", "GET", "default"},
  };
  const Case& c = kCases[state.range(0)];
  if (policy->match(c.host, c.path, c.method).name != c.expect) die("route match is wrong");
  AllocScope allocs(state);
  for (auto _ : state) {
    benchmark::DoNotOptimize(&policy->match(c.host, c.path, c.method));
  }
  allocs.finish();
  state.SetLabel(std::string(c.expect));
}
BENCHMARK(BM_RouteMatch50)->DenseRange(0, 4)->ArgName("case");

// ---------------------------------------------------------------------------------------------
// CIDR sets of 10 and 10 000 networks (IPv4 /24s and IPv6 /48s), half the probes inside.

void BM_CidrLookup(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(42);
  std::vector<Cidr> nets;
  std::vector<IpAddress> probes;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      const auto base = static_cast<std::uint32_t>(rng()) & 0xffffff00u;
      nets.push_back({IpAddress::from_v4(base), 24});
      probes.push_back(IpAddress::from_v4(base | 7));
    } else {
      const u128 base = (u128{rng()} << 64) & ~((u128{1} << 80) - 1);
      nets.push_back({IpAddress::from_bits(base), 48});
      probes.push_back(IpAddress::from_bits(base | 0x1234));
    }
    probes.push_back(IpAddress::from_v4(static_cast<std::uint32_t>(rng())));
  }
  const CidrSet set(nets);
  std::shuffle(probes.begin(), probes.end(), rng);
  std::size_t i = 0, hits = 0;
  AllocScope allocs(state);
  for (auto _ : state) {
    hits += set.contains(probes[i]);
    if (++i == probes.size()) i = 0;
  }
  allocs.finish();
  benchmark::DoNotOptimize(hits);
}
BENCHMARK(BM_CidrLookup)->Arg(10)->Arg(10000)->ArgName("networks");

// ---------------------------------------------------------------------------------------------
// GCRA alone and the local store, alone and with two threads on it.

void BM_Gcra(benchmark::State& state) {
  const GcraRate rate{6'000'000'000, 30'000'000'000, 5};  // 10/min, burst 5
  std::int64_t tat = 0, now = 1'000'000'000;
  for (auto _ : state) {
    const GcraResult r = gcra_check(tat, now, rate);
    if (r.allowed) tat = r.new_tat;
    now += 1'000'000'000;
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Gcra);

// Traefik's "Average is respected" load on one bucket: 100/s, burst 1, a request every 2.5 ms,
// so one in four is admitted. range(0) 0: tolerance T × burst (before issue 18); 1: the rate
// as the loader compiles it now, with Traefik's maxDelay. Same check, same branches.
void BM_GcraPaced(benchmark::State& state) {
  const GcraRate traefik = traefik_gcra_rate(100, 1'000'000'000, 10'000'000, 1);
  const GcraRate rate =
      state.range(0) == 0 ? GcraRate{traefik.emission_ns, traefik.emission_ns, 1} : traefik;
  std::int64_t tat = 0, now = 1'000'000'000, admitted = 0;
  for (auto _ : state) {
    const GcraResult r = gcra_check(tat, now, rate);
    if (r.allowed) tat = r.new_tat;
    admitted += r.allowed;
    now += 2'500'000;
    benchmark::DoNotOptimize(r);
  }
  state.counters["admitted"] =
      benchmark::Counter(static_cast<double>(admitted) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_GcraPaced)->Arg(0)->Arg(1)->ArgName("maxdelay");

LocalLimitStore& shared_store() {
  static LocalLimitStore store(1'000'000);
  return store;
}

// range(0): distinct keys per thread (1 = every request on one bucket, the contended case).
void BM_LocalStore(benchmark::State& state) {
  auto& store = shared_store();
  const auto keys = static_cast<std::uint64_t>(state.range(0));
  const GcraRate rate{100'000, 100'000'000, 1000};
  std::uint64_t seed = 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(state.thread_index() + 1);
  std::int64_t now = 1'000'000'000;
  std::uint64_t k = 0;
  std::size_t admitted = 0;
  AllocScope allocs(state);
  for (auto _ : state) {
    const std::uint64_t hash =
        keys == 1 ? 0x1234567890abcdefULL : (seed ^ (k * 0xff51afd7ed558ccdULL));
    if (++k == keys) k = 0;
    const LimitCall call{rate, "bench", hash};
    admitted += store.try_admit({&call, 1}, now, false)->allowed;
    now += 50'000;
  }
  allocs.finish();
  benchmark::DoNotOptimize(admitted);
}
BENCHMARK(BM_LocalStore)
    ->Arg(1)
    ->Arg(100000)
    ->ArgName("keys")
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// ---------------------------------------------------------------------------------------------
// The full decision on the example policy, extended with the tailnet rule its admin route is
// meant to get and a geo rule on the ERP route.

std::string bench_dir() {
  const auto dir = std::filesystem::path(EDGEGUARD_BENCH_WORK_DIR);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// config/edgeguard.yaml with its data sources pointed at fixtures: the MaxMind test country
// database and a node list of a few hundred nodes. The admin route gets its tailnet rule and the
// ERP route its geo rule if the file at hand does not have them yet.
std::string example_policy_yaml() {
  const std::string src = EDGEGUARD_SOURCE_DIR;
  const std::string nodes = bench_dir() + "/nodes.list";
  {
    std::ofstream out(nodes);
    for (int i = 0; i < 300; ++i) {  // a tenth of them admins
      out << "100.64." << i / 200 << '.' << (i % 200) + 1
          << (i % 10 == 0 ? " tag:admin" : " tag:dev") << "\nfd7a:115c:a1e0::" << std::hex << i + 1
          << std::dec << " tag:dev\n";
    }
    if (!out) die("cannot write " + nodes);
  }
  YAML::Node y = YAML::LoadFile(src + "/config/edgeguard.yaml");
  y["geoip"] = YAML::Load("{country_db: " + src + "/tests/data/maxmind/GeoIP2-Country-Test.mmdb}");
  y["tailnet"]["nodes"] = YAML::Load("{format: list, file: " + nodes + "}");
  bool admin = false, erp = false;
  for (auto route : y["routes"]) {
    const auto name = route["name"].as<std::string>();
    if (name == "admin") {
      admin = true;
      if (!route["tailnet"]) {
        route.remove("allow_ips");
        route["tailnet"] = YAML::Load("{require: enrolled, tags: [\"tag:admin\"]}");
      }
    } else if (name == "erp") {
      erp = true;
      if (!route["geo"]) route["geo"] = YAML::Load("{allow_countries: [GB, IE], unknown: deny}");
    }
  }
  if (!admin || !erp) die("config/edgeguard.yaml has no admin or erp route any more");
  YAML::Emitter out;
  out << y;
  return out.c_str();
}

// The running service's pieces, built the way the server (and `edgeguard explain`) builds them.
struct Bench {
  std::unique_ptr<Service> service;
  std::shared_ptr<const Snapshot> snap;
};

Bench& example_service() {
  static Bench b = [] {
    set_log_enabled(false);
    auto load = parse_policy(example_policy_yaml(), "bench.yaml", bench_dir());
    if (!load.policy) die(load.error);
    std::string error;
    Bench out;
    out.service = Service::create(load.policy, "", &error);
    if (!out.service) die(error);
    out.snap = out.service->snapshot();
    if (!out.snap->geo || !out.snap->nodes || out.snap->nodes->size() != 600) {
      die("geo database or node list did not load");
    }
    return out;
  }();
  return b;
}

struct Call {
  std::string method, host, uri, xff;
  std::string expect_route;
};

// The traffic the load test's mix is made of; client addresses rotate so buckets stay fresh.
std::vector<Call> calls_for(int which) {
  std::vector<Call> calls;
  auto add = [&](std::string m, std::string h, std::string u, std::string xff, std::string r) {
    calls.push_back({std::move(m), std::move(h), std::move(u), std::move(xff), std::move(r)});
  };
  // Three GB addresses of the MaxMind test database (admitted) and a US one (refused).
  const char* geo_ips[] = {"81.2.69.160", "2.125.160.216", "81.2.69.142", "216.160.83.56"};
  for (int i = 0; i < 64; ++i) {
    const std::string n = std::to_string(i);
    if (which == 0 || which == 4) {
      add("POST", "auth.securenexus.net",
          "/api/v3/flows/executor/default-authentication-flow/?query=", "198.51.100." + n,
          "authentik-login");
    }
    if (which == 1 || which == 4) {
      add("GET", "erp.byrne-accounts.org", "/app/sales-invoice/ACC-SINV-2024-000" + n,
          std::string("10.9.8.7, ") + geo_ips[i % 4], "erp");
    }
    if (which == 2 || which == 4) {
      add("GET", "grafana.securenexus.net", "/d/node-exporter?orgId=1",
          "100.64.0." + std::to_string((i % 20) * 10 + 1), "admin");
    }
    if (which == 3 || which == 4) {
      add("GET", "app.securenexus.net", "/outpost.goauthentik.io/auth/traefik",
          "2001:db8:" + n + "::1", "authentik-outpost");
    }
  }
  return calls;
}

constexpr const char* kDecideCases[] = {"login", "erp_geo", "admin_tailnet", "outpost", "mix"};

ForwardHeaders headers_of(const Call& c) {
  ForwardHeaders h;
  h.method = c.method;
  h.method_present = true;
  h.host = c.host;
  h.host_present = true;
  h.uri = c.uri;
  h.uri_present = true;
  h.client_ip = c.xff;
  h.client_ip_present = true;
  return h;
}

// Per request: parse_forward_request + match + facts (geo lookup, tailnet find) + the rules and
// the local bucket: what the server does per request minus I/O and the response.
void BM_Decide(benchmark::State& state) {
  Bench& b = example_service();
  const Snapshot& snap = *b.snap;
  const Policy& policy = *snap.policy;
  LocalLimitStore& store = b.service->local_store();
  const auto calls = calls_for(static_cast<int>(state.range(0)));
  std::vector<ForwardHeaders> headers;
  for (const auto& c : calls) headers.push_back(headers_of(c));
  RequestScratch scratch;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const auto parsed =
        parse_forward_request(headers[i], "X-Forwarded-For", snap.client_ip, scratch);
    if (!parsed.ok()) die("bench request does not parse: " + calls[i].uri);
    const auto& route =
        policy.match(parsed.request.host, parsed.request.path, parsed.request.method);
    if (route.name != calls[i].expect_route) die("bench request matched " + route.name);
  }
  std::int64_t now = 1'000'000'000'000;
  std::size_t i = 0, allowed = 0;
  Pipeline pipeline;
  AllocScope allocs(state);
  for (auto _ : state) {
    const ParseOutcome parsed =
        parse_forward_request(headers[i], "X-Forwarded-For", snap.client_ip, scratch);
    allowed += pipeline.decide(snap, parsed.request, now, store, false).allowed();
    if (++i == calls.size()) i = 0;
    now += 100'000'000;  // 10 requests/s in all: the buckets admit, as most real traffic is
  }
  allocs.finish();
  benchmark::DoNotOptimize(allowed);
  state.SetLabel(kDecideCases[state.range(0)]);
}
BENCHMARK(BM_Decide)->DenseRange(0, 4)->ArgName("case");

// decide() alone (SPEC: <= 500 ns median): request already parsed, facts already resolved.
void BM_DecideCore(benchmark::State& state) {
  Bench& b = example_service();
  const Snapshot& snap = *b.snap;
  const Policy& policy = *snap.policy;
  LocalLimitStore& store = b.service->local_store();
  const auto calls = calls_for(static_cast<int>(state.range(0)));
  std::vector<std::unique_ptr<RequestScratch>> scratch;
  std::vector<ForwardRequest> requests;
  std::vector<Facts> facts;
  for (const auto& c : calls) {
    scratch.push_back(std::make_unique<RequestScratch>());
    const auto parsed =
        parse_forward_request(headers_of(c), "X-Forwarded-For", snap.client_ip, *scratch.back());
    if (!parsed.ok()) die("bench request does not parse: " + c.uri);
    requests.push_back(parsed.request);
    Facts f;
    f.client_ip = parsed.request.client_ip;
    f.geo = snap.geo->lookup(f.client_ip);
    f.node = snap.nodes->find_entry(f.client_ip);
    facts.push_back(f);
  }
  std::int64_t now = 1'000'000'000'000;
  std::size_t i = 0, allowed = 0;
  AllocScope allocs(state);
  for (auto _ : state) {
    allowed += decide(policy, requests[i], facts[i], store, now).allowed();
    if (++i == calls.size()) i = 0;
    now += 100'000'000;
  }
  allocs.finish();
  benchmark::DoNotOptimize(allowed);
  state.SetLabel(kDecideCases[state.range(0)]);
}
BENCHMARK(BM_DecideCore)->DenseRange(0, 4)->ArgName("case");

// ---------------------------------------------------------------------------------------------
// The server's byte-level work: the parser over a ForwardAuth call as Traefik sends it, and the
// response.

std::string traefik_request(const Call& c) {
  return "GET /auth HTTP/1.1\r\n"
         "Host: 127.0.0.1:8080\r\n"
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0\r\n"
         "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
         "Accept-Encoding: gzip, deflate, br\r\n"
         "Accept-Language: en-GB,en;q=0.5\r\n"
         "Cookie: authentik_session=7f3c1a9e2b4d6f8a0c1e3b5d7f9a1c3e; "
         "csrftoken=Zq8x1Y2w3V4u5T6s\r\n"
         "X-Forwarded-For: " +
         c.xff +
         "\r\n"
         "X-Forwarded-Host: " +
         c.host +
         "\r\n"
         "X-Forwarded-Method: " +
         c.method +
         "\r\n"
         "X-Forwarded-Port: 443\r\n"
         "X-Forwarded-Proto: https\r\n"
         "X-Forwarded-Server: traefik-7d9f8b6c5-x2x4q\r\n"
         "X-Forwarded-Uri: " +
         c.uri +
         "\r\n"
         "X-Real-Ip: " +
         c.xff.substr(c.xff.rfind(' ') + 1) +
         "\r\n"
         "\r\n";
}

void BM_ForwardAuthParser(benchmark::State& state) {
  const std::string bytes = traefik_request(calls_for(1).front());
  const CapturePlan plan;
  auto arena = std::make_unique<std::array<char, ForwardAuthParser::kArenaBytes>>();
  std::optional<ForwardAuthParser> parser;
  AllocScope allocs(state);
  for (auto _ : state) {
    parser.emplace(plan, *arena);
    parser->header_limit(8192);
    parser->eager(true);
    boost::system::error_code ec;
    parser->put(boost::asio::buffer(bytes), ec);
    if (ec || !parser->is_done()) die("parser: " + ec.message());
    benchmark::DoNotOptimize(parser->headers().uri.size());
  }
  allocs.finish();
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_ForwardAuthParser);

void BM_WriteDecision(benchmark::State& state) {
  Bench& b = example_service();
  const Policy& policy = *b.snap->policy;
  Decision d;
  d.route = &policy.routes[1];
  d.limit_index = 0;
  d.remaining = 3;
  if (state.range(0) == 1) {
    d.verdict = Verdict::deny;
    d.reason = Reason::rate_limit;
    d.rule = "limit";
    d.retry_after_ns = 4'500'000'000;
    d.remaining = 0;
  }
  Facts facts;
  facts.client_ip = *IpAddress::parse("198.51.100.7");
  std::string out;
  out.reserve(1024);
  AllocScope allocs(state);
  for (auto _ : state) {
    out.clear();
    write_decision(out, d, facts, true);
    benchmark::DoNotOptimize(out.data());
  }
  allocs.finish();
  state.SetLabel(state.range(0) == 1 ? "429" : "200");
}
BENCHMARK(BM_WriteDecision)->Arg(0)->Arg(1)->ArgName("deny");

// ---------------------------------------------------------------------------------------------
// CrowdSec: a decision set of 100 000 active decisions, ip and range mixed as a community
// blocklist plus local scenarios give them (70 % IPv4 addresses, 10 % IPv6 addresses, 15 % IPv4
// ranges /16-/28, 5 % IPv6 ranges /32-/64; 20 scenarios, 3 origins, 5 % captcha), built from a
// startup answer in LAPI's own format.

struct CrowdsecFixture {
  std::string body;                              // the startup answer
  std::vector<IpAddress> decided;                // an address under each decision
  std::vector<IpAddress> under_ip, under_range;  // the same, split by the decision's scope
};

const CrowdsecFixture& crowdsec_fixture(std::size_t n) {
  static std::map<std::size_t, CrowdsecFixture> cache;
  auto [it, fresh] = cache.try_emplace(n);
  if (!fresh) return it->second;
  CrowdsecFixture& f = it->second;
  std::mt19937_64 rng(1234);
  static const char* kOrigins[] = {"CAPI", "crowdsec", "cscli"};
  f.body.reserve(n * 190);
  f.body = R"({"deleted":null,"new":[)";
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned kind = static_cast<unsigned>(rng() % 100);
    IpAddress a;
    int prefix = 0;
    if (kind < 70) {
      a = IpAddress::from_v4(static_cast<std::uint32_t>(rng()));
      prefix = 32;
    } else if (kind < 80) {
      a = IpAddress::from_bits((u128{0x2000} << 112) | (u128{rng()} << 64) | rng());
      prefix = 128;
    } else if (kind < 95) {
      prefix = 16 + static_cast<int>(rng() % 13);
      a = IpAddress::from_v4(static_cast<std::uint32_t>(rng())).masked(prefix);
    } else {
      prefix = 32 + static_cast<int>(rng() % 33);
      a = IpAddress::from_bits((u128{0x2000} << 112) | (u128{rng()} << 64)).masked(prefix);
    }
    const int width = a.is_v4() ? 32 : 128;
    // Inside a range: a host part no wider than the range's (a /28 has 16 addresses, not 256).
    const u128 host = prefix >= width - 8 ? (u128{1} << (width - prefix)) - 1 : 0xff;
    f.decided.push_back(prefix == width ? a : IpAddress::from_bits(a.bits() | (rng() & host)));
    (prefix == width ? f.under_ip : f.under_range).push_back(f.decided.back());
    if (i != 0) f.body += ',';
    f.body += R"({"duration":")" + std::to_string(1 + rng() % 168) + "h" +
              std::to_string(rng() % 60) + "m" + std::to_string(rng() % 60) + "." +
              std::to_string(100'000'000 + rng() % 900'000'000) + R"(s","id":)" +
              std::to_string(i + 1) + R"(,"origin":")" + kOrigins[rng() % 3] +
              R"(","scenario":"crowdsecurity/scenario-)" + std::to_string(rng() % 20) +
              R"(","scope":")" + (prefix == width ? "Ip" : "Range") + R"(","type":")" +
              (rng() % 20 == 0 ? "captcha" : "ban") + R"(","value":")" + a.to_string() +
              (prefix == width ? "" : "/" + std::to_string(prefix)) + R"("})";
  }
  f.body += "]}";
  return f;
}

std::shared_ptr<const DecisionSet> crowdsec_set(std::size_t n) {
  StreamUpdate update;
  std::string error;
  if (!parse_decision_stream(crowdsec_fixture(n).body, kDefaultScopes, update, &error)) {
    die("crowdsec fixture: " + error);
  }
  const DecisionSet empty;
  return DecisionSet::apply(empty, update, true, 0);
}

// Per request: the client's address, country and AS against the set. decisions:0 is the
// baseline (no CrowdSec decision at all). probes:0 is the request mix: random addresses (nearly
// all without a decision, as most clients are) with one in eight under a decision; probes:1 every
// client under an Ip decision, probes:2 every client inside a Range decision (the order of
// find: the exact addresses first, where an Ip ban settles it, then the ranges).
void BM_CrowdsecLookup(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto probe_kind = state.range(1);
  const auto set = crowdsec_set(n);
  std::mt19937_64 rng(99);
  std::vector<IpAddress> probes;
  for (int i = 0; i < 65536; ++i) {
    if (n != 0 && probe_kind == 1) {
      const auto& under = crowdsec_fixture(n).under_ip;
      probes.push_back(under[rng() % under.size()]);
    } else if (n != 0 && probe_kind == 2) {
      const auto& under = crowdsec_fixture(n).under_range;
      probes.push_back(under[rng() % under.size()]);
    } else if (n != 0 && i % 8 == 0) {
      probes.push_back(crowdsec_fixture(n).decided[rng() % n]);
    } else if (i % 4 == 1) {
      probes.push_back(IpAddress::from_bits((u128{0x2000} << 112) | (u128{rng()} << 64) | rng()));
    } else {
      probes.push_back(IpAddress::from_v4(static_cast<std::uint32_t>(rng())));
    }
  }
  std::size_t i = 0, hits = 0;
  AllocScope allocs(state);
  for (auto _ : state) {
    hits += set->find(probes[i], "US", 64496, 1'000'000'000) != nullptr;
    i = (i + 1) & 65535;
  }
  allocs.finish();
  state.counters["hit_rate"] =
      benchmark::Counter(static_cast<double>(hits), benchmark::Counter::kAvgIterations);
  static const char* kProbes[] = {"mix", "under an Ip decision", "inside a Range decision"};
  state.SetLabel(kProbes[probe_kind]);
}
BENCHMARK(BM_CrowdsecLookup)
    ->Args({0, 0})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Args({100000, 2})
    ->ArgNames({"decisions", "probes"});

// A startup pull applied: parse LAPI's answer and build the set (what happens when edgeguard
// starts or resyncs). Counters: the answer's size; the heap the built set keeps once the answer
// and its document are gone (glibc's accounting, mmapped blocks included), in total and per
// decision, and the set's own count of its arrays; and the peak on top of the answer while the
// document and the new set both exist.
std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

void BM_CrowdsecStartupPull(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const CrowdsecFixture& f = crowdsec_fixture(n);
  std::size_t kept = 0, peak = 0, counted = 0;
  for (auto _ : state) {
    const std::size_t before = heap_in_use();
    std::shared_ptr<const DecisionSet> set;
    {
      StreamUpdate update;
      std::string error;
      if (!parse_decision_stream(f.body, kDefaultScopes, update, &error)) die(error);
      const DecisionSet empty;
      set = DecisionSet::apply(empty, update, true, 0);
      peak = heap_in_use() - before;
    }
    kept = heap_in_use() - before;
    counted = set->memory_bytes();
    if (set->size() != n) die("crowdsec: decisions lost");
    benchmark::DoNotOptimize(set);
  }
  state.counters["body_bytes"] = static_cast<double>(f.body.size());
  state.counters["set_bytes"] = static_cast<double>(kept);
  state.counters["bytes_per_decision"] = static_cast<double>(kept) / static_cast<double>(n);
  state.counters["set_bytes_counted"] = static_cast<double>(counted);
  state.counters["peak_bytes"] = static_cast<double>(peak);
}
BENCHMARK(BM_CrowdsecStartupPull)->Arg(100000)->ArgName("decisions")->Unit(benchmark::kMillisecond);

// A refresh with changes: 100 new and 100 deleted decisions applied to the 100 000 (the set is
// rebuilt aside and swapped; refreshes without changes cost nothing).
void BM_CrowdsecDeltaPull(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto base = crowdsec_set(n);
  std::string body = R"({"new":[)";
  for (int i = 0; i < 100; ++i) {
    if (i != 0) body += ',';
    body +=
        R"({"duration":"4h","id":)" + std::to_string(n + 1 + static_cast<std::size_t>(i)) +
        R"(,"origin":"crowdsec","scenario":"crowdsecurity/ssh-bf","scope":"Ip","type":"ban","value":"198.51.100.)" +
        std::to_string(i) + R"("})";
  }
  body += R"(],"deleted":[)";
  for (int i = 0; i < 100; ++i) {
    if (i != 0) body += ',';
    body += R"({"duration":"-1s","id":)" + std::to_string(i * 7 + 1) +
            R"(,"origin":"CAPI","scenario":"x","scope":"Ip","type":"ban","value":"192.0.2.1"})";
  }
  body += "]}";
  for (auto _ : state) {
    StreamUpdate update;
    std::string error;
    if (!parse_decision_stream(body, kDefaultScopes, update, &error)) die(error);
    benchmark::DoNotOptimize(DecisionSet::apply(*base, update, false, 0));
  }
}
BENCHMARK(BM_CrowdsecDeltaPull)->Arg(100000)->ArgName("decisions")->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// Bans (issue 12): the check every routed request makes, whatever the number of bans.

constexpr std::int64_t kBanNow = 1'000'000'000'000;
constexpr std::int64_t kHourNs = 3'600'000'000'000;

// A ban on an IPv4 client in 240.0.0.0/8 (reserved: no bench call, here or in the load mix, comes
// from it), on one of the example policy's routes or on every route.
Ban bench_ban(std::uint32_t i, std::int64_t until_ns) {
  static const char* kScopes[] = {"authentik-login", "erp", "*"};
  char subject[kMaxIpSubject];
  const IpAddress ip = IpAddress::from_v4(0xf0000000u + i);  // 240.0.0.0 + i
  Ban b;
  b.subject.assign(subject, format_ip_subject(ip, 64, subject));
  b.route = kScopes[i % 3];
  b.until_ns = until_ns;
  b.reason = "per-ip";
  return b;
}

// Per request: what resolve_facts does for a route none of whose limits bans: the table's
// empty() shortcut, else the client's subject formatted and looked up on the route and on every
// route. arg 0: active bans (0, 10 000, and 100 000 = the default bans.max_active, a full
// table); arg 1: 1 when 1 000 000 shorter bans (ten times the table) came and went before, so
// that every slot of the index has held a key. One probe in eight is a banned client.
void BM_BanLookup(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const bool churned = state.range(1) != 0;
  BanTable table(100'000);
  std::int64_t now = kBanNow;
  if (churned) {
    // Offenders banned for a minute, 10 000 a minute: each wave ends before the next is made.
    for (std::uint32_t i = 0; i < 1'000'000; ++i) {
      if (i % 10'000 == 0) now += 61'000'000'000;
      table.insert(bench_ban(200'000 + i, now + 60'000'000'000), now);
    }
    now += 61'000'000'000;
  }
  for (std::uint32_t i = 0; i < n; ++i) table.insert(bench_ban(i, now + kHourNs), now);
  if (table.active(now) != n) die("ban table holds " + std::to_string(table.active(now)));
  std::mt19937_64 rng(7);
  std::vector<IpAddress> probes;
  for (int i = 0; i < 65536; ++i) {
    probes.push_back(
        n != 0 && i % 8 == 0
            ? IpAddress::from_v4(0xf0000000u + static_cast<std::uint32_t>(rng() % n))
            : IpAddress::from_v4((static_cast<std::uint32_t>(rng()) & 0x7fffffffu) | 0x01000000u));
  }
  const std::string_view routes[] = {"authentik-login", "erp"};
  std::size_t i = 0, hits = 0;
  AllocScope allocs(state);
  for (auto _ : state) {
    std::int64_t until = 0;
    if (!table.empty()) {
      char buf[kMaxIpSubject];
      const std::string_view subject(buf, format_ip_subject(probes[i], 64, buf));
      until = table.banned_until(subject, routes[i & 1], now);
    }
    hits += until != 0;
    i = (i + 1) & 65535;
  }
  allocs.finish();
  state.counters["hit_rate"] =
      benchmark::Counter(static_cast<double>(hits), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_BanLookup)
    ->Args({0, 0})
    ->Args({10'000, 0})
    ->Args({100'000, 0})
    ->Args({10'000, 1})
    ->ArgNames({"bans", "churned"});

// BM_Decide's mix (case 4) with active bans in the service's table, on clients the mix does
// not send: the same verdicts, so the difference is what checking bans costs per request.
void BM_DecideBans(benchmark::State& state) {
  Bench& b = example_service();
  const Snapshot& snap = *b.snap;
  LocalLimitStore& store = b.service->local_store();
  BanTable& table = b.service->ban_table();
  const auto n = static_cast<std::uint32_t>(state.range(0));
  std::int64_t now = 1'000'000'000'000;
  // Long enough for every iteration (the clock moves 100 ms per call).
  const std::int64_t until = now + 1'000'000 * kHourNs;
  for (std::uint32_t i = 0; i < n; ++i) table.insert(bench_ban(i, until), now);
  if (table.active(now) != n) die("ban table holds " + std::to_string(table.active(now)));
  const auto calls = calls_for(4);
  std::vector<ForwardHeaders> headers;
  for (const auto& c : calls) headers.push_back(headers_of(c));
  RequestScratch scratch;
  std::size_t i = 0, allowed = 0;
  Pipeline pipeline;
  AllocScope allocs(state);
  for (auto _ : state) {
    const ParseOutcome parsed =
        parse_forward_request(headers[i], "X-Forwarded-For", snap.client_ip, scratch);
    allowed += pipeline.decide(snap, parsed.request, now, store, false).allowed();
    if (++i == calls.size()) i = 0;
    now += 100'000'000;
  }
  allocs.finish();
  benchmark::DoNotOptimize(allowed);
  for (std::uint32_t k = 0; k < n; ++k) {
    const Ban ban = bench_ban(k, until);
    table.remove(ban.subject, ban.route, now);
  }
}
BENCHMARK(BM_DecideBans)->Arg(0)->Arg(10'000)->ArgName("bans");

}  // namespace
}  // namespace edgeguard

BENCHMARK_MAIN();
