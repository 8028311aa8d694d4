#pragma once
// What the reporter sends LAPI, as pure functions: the watcher login and the alerts that carry
// edgeguard's bans as decisions. One alert per ban (LAPI's POST /v1/alerts takes an array):
//   {"scenario": "edgeguard/<route>/<limit>", "scenario_hash": "", "scenario_version": "",
//    "message": "...", "events_count": 1, "start_at": RFC 3339, "stop_at": RFC 3339,
//    "capacity": 0, "leakspeed": "0", "simulated": false, "events": [], "remediation": true,
//    "source": {"scope": "Ip", "value": "198.51.100.7", "ip": "198.51.100.7"},
//    "decisions": [{"duration": "15m0s", "origin": "edgeguard", "scenario": "edgeguard/...",
//                   "scope": "Ip", "type": "ban", "value": "198.51.100.7"}]}
// (the fields LAPI's swagger requires; accepted by Debian's crowdsec 1.4.6). LAPI sets a
// decision's end to the alert's stop_at plus its duration, so stop_at is the moment of the ban
// and the duration the ban's, however late the alert is posted. An empty
// scenario_hash makes CrowdSec class the alert as a custom scenario: shared with its central
// API only while the LAPI's console option share_custom_scenarios is on (README).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgeguard {

// An address or a network, canonical: "198.51.100.7", "2001:db8:1::/64".
struct BanSubject {
  std::string value;
  bool range = false;
};
// "198.51.100.7", "2001:db8::1", "2001:db8:1::/64", with or without the bans' "ip:" prefix. A
// full-length prefix is an address. nullopt for anything else (user:..., other keys): CrowdSec's
// bouncers enforce addresses and ranges only.
std::optional<BanSubject> parse_ban_subject(std::string_view text);

struct BanReport {
  BanSubject subject;
  std::string route, limit;
  std::int64_t duration_ns = 0;        // the ban's length
  std::int64_t banned_at_unix_ns = 0;  // wall clock; the alert's start_at and stop_at
};

// "edgeguard/<route>/<limit>"
std::string ban_scenario(std::string_view route, std::string_view limit);
std::string alerts_body(std::span<const BanReport> bans);
std::string login_body(std::string_view machine_id, std::string_view password,
                       std::span<const std::string> scenarios);

struct LoginAnswer {
  std::string token;
  std::int64_t expire_unix_s = 0;  // 0 when LAPI's `expire` did not parse
};
std::optional<LoginAnswer> parse_login_answer(std::string_view body);

// "2026-11-30T18:39:13Z", with fractions or a numeric offset too; nullopt when not RFC 3339.
std::optional<std::int64_t> parse_rfc3339_unix_s(std::string_view text);

}  // namespace edgeguard
