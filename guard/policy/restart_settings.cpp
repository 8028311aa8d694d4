#include "guard/policy/restart_settings.h"

namespace edgeguard {

std::string restart_setting_change(const RestartSettings& a, const RestartSettings& b) {
  if (a == b) return {};
  if (a.listen != b.listen) return "listen";
  if (a.admin_listen != b.admin_listen) return "admin_listen";
  if (a.threads != b.threads) return "threads";

  const StoreSettings &s = a.store, &t = b.store;
  if (s.type != t.type) return "store.type";
  if (s.max_buckets != t.max_buckets) return "store.local.max_buckets";
  const RedisSettings &r = s.redis, &q = t.redis;
  if (r.address != q.address) return "store.redis.address";
  if (r.nodes != q.nodes) return "store.redis.nodes";
  if (r.username != q.username) return "store.redis.username";
  if (r.password_file != q.password_file) return "store.redis.password_file";
  if (r.db != q.db) return "store.redis.db";
  if (r.timeout_ns != q.timeout_ns) return "store.redis.timeout";
  if (r.on_error != q.on_error) return "store.redis.on_error";
  if (r.connections != q.connections) return "store.redis.connections";

  if (a.geoip.country_db != b.geoip.country_db) return "geoip.country_db";
  if (a.geoip.asn_db != b.geoip.asn_db) return "geoip.asn_db";
  if (a.geoip.country_field != b.geoip.country_field) return "geoip.country_field";

  const NodeSourceSettings &n = a.tailnet_nodes, &m = b.tailnet_nodes;
  if (n.format != m.format) return "tailnet.nodes.format";
  if (n.file != m.file) return "tailnet.nodes.file";
  if (n.command != m.command) return "tailnet.nodes.command";
  if (a.bans_max_active != b.bans_max_active) return "bans.max_active";
  if (a.failures_access_log != b.failures_access_log) return "failures.access_log.file";
  if (a.crowdsec.has_value() != b.crowdsec.has_value()) return "crowdsec";
  if (a.crowdsec && b.crowdsec) {
    const CrowdsecSettings &c = *a.crowdsec, &d = *b.crowdsec;
    if (c.lapi != d.lapi) return "crowdsec.lapi";
    if (c.api_key_file != d.api_key_file) return "crowdsec.api_key_file";
    if (c.refresh_ns != d.refresh_ns) return "crowdsec.refresh";
    if (c.scopes != d.scopes) return "crowdsec.scopes";
    if (c.captcha != d.captcha) return "crowdsec.captcha";
    if (c.report != d.report) return "crowdsec.report";
  }
  // operator== saw a difference that no line above names: still refuse.
  return "restart-only settings";
}

}  // namespace edgeguard
