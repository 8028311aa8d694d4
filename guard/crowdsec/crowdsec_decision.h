#pragma once
// One CrowdSec decision as the request path sees it: what it applies to (an address, a network,
// a country or an AS), its remediation type, and until when it holds. The scenario, origin and
// type name are shared between the many decisions that carry the same ones (a community
// blocklist brings tens of thousands with one scenario), so a decision is 48 bytes.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "guard/net/ip_address.h"

namespace edgeguard {

// LAPI's scopes, in the order the decision set sorts them.
enum class DecisionScope : std::uint8_t { ip, range, country, as };
inline constexpr int kDecisionScopeCount = 4;

// A bit per DecisionScope: the scopes configured (`scopes: [ip, range]`) and asked of LAPI.
using ScopeMask = std::uint8_t;
constexpr ScopeMask scope_bit(DecisionScope s) {
  return static_cast<ScopeMask>(1u << static_cast<unsigned>(s));
}
inline constexpr ScopeMask kDefaultScopes =
    scope_bit(DecisionScope::ip) | scope_bit(DecisionScope::range);

// `ban` and any type edgeguard does not know (CrowdSec allows custom ones, e.g. `throttle`)
// deny, as CrowdSec's own HTTP bouncers do; `captcha` denies or passes per `captcha:`. The enum
// order is the precedence: a ban outranks a captcha on the same client.
enum class DecisionType : std::uint8_t { ban, other, captcha };

// Strings many decisions share; owned by the DecisionSet that holds the decision.
struct DecisionText {
  std::string type;      // as LAPI wrote it: "ban", "captcha", ...
  std::string scenario;  // "crowdsecurity/ssh-bf", "manual 'ban' from 'm'", ...
  std::string origin;    // "crowdsec", "cscli", "CAPI", "lists", "edgeguard"
};

// The origin of the decisions edgeguard's reporter posts (its own bans).
inline constexpr std::string_view kEdgeguardOrigin = "edgeguard";

struct CrowdsecDecision {
  IpAddress address;          // ip: the address; range: the network address
  std::int64_t until_ns = 0;  // monotonic clock (monotonic_ns()); active while now < until_ns
  std::int64_t id = 0;        // LAPI's decision id (what `deleted` names)
  const DecisionText* text = nullptr;
  std::uint32_t target = 0;  // as: the AS number; country: the two letters (see country())
  DecisionScope scope = DecisionScope::ip;
  DecisionType type = DecisionType::ban;
  std::uint8_t prefix = 0;  // range: prefix length in the address's family

  bool active(std::int64_t now_ns) const { return now_ns < until_ns; }
  std::string_view scenario() const { return text->scenario; }
  std::string_view origin() const { return text->origin; }
  std::string_view type_name() const { return text->type; }
  std::uint32_t asn() const { return target; }
  std::array<char, 2> country() const {
    return {static_cast<char>(target >> 8), static_cast<char>(target & 0xff)};
  }
  // "198.51.100.7", "10.0.0.0/8", "FR", "64496": for logs and answers, not the request path.
  std::string value_text() const;
};

// Packs an upper-case two-letter code the way CrowdsecDecision::target holds it.
constexpr std::uint32_t pack_country(char a, char b) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(a)) << 8) |
         static_cast<unsigned char>(b);
}

std::string_view decision_scope_name(DecisionScope scope);  // LAPI's spelling: "Ip", "Range", ...

}  // namespace edgeguard
