#include <cstdio>
#include <string>

#include "guard/cli/args.h"
#include "guard/cli/commands.h"
#include "guard/config/policy_loader.h"

namespace edgeguard {
namespace {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string describe_route(const Route& r) {
  std::vector<std::string> hosts = r.exact_hosts;
  for (const auto& s : r.host_suffixes) hosts.push_back("*" + s);
  std::vector<std::string> paths;
  for (const auto& p : r.paths) {
    paths.push_back((p.kind == PathMatcher::Kind::exact   ? "= "
                     : p.kind == PathMatcher::Kind::regex ? "~ "
                                                          : "") +
                    p.text);
  }
  std::vector<std::string> rules;
  if (!r.bypass.empty()) rules.push_back("bypass");
  if (!r.deny_ips.empty()) rules.push_back("deny_ips");
  if (r.has_allow_ips) rules.push_back("allow_ips");
  if (r.tailnet) rules.push_back("tailnet");
  if (r.geo) rules.push_back("geo");
  if (r.crowdsec == Route::Crowdsec::off) rules.push_back("crowdsec off");
  if (r.crowdsec == Route::Crowdsec::shadow) rules.push_back("crowdsec shadow");
  if (!r.username_field.empty()) rules.push_back("username from body field " + r.username_field);
  // A limit as written, and the ban it makes: what an operator reads to check the lockout.
  // A failure limit's bucket holds burst - 1: the burst-th failure in a row empties it and bans
  // (route_compiler.cpp), so the configured burst is shown, as the operator wrote it.
  const auto describe_limit = [&](const char* kind, const LimitPolicy& l, std::int64_t burst) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s %s %g/%gs burst %lld", kind, l.name.c_str(), l.average,
                  static_cast<double>(l.period_ns) / 1e9, static_cast<long long>(burst));
    std::string text = buf;
    if (l.ban) {
      std::snprintf(buf, sizeof buf, " ban %gs%s", static_cast<double>(l.ban->for_ns) / 1e9,
                    l.ban->scope_all ? " on every route" : "");
      text += buf;
    }
    rules.push_back(std::move(text));
  };
  for (const auto& l : r.limits) describe_limit("limit", l, l.rate.burst);
  for (const auto& l : r.failure_limits) describe_limit("failure limit", l, l.rate.burst + 1);
  std::string out = r.name + (r.mode == Mode::shadow ? " [shadow]" : "") + "\n";
  out += "    hosts: " + (hosts.empty() ? std::string("any") : join(hosts, ", ")) + "\n";
  out += "    paths: " + (paths.empty() ? std::string("any") : join(paths, ", ")) + "\n";
  out += "    rules: " + (rules.empty() ? std::string("none (allow)") : join(rules, "; ")) + "\n";
  return out;
}

}  // namespace

int run_check(int argc, char** argv) {
  std::string error;
  auto args = Args::parse(argc, argv, {"config"}, {}, &error);
  if (!args || !args->get("config")) {
    std::fprintf(stderr, "usage: edgeguard check --config FILE%s%s\n", error.empty() ? "" : ": ",
                 error.c_str());
    return 2;
  }
  const PolicyLoad load = load_policy_file(*args->get("config"));
  if (!load.policy) {
    std::fprintf(stderr, "%s\n", load.error.c_str());
    return 1;
  }
  const Policy& p = *load.policy;
  std::printf("%s: ok, %zu routes (first match wins), default %s, store %s\n",
              p.source_path.c_str(), p.routes.size(),
              p.default_route.default_deny ? "deny" : "allow",
              p.settings.store.type == StoreType::redis ? "redis" : "local");
  for (const auto& r : p.routes) std::printf("  %s", describe_route(r).c_str());
  return 0;
}

}  // namespace edgeguard
