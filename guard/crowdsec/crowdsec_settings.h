#pragma once
// The `crowdsec:` section of the policy (SPEC section 9) as plain data, with its defaults, and
// the checks a loader runs on it. The policy loader fills it from YAML and reports a failed check
// at the key's file:line:col; the puller and reporter are built from it.
//
//   crowdsec:
//     lapi: http://127.0.0.1:8081
//     api_key_file: secrets/crowdsec-key
//     refresh: 10s
//     scopes: [ip, range]          # also country, as
//     captcha: deny                # deny | allow
//     report: {machine_id: edgeguard, password_file: secrets/crowdsec-machine}   # optional
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "guard/crowdsec/crowdsec_decision.h"

namespace edgeguard {

enum class CaptchaAction : std::uint8_t { deny, allow };

struct CrowdsecReportSettings {
  std::string machine_id;
  std::string password_file;
  bool operator==(const CrowdsecReportSettings&) const = default;
};

struct CrowdsecSettings {
  // CrowdSec's own default listen_uri. http only: LAPI is reached on loopback or the stack's
  // internal network (README, "CrowdSec").
  std::string lapi = "http://127.0.0.1:8080";
  std::string api_key_file;                  // required: `cscli bouncers add <name> -o raw`
  std::int64_t refresh_ns = 10'000'000'000;  // stream pull interval
  ScopeMask scopes = kDefaultScopes;
  CaptchaAction captcha = CaptchaAction::deny;
  std::optional<CrowdsecReportSettings> report;
  bool operator==(const CrowdsecSettings&) const = default;
};

// Where LAPI is: from `lapi`.
struct LapiEndpoint {
  std::string host;  // name or address, without brackets
  std::uint16_t port = 80;
  std::string base_path;  // "" or "/prefix" (LAPI behind a path-routing proxy); no trailing '/'
  std::string url;        // as written, for logs

  std::string host_header() const;  // "host:port", IPv6 in brackets
};

// "http://host[:port][/base]". https is refused with a message saying why.
std::optional<LapiEndpoint> parse_lapi_url(std::string_view text, std::string* error);

// Config spellings: scopes "ip", "range", "country", "as"; captcha "deny", "allow".
std::optional<DecisionScope> parse_scope_name(std::string_view name);
std::optional<CaptchaAction> parse_captcha_action(std::string_view name);
// The LAPI `scopes` query value for a mask: "ip,range" (LAPI matches scopes case-insensitively).
std::string scopes_query(ScopeMask scopes);

struct CrowdsecSettingsError {
  std::string key;      // the offending key under `crowdsec:`: "lapi", "report.machine_id", ...
  std::string message;  // what is wrong, for "FILE:LINE:COL: crowdsec.<key>: <message>"
};

inline constexpr std::int64_t kMinCrowdsecRefreshNs = 1'000'000'000;      // LAPI load
inline constexpr std::int64_t kMaxCrowdsecRefreshNs = 3'600'000'000'000;  // staleness

// The first problem found, or nullopt when the settings can be used. Files are not read here.
std::optional<CrowdsecSettingsError> validate_crowdsec_settings(const CrowdsecSettings& settings);

// Reads a secret file (API key, machine password); a trailing newline is not part of it. The
// error names the file, never its content.
bool read_secret_file(const std::string& path, std::string* secret, std::string* error);

}  // namespace edgeguard
