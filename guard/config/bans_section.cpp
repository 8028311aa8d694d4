#include "guard/config/bans_section.h"

namespace edgeguard::config {
namespace {

constexpr std::int64_t kYear = 365LL * 24 * 3600 * 1'000'000'000;

}  // namespace

void read_bans(const YAML::Node& n, const IpSets& sets, BanSettings& b, std::size_t& max_active,
               const SettingsReader& settings) {
  MapReader m(n, "bans");
  settings.note("bans", n);
  if (auto v = m.get("exempt")) b.exempt = sets.set(v, "bans.exempt");
  if (auto v = m.get("escalation")) {
    MapReader e(v, "bans.escalation");
    if (auto f = e.get("factor")) {
      b.escalation.factor = as_number(f, "bans.escalation.factor");
      if (b.escalation.factor < 1 || b.escalation.factor > 100) {
        fail(f, "bans.escalation.factor must be from 1 (no escalation) to 100");
      }
    }
    if (auto x = e.get("max")) {
      b.escalation.max_ns = as_duration(x, "bans.escalation.max");
      if (b.escalation.max_ns > kYear) fail(x, "bans.escalation.max is at most 365d");
    }
    if (auto x = e.get("memory")) {
      b.escalation.memory_ns = as_duration(x, "bans.escalation.memory");
      if (b.escalation.memory_ns > kYear) fail(x, "bans.escalation.memory is at most 365d");
    }
    e.finish();
  }
  if (auto v = m.get("max_active")) {
    max_active = static_cast<std::size_t>(as_int(v, "bans.max_active", 16, 10'000'000));
    settings.note("bans.max_active", v);
  }
  m.finish();
}

BanRule read_ban_rule(const YAML::Node& n, const std::string& what) {
  MapReader m(n, what);
  BanRule r;
  if (auto v = m.get("for")) {
    r.for_ns = as_duration(v, what + ".for");
    if (r.for_ns > kYear) fail(v, what + ".for is at most 365d");
  }
  if (auto v = m.get("scope")) {
    const std::string scope = as_string(v, what + ".scope");
    if (scope != "route" && scope != "all") fail(v, what + ".scope must be route or all");
    r.scope_all = scope == "all";
  }
  m.finish();
  return r;
}

}  // namespace edgeguard::config
