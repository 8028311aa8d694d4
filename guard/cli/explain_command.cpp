#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include "guard/cli/args.h"
#include "guard/cli/commands.h"
#include "guard/cli/offline_service.h"
#include "guard/clock/clock.h"
#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"
#include "guard/pipeline/pipeline.h"
#include "guard/service/service.h"
#include "guard/tailnet/node_directory.h"
#include "guard/text/ascii.h"

namespace edgeguard {
namespace {

constexpr const char* kUsage =
    "usage: edgeguard explain --config FILE --method M --host H --uri U --ip IP "
    "[--username NAME] [--header NAME:VALUE]... [--json]";

}  // namespace

// Explains one request against the policy: the route, each rule's result and the verdict. It
// reads the configured GeoIP databases and node list, and checks limits against a fresh bucket
// without charging it (a running server's buckets live in that process).
int run_explain(int argc, char** argv) {
  std::string error;
  auto args =
      Args::parse(argc, argv, {"config", "method", "host", "uri", "ip", "header", "username"},
                  {"json"}, &error);
  if (!args || !args->get("config") || !args->get("host") || !args->get("ip")) {
    std::fprintf(stderr, "%s%s%s\n", kUsage, error.empty() ? "" : ": ", error.c_str());
    return 2;
  }
  const auto service = open_offline_service(*args->get("config"));
  if (!service) return 1;
  const auto snap = service->snapshot();
  const Policy& policy = *snap->policy;

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
  const Decision& d = pipeline.decide(*snap, req, monotonic_ns(), service->local_store(),
                                      /*dry_run=*/true, &trace, FactLookups::all);
  const Facts& facts = pipeline.facts();

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
  for (const auto& s : trace) {
    std::printf("  %-10s %-6s %s\n", s.rule.c_str(), s.result.c_str(), s.detail.c_str());
  }
  std::printf("verdict  %s (status %d, reason %s, rule %s, route %s)\n", to_string(d.verdict),
              d.status(), to_string(d.reason), d.rule, d.route ? d.route->name.c_str() : "default");
  return 0;
}

}  // namespace edgeguard
