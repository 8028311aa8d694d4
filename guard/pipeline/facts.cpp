#include "guard/pipeline/facts.h"

#include <array>
#include <cstring>

#include "guard/core/limit_key.h"

namespace edgeguard {
namespace {

// Calls `visit(subject)` for each of the request's subjects a ban on `route` may name: the
// client's address (a ban by hand may name it on any route), its login name, and the subject of
// each limit of the route that bans. None for an exempt client or the default route. One list
// for the request path and for explain, so both look for the same bans.
template <typename Visit>
void visit_ban_subjects(const Snapshot& snap, const Route& route, const ForwardRequest& request,
                        const Facts& facts, Visit&& visit) {
  const Policy& policy = *snap.policy;
  if (route.is_default || policy.bans.exempt.contains(facts.client_ip)) return;
  char ip[kMaxIpSubject];
  const std::string_view ip_subject(
      ip, format_ip_subject(facts.client_ip, policy.client_ip.ipv6_prefix, ip));
  visit(ip_subject);
  std::array<char, 1024> buf;
  if (!facts.username.empty() && facts.username.size() + 5 <= buf.size()) {
    std::memcpy(buf.data(), "user:", 5);
    std::memcpy(buf.data() + 5, facts.username.data(), facts.username.size());
    visit(std::string_view(buf.data(), facts.username.size() + 5));
  }
  for (const LimitPolicy& limit : route.limits) {
    if (!limit.ban) continue;
    const std::size_t n =
        ban_subject(route, limit, request, facts, policy.client_ip.ipv6_prefix, buf);
    const std::string_view subject(buf.data(), n);
    if (n == 0 || subject == ip_subject) continue;
    visit(subject);
  }
}

// The end of the longest ban in force on `route` among the request's subjects.
std::int64_t banned_until(const Snapshot& snap, const Route& route, const ForwardRequest& request,
                          const Facts& facts, std::int64_t now_ns) {
  if (snap.bans == nullptr || snap.bans->empty()) return 0;
  std::int64_t until = 0;
  visit_ban_subjects(snap, route, request, facts, [&](std::string_view subject) {
    until = std::max(until, snap.bans->banned_until(subject, route.name, now_ns));
  });
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

std::optional<Ban> find_ban(const Snapshot& snap, const Route& route, const ForwardRequest& request,
                            const Facts& facts, std::int64_t now_ns) {
  std::optional<Ban> found;
  if (snap.bans == nullptr || snap.bans->empty()) return found;
  visit_ban_subjects(snap, route, request, facts, [&](std::string_view subject) {
    auto ban = snap.bans->find(subject, route.name, now_ns);
    if (ban && (!found || ban->until_ns > found->until_ns)) found = std::move(ban);
  });
  return found;
}

}  // namespace edgeguard
