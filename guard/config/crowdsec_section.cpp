#include "guard/config/crowdsec_section.h"

namespace edgeguard::config {

void read_crowdsec(const YAML::Node& n, const SettingsReader& settings, const std::string& base_dir,
                   CrowdsecSettings& c) {
  MapReader m(n, "crowdsec");
  settings.note("crowdsec", n);
  // Each key's node, so a failed check points at the key it names.
  std::map<std::string, YAML::Node> at;
  if (auto v = m.get("lapi")) {
    c.lapi = as_string(v, "crowdsec.lapi");
    at["lapi"] = v;
  }
  if (auto v = m.get("api_key_file")) {
    c.api_key_file = as_path(v, "crowdsec.api_key_file", base_dir);
    at["api_key_file"] = v;
  } else {
    fail(n, "crowdsec needs api_key_file (the bouncer key: cscli bouncers add NAME -o raw)");
  }
  if (auto v = m.get("refresh")) {
    c.refresh_ns = as_duration(v, "crowdsec.refresh");
    at["refresh"] = v;
  }
  if (auto v = m.get("scopes")) {
    c.scopes = 0;
    for (const auto& s : as_list(v, "crowdsec.scopes")) {
      const auto scope = parse_scope_name(as_string(s, "crowdsec.scopes"));
      if (!scope) fail(s, "crowdsec.scopes takes ip, range, country and as");
      c.scopes |= scope_bit(*scope);
    }
    at["scopes"] = v;
  }
  if (auto v = m.get("captcha")) {
    const auto action = parse_captcha_action(as_string(v, "crowdsec.captcha"));
    if (!action) fail(v, "crowdsec.captcha must be deny or allow");
    c.captcha = *action;
    at["captcha"] = v;
  }
  if (auto v = m.get("report")) {
    MapReader r(v, "crowdsec.report");
    CrowdsecReportSettings report;
    if (auto id = r.get("machine_id")) {
      report.machine_id = as_string(id, "crowdsec.report.machine_id");
      at["report.machine_id"] = id;
    }
    if (auto pw = r.get("password_file")) {
      report.password_file = as_path(pw, "crowdsec.report.password_file", base_dir);
      at["report.password_file"] = pw;
    }
    r.finish();
    c.report = std::move(report);
    at["report"] = v;
  }
  m.finish();
  if (auto problem = validate_crowdsec_settings(c)) {
    auto it = at.find(problem->key);
    fail(it != at.end() ? it->second : n, "crowdsec." + problem->key + ": " + problem->message);
  }
}

}  // namespace edgeguard::config
