#include "guard/pipeline/facts.h"

#include <array>
#include <cstring>

#include "guard/core/limit_key.h"

namespace edgeguard {
namespace {

// The longest ban in force on `route` among the request's subjects: the client's address (a
// ban by hand may name it on any route) and the subject of each limit of the route that bans.
std::int64_t banned_until(const Snapshot& snap, const Route& route, const ForwardRequest& request,
                          const Facts& facts, std::int64_t now_ns) {
  const Policy& policy = *snap.policy;
  if (snap.bans == nullptr || snap.bans->empty() || route.is_default) return 0;
  if (policy.bans.exempt.contains(facts.client_ip)) return 0;
  char ip[kMaxIpSubject];
  const std::string_view ip_subject(
      ip, format_ip_subject(facts.client_ip, policy.client_ip.ipv6_prefix, ip));
  std::int64_t until = snap.bans->banned_until(ip_subject, route.name, now_ns);
  std::array<char, 1024> buf;
  if (!facts.username.empty() && facts.username.size() + 5 <= buf.size()) {
    std::memcpy(buf.data(), "user:", 5);
    std::memcpy(buf.data() + 5, facts.username.data(), facts.username.size());
    until = std::max(until, snap.bans->banned_until({buf.data(), facts.username.size() + 5},
                                                    route.name, now_ns));
  }
  for (const LimitPolicy& limit : route.limits) {
    if (!limit.ban) continue;
    const std::size_t n =
        ban_subject(route, limit, request, facts, policy.client_ip.ipv6_prefix, buf);
    const std::string_view subject(buf.data(), n);
    if (n == 0 || subject == ip_subject) continue;
    until = std::max(until, snap.bans->banned_until(subject, route.name, now_ns));
  }
  return until;
}

}  // namespace

Facts resolve_facts(const Snapshot& snap, const Route& route, const ForwardRequest& request,
                    std::string_view username, std::int64_t now_ns, FactLookups lookups) {
  Facts facts;
  facts.client_ip = request.client_ip;
  facts.username = username;
  const bool all = lookups == FactLookups::all;
  const DecisionSet* crowdsec = snap.crowdsec.get();
  if (crowdsec != nullptr && (route.crowdsec == Route::Crowdsec::off || route.is_default)) {
    crowdsec = nullptr;
  }
  // Country and AS decisions are matched on GeoIP's facts: look them up when the set has any.
  const bool geo_for_crowdsec =
      crowdsec != nullptr &&
      crowdsec->count(DecisionScope::country) + crowdsec->count(DecisionScope::as) > 0;
  if (snap.geo && (all || route.geo || geo_for_crowdsec)) {
    facts.geo = snap.geo->lookup(facts.client_ip);
  }
  if (crowdsec != nullptr) {
    const std::string_view country(facts.geo.country, facts.geo.has_country() ? 2 : 0);
    const CrowdsecDecision* c = crowdsec->find(facts.client_ip, country, facts.geo.asn, now_ns);
    const auto& settings = snap.policy->settings.crowdsec;
    // `captcha: allow`: edgeguard cannot show a captcha, and the policy lets those pass.
    if (c != nullptr && c->type == DecisionType::captcha && settings &&
        settings->captcha == CaptchaAction::allow) {
      c = nullptr;
    }
    facts.crowdsec = c;
  }
  if (snap.nodes && (all || route.tailnet)) facts.node = snap.nodes->find_entry(facts.client_ip);
  facts.banned_until_ns = banned_until(snap, route, request, facts, now_ns);
  return facts;
}

}  // namespace edgeguard
