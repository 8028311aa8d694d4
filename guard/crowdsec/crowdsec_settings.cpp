#include "guard/crowdsec/crowdsec_settings.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "guard/net/host_port.h"

namespace edgeguard {
namespace {

constexpr std::size_t kMaxSecretBytes = 4096;

bool has_control_or_space(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

std::string LapiEndpoint::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<LapiEndpoint> parse_lapi_url(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<LapiEndpoint> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  constexpr std::string_view kHttp = "http://";
  if (text.starts_with("https://")) {
    return fail(
        "https is not supported: reach LAPI over http on loopback or the stack's internal "
        "network");
  }
  if (!text.starts_with(kHttp)) return fail("must start with http://");
  std::string_view rest = text.substr(kHttp.size());
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return fail("user info in the URL is not supported (the key comes from api_key_file)");
  }
  if (path.find_first_of("?#") != std::string_view::npos) {
    return fail("no query or fragment: the base URL of LAPI");
  }
  if (has_control_or_space(path) || has_control_or_space(authority)) {
    return fail("spaces or control characters in the URL");
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  LapiEndpoint endpoint;
  endpoint.url = std::string(text);
  endpoint.base_path = std::string(path);
  HostPortError why = HostPortError::none;
  if (auto hp = parse_host_port(authority, &why)) {
    if (hp->port == 0) return fail("port 0");
    endpoint.host = hp->host;
    endpoint.port = hp->port;
  } else if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']') {
    endpoint.host = std::string(authority.substr(1, authority.size() - 2));  // port 80
  } else if (why == HostPortError::no_port && !authority.empty() &&
             authority.find(':') == std::string_view::npos) {
    endpoint.host = std::string(authority);  // http's port 80
  } else {
    return fail("expected http://HOST:PORT");
  }
  if (endpoint.host.empty()) return fail("no host");
  return endpoint;
}

std::optional<DecisionScope> parse_scope_name(std::string_view name) {
  if (name == "ip") return DecisionScope::ip;
  if (name == "range") return DecisionScope::range;
  if (name == "country") return DecisionScope::country;
  if (name == "as") return DecisionScope::as;
  return std::nullopt;
}

std::optional<CaptchaAction> parse_captcha_action(std::string_view name) {
  if (name == "deny") return CaptchaAction::deny;
  if (name == "allow") return CaptchaAction::allow;
  return std::nullopt;
}

std::string scopes_query(ScopeMask scopes) {
  static constexpr std::string_view kNames[kDecisionScopeCount] = {"ip", "range", "country", "as"};
  std::string out;
  for (int i = 0; i < kDecisionScopeCount; ++i) {
    if ((scopes & scope_bit(static_cast<DecisionScope>(i))) == 0) continue;
    if (!out.empty()) out += ',';
    out += kNames[i];
  }
  return out;
}

std::optional<CrowdsecSettingsError> validate_crowdsec_settings(const CrowdsecSettings& s) {
  std::string why;
  if (!parse_lapi_url(s.lapi, &why)) return CrowdsecSettingsError{"lapi", why};
  if (s.api_key_file.empty()) {
    return CrowdsecSettingsError{"api_key_file",
                                 "required: a file holding the bouncer key (cscli bouncers add)"};
  }
  if (s.refresh_ns < kMinCrowdsecRefreshNs || s.refresh_ns > kMaxCrowdsecRefreshNs) {
    return CrowdsecSettingsError{"refresh", "must be between 1s and 1h"};
  }
  if (s.scopes == 0) {
    return CrowdsecSettingsError{"scopes", "at least one of ip, range, country, as"};
  }
  if (s.scopes >= (1u << kDecisionScopeCount)) {
    return CrowdsecSettingsError{"scopes", "unknown scope"};
  }
  if (s.report) {
    if (s.report->machine_id.empty()) {
      return CrowdsecSettingsError{"report.machine_id",
                                   "required: the machine registered with cscli machines add"};
    }
    if (has_control_or_space(s.report->machine_id)) {
      return CrowdsecSettingsError{"report.machine_id", "no spaces or control characters"};
    }
    if (s.report->password_file.empty()) {
      return CrowdsecSettingsError{"report.password_file",
                                   "required: a file holding the machine's password"};
    }
  }
  return std::nullopt;
}

bool read_secret_file(const std::string& path, std::string* secret, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string value = text.str();
  if (value.size() > kMaxSecretBytes) {
    *error = path + ": larger than " + std::to_string(kMaxSecretBytes) + " bytes";
    return false;
  }
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  if (value.empty()) {
    *error = path + " is empty";
    return false;
  }
  // The value goes into an HTTP header or a JSON body: a stray byte would break either.
  for (const char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      *error = path + ": control characters in the secret";
      return false;
    }
  }
  *secret = std::move(value);
  return true;
}

}  // namespace edgeguard
