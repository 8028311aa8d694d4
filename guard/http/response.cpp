#include "guard/http/response.h"

#include <charconv>

#include "guard/clock/clock.h"
#include "guard/log/json_string.h"
#include "guard/text/rfc3339.h"

namespace edgeguard {
namespace {

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

void status_line(std::string& out, int status) {
  out += "HTTP/1.1 ";
  append_int(out, status);
  out += ' ';
  out += status_text(status);
  out += "\r\n";
}

// Header values from node lists or the policy: drop control characters so nothing a node list
// holds can split a header (response splitting).
void header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  for (char c : value) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
  }
  out += "\r\n";
}

void finish(std::string& out, std::string_view body, bool keep_alive, bool problem) {
  if (problem) out += "Content-Type: application/problem+json\r\nCache-Control: no-store\r\n";
  out += "Content-Length: ";
  append_int(out, static_cast<std::int64_t>(body.size()));
  out += "\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  out += body;
}

const char* deny_detail(const Decision& d) {
  switch (d.reason) {
    case Reason::caller:
      return "the caller is not in callers: its headers are not trusted";
    case Reason::ip:
      return "the client address is not allowed on this route";
    case Reason::tailnet:
      return "the client is not an enrolled tailnet node allowed on this route";
    case Reason::geo:
      return "the client's country or network is not allowed on this route";
    case Reason::default_deny:
      return "no route matches and the default is deny";
    case Reason::ban:
      return "the client is banned from this route for a while";
    case Reason::crowdsec:
      return "CrowdSec has a decision against the client";
    case Reason::rate_limit:
      return "rate limit exceeded";
    case Reason::none:
      break;
  }
  return "denied";
}

}  // namespace

const char* status_text(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return status < 400 ? "OK" : "Error";
  }
}

void write_decision(std::string& out, const Decision& d, const Facts& facts, bool keep_alive) {
  const int status = d.status();
  status_line(out, status);
  const std::string_view route = d.route != nullptr ? std::string_view(d.route->name) : "default";
  header(out, "X-Edgeguard-Route", route);
  if (d.allowed()) {
    if (facts.geo.has_country()) header(out, "X-Edgeguard-Country", facts.geo.country);
    if (facts.geo.has_asn()) {
      out += "X-Edgeguard-Asn: ";
      append_int(out, facts.geo.asn);
      out += "\r\n";
    }
    if (const DirectoryEntry* entry = facts.node) {
      const TailnetNode& n = entry->node;
      header(out, "Tailscale-User", n.user.empty() ? n.login : n.user);
      header(out, "Tailscale-Login", n.login);
      header(out, "Tailscale-Name", n.name);
      header(out, "Tailscale-Node", n.id);
      header(out, "Tailscale-Tags", entry->tags_header);
    }
    finish(out, {}, keep_alive, false);
    return;
  }

  // Reused per thread: a flood of denials formats without allocating.
  thread_local std::string body;
  body.clear();
  body += "{\"type\":\"about:blank\",\"title\":";
  append_json_string(body,
                     d.reason == Reason::rate_limit ? "Too Many Requests" : status_text(status));
  body += ",\"status\":";
  append_int(body, status);
  body += ",\"reason\":";
  append_json_string(body, to_string(d.reason));
  body += ",\"route\":";
  append_json_string(body, route);
  if (d.reason == Reason::rate_limit) {
    const std::int64_t retry = retry_after_seconds(d.retry_after_ns);
    const LimitPolicy* limit = d.limit();
    body += ",\"limit\":";
    append_json_string(body, limit != nullptr ? std::string_view(limit->name) : "");
    body += ",\"retry_after\":";
    append_int(body, retry);
    out += "Retry-After: ";
    append_int(out, retry);
    out += "\r\n";
    if (limit != nullptr) {
      header(out, "RateLimit-Policy", limit->rate_limit_policy);
      out += "RateLimit: \"";
      out += limit->name;
      out += "\";r=0;t=";
      append_int(out, retry);
      out += "\r\n";
    }
  }
  if (d.reason == Reason::ban) {
    // Until when, as Unix time: the decision's clock is monotonic, so measure from now.
    const std::int64_t retry = retry_after_seconds(d.retry_after_ns);
    body += ",\"until\":";
    append_json_string(body, format_rfc3339(unix_ns() + d.retry_after_ns));
    body += ",\"retry_after\":";
    append_int(body, retry);
    if (const LimitPolicy* limit = d.limit()) {
      body += ",\"limit\":";
      append_json_string(body, limit->name);
    }
    out += "Retry-After: ";
    append_int(out, retry);
    out += "\r\n";
  }
  if (d.reason == Reason::crowdsec && d.crowdsec != nullptr) {
    body += ",\"scenario\":";
    append_json_string(body, d.crowdsec->scenario());
    body += ",\"decision\":";
    append_json_string(body, d.crowdsec->type_name());
  }
  body += ",\"detail\":";
  append_json_string(body, deny_detail(d));
  body += "}";
  finish(out, body, keep_alive, true);
}

void write_bad_request(std::string& out, const BadRequest& bad, bool keep_alive) {
  status_line(out, 400);
  std::string body =
      "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,\"header\":";
  append_json_string(body, bad.header);
  body += ",\"detail\":";
  std::string detail(bad.header);
  detail += ' ';
  detail += bad.problem;
  append_json_string(body, detail);
  body += "}";
  finish(out, body, keep_alive, true);
}

void write_protocol_error(std::string& out, int status, std::string_view detail) {
  status_line(out, status);
  std::string body = "{\"type\":\"about:blank\",\"title\":";
  append_json_string(body, status_text(status));
  body += ",\"status\":";
  append_int(body, status);
  body += ",\"detail\":";
  append_json_string(body, detail);
  body += "}";
  finish(out, body, false, true);
}

}  // namespace edgeguard
