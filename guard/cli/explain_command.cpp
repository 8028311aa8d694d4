#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include "guard/admin/ban_endpoints.h"
#include "guard/admin/ban_list_reply.h"
#include "guard/cli/admin_client.h"
#include "guard/cli/args.h"
#include "guard/cli/commands.h"
#include "guard/cli/offline_service.h"
#include "guard/clock/clock.h"
#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"
#include "guard/pipeline/facts.h"
#include "guard/pipeline/pipeline.h"
#include "guard/service/service.h"
#include "guard/tailnet/node_directory.h"
#include "guard/text/ascii.h"

namespace edgeguard {
namespace {

constexpr const char* kUsage =
    "usage: edgeguard explain --config FILE --method M --host H --uri U --ip IP "
    "[--username NAME] [--header NAME:VALUE]... [--admin URL [--token-file F]] [--json]\n"
    "  --admin       a running instance's admin listener (http://HOST:PORT): its active bans\n"
    "                are read (GET /v1/bans) and the request is checked against them\n"
    "  --token-file  the file holding that instance's admin.token_file token";

// Where the bans the pipeline reads came from: explain alone has none.
struct BansRead {
  bool consulted = false;
  std::string admin;              // the --admin URL
  std::size_t read = 0;           // active bans the instance listed
  std::size_t held = 0;           // of those, how many this table holds (its bans.max_active)
  std::int64_t to_monotonic = 0;  // added to the API's Unix times (so `until` reads back exact)
};

// Loads the active bans of the instance at `admin` into `table`, on the clock the pipeline
// reads (the API speaks Unix time; the table the monotonic clock). False after printing why.
bool load_bans(const std::string& admin, const std::optional<std::string>& token_file,
               int ipv6_prefix, BanTable& table, BansRead* out) {
  std::string error;
  const auto url = parse_admin_url(admin, &error);
  if (!url) {
    std::fprintf(stderr, "edgeguard explain: %s\n", error.c_str());
    return false;
  }
  AdminCallOptions options;
  std::string token;
  if (token_file) {
    auto read = read_admin_token_file(*token_file, &error);
    if (!read) {
      std::fprintf(stderr, "edgeguard explain: %s\n", error.c_str());
      return false;
    }
    token = std::move(*read);
    options.token = token;
  }
  const auto reply = call_admin(*url, boost::beast::http::verb::get, "/v1/bans", options, &error);
  if (!reply) {
    std::fprintf(stderr, "edgeguard explain: cannot read the bans: %s (admin API at %s)\n",
                 error.c_str(), admin.c_str());
    return false;
  }
  if (reply->status != 200) {
    std::fprintf(stderr, "edgeguard explain: cannot read the bans: %s\n",
                 describe_refusal(*reply).c_str());
    if (reply->status == 401) {
      std::fprintf(stderr,
                   "edgeguard explain: give the token of the server's admin.token_file with "
                   "--token-file\n");
    }
    return false;
  }
  auto bans = parse_ban_list(reply->body, ipv6_prefix, &error);
  if (!bans) {
    std::fprintf(stderr, "edgeguard explain: the bans from %s are not the admin API's: %s\n",
                 admin.c_str(), error.c_str());
    return false;
  }
  const std::int64_t now = monotonic_ns();
  const std::int64_t to_monotonic = now - unix_ns();
  out->to_monotonic = to_monotonic;
  out->consulted = true;
  out->admin = admin;
  out->read = bans->size();
  for (Ban& ban : *bans) {
    ban.until_ns += to_monotonic;
    if (table.insert(std::move(ban), now)) ++out->held;
  }
  return true;
}

}  // namespace

// Explains one request against the policy: the route, each rule's result and the verdict. It
// reads the configured GeoIP databases and node list, and checks limits against a fresh bucket
// without charging it (a running server's buckets live in that process).
int run_explain(int argc, char** argv) {
  std::string error;
  auto args = Args::parse(
      argc, argv,
      {"config", "method", "host", "uri", "ip", "header", "username", "admin", "token-file"},
      {"json"}, &error);
  if (!args || !args->get("config") || !args->get("host") || !args->get("ip")) {
    std::fprintf(stderr, "%s%s%s\n", kUsage, error.empty() ? "" : ": ", error.c_str());
    return 2;
  }
  if (args->get("token-file") && !args->get("admin")) {
    std::fprintf(stderr, "%s: --token-file goes with --admin\n", kUsage);
    return 2;
  }
  const auto service = open_offline_service(*args->get("config"));
  if (!service) return 1;
  const auto snap = service->snapshot();
  const Policy& policy = *snap->policy;
  // The snapshot reads the service's ban table: fill it from the running instance, if asked.
  BansRead bans;
  if (const auto admin = args->get("admin")) {
    if (!load_bans(*admin, args->get("token-file"), policy.client_ip.ipv6_prefix,
                   service->ban_table(), &bans)) {
      return 1;
    }
  }

  const std::string method = args->get("method").value_or("GET");
  const std::string host = *args->get("host");
  const std::string uri = args->get("uri").value_or("/");
  const std::string ip = *args->get("ip");
  ForwardHeaders headers;
  headers.method = method;
  headers.method_present = true;
  headers.host = host;
  headers.host_present = true;
  headers.uri = uri;
  headers.uri_present = true;
  headers.client_ip = ip;  // the address the proxy saw: a one-entry X-Forwarded-For
  headers.client_ip_present = true;
  std::vector<std::string> header_values = args->all("header");
  for (const auto& h : header_values) {
    const auto colon = h.find(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "--header takes NAME:VALUE, got '%s'\n", h.c_str());
      return 2;
    }
    const std::string name = ascii_lower(h.substr(0, colon));
    std::string_view value(h);
    value.remove_prefix(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    for (std::size_t i = 0; i < policy.key_header_names.size(); ++i) {
      if (policy.key_header_names[i] == name) headers.key_headers[i] = value;
    }
  }
  RequestScratch scratch;
  const ClientIpStrategy direct{1, nullptr};
  const ParseOutcome parsed = parse_forward_request(headers, "--ip", direct, scratch);
  if (!parsed.ok()) {
    std::fprintf(stderr, "bad request: %.*s %.*s\n", static_cast<int>(parsed.bad.header.size()),
                 parsed.bad.header.data(), static_cast<int>(parsed.bad.problem.size()),
                 parsed.bad.problem.data());
    return 1;
  }
  ForwardRequest req = parsed.request;
  // The login name a route with `username:` would read from the body, given outright.
  const std::string username = args->get("username").value_or("");
  req.username = username;
  // The pipeline serve runs, with every fact looked up (not only those the route reads) and
  // the limits checked without charging a token.
  Trace trace;
  Pipeline pipeline;
  const std::int64_t now = monotonic_ns();
  const Decision& d = pipeline.decide(*snap, req, now, service->local_store(),
                                      /*dry_run=*/true, &trace, FactLookups::all);
  const Facts& facts = pipeline.facts();
  // The ban that refused it: its subject, scope, end and rank, as `bans list` shows them.
  std::optional<Ban> ban;
  if (d.reason == Reason::ban && d.route != nullptr) {
    ban = find_ban(*snap, *d.route, req, facts, now);
    if (ban) ban->until_ns -= bans.to_monotonic;
  }

  if (args->flag("json")) {
    boost::json::object o;
    o["verdict"] = to_string(d.verdict);
    o["status"] = d.status();
    o["reason"] = to_string(d.reason);
    o["route"] = d.route ? d.route->name : "default";
    o["rule"] = d.rule;
    o["client_ip"] = facts.client_ip.to_string();
    o["host"] = std::string(req.host);
    o["path"] = std::string(req.path);
    o["method"] = std::string(req.method);
    if (facts.geo.has_country()) o["country"] = facts.geo.country;
    if (facts.geo.has_asn()) o["asn"] = facts.geo.asn;
    if (facts.node) {
      o["node"] = facts.node->node.name;
      o["login"] = facts.node->node.login;
    }
    if (const LimitPolicy* limit = d.limit()) o["limit"] = limit->name;
    if (d.remaining >= 0) o["remaining"] = d.remaining;
    if (!facts.username.empty()) o["username"] = std::string(facts.username);
    boost::json::array steps;
    for (const auto& s : trace) {
      steps.push_back(
          boost::json::object{{"rule", s.rule}, {"result", s.result}, {"detail", s.detail}});
    }
    o["trace"] = std::move(steps);
    boost::json::object consulted{{"consulted", bans.consulted}};
    if (bans.consulted) {
      consulted["admin"] = bans.admin;
      consulted["active"] = bans.read;
      consulted["held"] = bans.held;
    }
    o["bans"] = std::move(consulted);
    if (ban) {
      o["ban"] = boost::json::object{{"subject", ban->subject},
                                     {"scope", ban->route == kEveryRoute ? "all" : "route"},
                                     {"route", ban->route},
                                     {"until", format_utc_seconds(ban->until_ns)},
                                     {"count", ban->count},
                                     {"reason", ban->reason},
                                     {"source", to_string(ban->source)}};
    }
    std::printf("%s\n", boost::json::serialize(o).c_str());
    return 0;
  }
  std::printf("request  %.*s %.*s%.*s from %s\n", static_cast<int>(req.method.size()),
              req.method.data(), static_cast<int>(req.host.size()), req.host.data(),
              static_cast<int>(req.path.size()), req.path.data(),
              facts.client_ip.to_string().c_str());
  std::printf("facts    country=%s asn=%u node=%s\n",
              facts.geo.has_country() ? facts.geo.country : "-", facts.geo.asn,
              facts.node ? facts.node->node.name.c_str() : "-");
  if (!bans.consulted) {
    std::printf("bans     not consulted: give --admin URL to check the running instance's bans\n");
  } else {
    std::printf(
        "bans     %zu active at %s%s\n", bans.read, bans.admin.c_str(),
        bans.held < bans.read ? " (some past this config's bans.max_active: not held)" : "");
  }
  for (const auto& s : trace) {
    std::printf("  %-10s %-6s %s\n", s.rule.c_str(), s.result.c_str(), s.detail.c_str());
  }
  std::printf("verdict  %s (status %d, reason %s, rule %s, route %s)\n", to_string(d.verdict),
              d.status(), to_string(d.reason), d.rule, d.route ? d.route->name.c_str() : "default");
  if (ban) {
    std::printf("ban      %s on %s until %s (ban %lld, reason %s, source %s)\n",
                ban->subject.c_str(),
                ban->route == kEveryRoute ? "every route (scope all)"
                                          : ("route " + ban->route + " (scope route)").c_str(),
                format_utc_seconds(ban->until_ns).c_str(), static_cast<long long>(ban->count),
                ban->reason.c_str(), to_string(ban->source));
  }
  return 0;
}

}  // namespace edgeguard
