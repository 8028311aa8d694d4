#include "guard/config/failures_section.h"

#include "guard/config/admin_reader.h"

namespace edgeguard::config {

void read_failures(const YAML::Node& n, const SettingsReader& settings, FailureSettings& f,
                   std::string& access_log_file) {
  MapReader m(n, "failures");
  if (auto v = m.get("webhook")) {
    MapReader w(v, "failures.webhook");
    if (auto t = w.get("token_file")) {
      f.webhook_token_file = as_path(t, "failures.webhook.token_file", settings.base_dir());
      f.webhook_token = read_token_file(t, "failures.webhook.token_file", f.webhook_token_file);
    } else {
      fail(v, "failures.webhook needs token_file (Authentik sends it as a Bearer token)");
    }
    w.finish();
  }
  if (auto v = m.get("access_log")) {
    MapReader a(v, "failures.access_log");
    if (auto file = a.get("file")) {
      access_log_file = as_path(file, "failures.access_log.file", settings.base_dir());
      settings.note("failures.access_log.file", file);
    } else {
      fail(v, "failures.access_log needs file (Traefik's JSON access log)");
    }
    if (auto s = a.get("status")) {
      f.access_log_statuses.clear();
      for (const auto& code : as_list(s, "failures.access_log.status")) {
        f.access_log_statuses.push_back(
            static_cast<int>(as_int(code, "failures.access_log.status", 100, 599)));
      }
      if (f.access_log_statuses.empty()) fail(s, "failures.access_log.status lists no status");
    }
    a.finish();
  }
  m.finish();
}

}  // namespace edgeguard::config
