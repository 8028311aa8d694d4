#include "guard/core/decide.h"

#include <algorithm>
#include <string>

#include "guard/tailnet/node_directory.h"

namespace edgeguard {
namespace {

void note(Trace* trace, const char* rule, const char* result, const char* detail = "") {
  if (trace != nullptr) trace->push_back({rule, result, detail});
}

// For details that must be formatted: `detail` runs only when a trace is wanted, so the request
// path never builds (and allocates) a string nobody reads.
template <typename Detail>
void note_with(Trace* trace, const char* rule, const char* result, Detail detail) {
  if (trace != nullptr) trace->push_back({rule, result, detail()});
}

template <typename T, typename V>
bool contains(const std::vector<T>& list, const V& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// A rule's "no": enforced, or recorded as shadow and evaluation goes on.
// Returns true when evaluation must stop (an enforced deny).
bool deny(Decision& d, const Route& route, bool rule_shadow, Reason reason, const char* rule) {
  if (route.mode == Mode::shadow || rule_shadow) {
    if (d.verdict == Verdict::allow) {
      d.verdict = Verdict::shadow_deny;
      d.reason = reason;
      d.rule = rule;
    }
    return false;
  }
  d.verdict = Verdict::deny;
  d.reason = reason;
  d.rule = rule;
  return true;
}

// Why the tailnet rule refuses this node, or nullptr when it admits it.
const char* tailnet_refusal(const TailnetRule& rule, const TailnetNode* node) {
  if (node == nullptr) return "not an enrolled node";
  if (!rule.tags.empty() && !has_any_tag(*node, rule.tags)) {
    return "node has none of the required tags";
  }
  if (!rule.users.empty() && !login_in(*node, rule.users)) return "node's user is not allowed";
  return nullptr;
}

// Why the geo rule refuses this client, or nullptr when it admits it.
const char* geo_refusal(const GeoRule& rule, const Facts& facts) {
  const GeoFacts& g = facts.geo;
  const bool judge_country = !rule.allow_countries.empty() || !rule.deny_countries.empty();
  const bool judge_asn = !rule.allow_asns.empty() || !rule.deny_asns.empty();
  if (judge_country) {
    if (!g.has_country()) {
      if (!rule.unknown_allow) return "country unknown";
    } else {
      const std::string_view country(g.country);
      if (!rule.allow_countries.empty() && !contains(rule.allow_countries, country)) {
        return "country not allowed";
      }
      if (contains(rule.deny_countries, country)) return "country denied";
    }
  }
  if (judge_asn) {
    if (!g.has_asn()) {
      // An unknown ASN cannot be on a deny-list; `unknown` matters only to an allow-list.
      if (!rule.unknown_allow && !rule.allow_asns.empty()) return "ASN unknown";
    } else {
      if (!rule.allow_asns.empty() && !contains(rule.allow_asns, g.asn)) return "ASN not allowed";
      if (contains(rule.deny_asns, g.asn)) return "ASN denied";
    }
  }
  return nullptr;
}

}  // namespace

bool caller_allowed(const Policy& policy, const IpAddress& peer) {
  return policy.callers.contains(peer);
}

Decision caller_denied(const Policy& policy) {
  Decision d;
  d.verdict = Verdict::deny;
  d.reason = Reason::caller;
  d.rule = "callers";
  d.route = &policy.default_route;
  return d;
}

bool begin(const Policy& policy, const Route& route, const ForwardRequest& request,
           const Facts& facts, std::int64_t now_ns, PendingDecision& out, Trace* trace) {
  out.decision = Decision{};
  out.calls.count = 0;
  out.now_ns = now_ns;
  out.would_ban = false;
  Decision& d = out.decision;
  d.route = &route;
  note(trace, "route", route.name.c_str());
  const IpAddress& ip = facts.client_ip;

  if (!route.bypass.empty() && route.bypass.contains(ip)) {
    d.rule = "bypass";
    note(trace, "bypass", "allow", "client in bypass set: every rule below is skipped");
    return false;
  }
  if (route.is_default) {
    if (route.default_deny) {
      deny(d, route, false, Reason::default_deny, "default");
      note(trace, "default", "deny", "no route matched and default is deny");
      return false;
    }
    note(trace, "default", "allow", "no route matched and default is allow");
    return false;
  }
  if (!route.deny_ips.empty() && route.deny_ips.contains(ip)) {
    note(trace, "deny_ips", "deny", "client in deny_ips");
    if (deny(d, route, false, Reason::ip, "deny_ips")) return false;
  }
  if (route.has_allow_ips && !route.allow_ips.contains(ip)) {
    note(trace, "allow_ips", "deny", "client not in allow_ips");
    if (deny(d, route, false, Reason::ip, "allow_ips")) return false;
  }
  if (facts.banned_until_ns > now_ns) {
    d.retry_after_ns = facts.banned_until_ns - now_ns;
    note_with(trace, "bans", "deny", [&] {
      return "banned for another " + std::to_string(retry_after_seconds(d.retry_after_ns)) + "s";
    });
    if (deny(d, route, false, Reason::ban, "ban")) return false;
  }
  if (const CrowdsecDecision* c = facts.crowdsec;
      c != nullptr && route.crowdsec != Route::Crowdsec::off) {
    // A captcha decision the policy lets pass was already left out when facts were resolved.
    d.crowdsec = c;
    d.retry_after_ns = c->until_ns - now_ns;
    note_with(trace, "crowdsec", "deny", [&] {
      return std::string(c->type_name()) + " " + c->value_text() + " (" +
             std::string(c->scenario()) + ")";
    });
    if (deny(d, route, route.crowdsec == Route::Crowdsec::shadow, Reason::crowdsec, "crowdsec")) {
      return false;
    }
  }
  if (route.tailnet) {
    const TailnetNode* node = facts.node != nullptr ? &facts.node->node : nullptr;
    if (const char* why = tailnet_refusal(*route.tailnet, node)) {
      note(trace, "tailnet", "deny", why);
      if (deny(d, route, route.tailnet->shadow, Reason::tailnet, "tailnet")) return false;
    } else {
      note_with(trace, "tailnet", "pass", [&] { return "node " + node->name; });
    }
  }
  if (route.geo) {
    if (ip.is_private_or_local() || route.geo->tailnet_ranges.contains(ip)) {
      note(trace, "geo", "pass", "private, loopback or tailnet address: not judged by country");
    } else if (const char* why = geo_refusal(*route.geo, facts)) {
      note(trace, "geo", "deny", why);
      if (deny(d, route, route.geo->shadow, Reason::geo, "geo")) return false;
    } else {
      note(trace, "geo", "pass");
    }
  }
  if (route.limits.empty()) return false;
  // A banning limit bans only on an enforced route and never an exempt client; a shadow route
  // records the would-be ban and bans nobody.
  const bool bans = std::any_of(route.limits.begin(), route.limits.end(),
                                [](const LimitPolicy& l) { return l.ban.has_value(); }) &&
                    !policy.bans.exempt.contains(ip);
  out.would_ban = bans;
  build_limit_calls(route, request, facts, policy.client_ip.ipv6_prefix, out.calls,
                    bans && route.mode == Mode::enforce ? &policy.bans.escalation : nullptr);
  if (out.calls.count == 0) {
    note(trace, "limits", "pass", "no limit applies (they are keyed on a username; none given)");
    return false;
  }
  return true;
}

void complete(PendingDecision& pending, const LimitOutcome& outcome, Trace* trace) {
  Decision& d = pending.decision;
  const Route& route = *d.route;
  d.remaining = outcome.remaining;
  // The store names calls; a call names its limit (limits that do not apply have no call).
  const auto limit_of = [&](int call) {
    return call >= 0 && static_cast<std::size_t>(call) < pending.calls.count
               ? pending.calls.calls[static_cast<std::size_t>(call)].limit
               : -1;
  };
  if (outcome.allowed) {
    d.limit_index = limit_of(outcome.nearest_index);
    const LimitPolicy* nearest = d.limit();
    d.near_limit = d.verdict == Verdict::allow && nearest != nullptr &&
                   outcome.remaining * 5 <= nearest->rate.burst;
    note_with(trace, "limits", "pass",
              [&] { return "remaining " + std::to_string(outcome.remaining); });
    return;
  }
  d.limit_index = limit_of(outcome.denied_index);
  d.retry_after_ns = outcome.retry_after_ns;
  const LimitPolicy* limit = d.limit();
  if (limit != nullptr && limit->ban && pending.would_ban) {
    // The denial bans: the store made the ban (or found it in force); a dry run or a shadow
    // route made none, and says what the first ban would last.
    d.retry_after_ns =
        outcome.ban_until_ns > 0 ? outcome.ban_until_ns - pending.now_ns : limit->ban->for_ns;
    d.ban_made = outcome.ban_made;
    note_with(trace, "limits", "deny", [&] {
      return limit->name + ": exhausted; banned for " +
             std::to_string(retry_after_seconds(d.retry_after_ns)) + "s" +
             (outcome.ban_count > 1 ? " (offence " + std::to_string(outcome.ban_count) + ")"
                                    : std::string());
    });
    deny(d, route, false, Reason::ban, "limit");
    return;
  }
  note_with(trace, "limits", "deny", [&] {
    return (limit != nullptr ? limit->name : std::string("?")) + ": retry after " +
           std::to_string(retry_after_seconds(outcome.retry_after_ns)) + "s";
  });
  deny(d, route, false, Reason::rate_limit, "limit");
}

Decision decide(const Policy& policy, const ForwardRequest& request, const Facts& facts,
                LimitStore& store, std::int64_t now_ns, bool dry_run, Trace* trace) {
  const Route& route = policy.match(request.host, request.path, request.method);
  PendingDecision pending;
  if (begin(policy, route, request, facts, now_ns, pending, trace)) {
    complete(pending,
             store.try_admit(pending.calls.view(), now_ns, dry_run).value_or(LimitOutcome{}),
             trace);
  }
  return pending.decision;
}

}  // namespace edgeguard
