#include "guard/http/response.h"

#include "guard/clock/clock.h"
#include "guard/text/rfc3339.h"
#include "guard/text/sized_text.h"

namespace edgeguard {
namespace {

using sized_text::append;

template <class Pieces>
void status_line(Pieces& t, int status) {
  t.text("HTTP/1.1 ");
  t.number(status);
  t.text(" ");
  t.text(status_text(status));
  t.text("\r\n");
}

// Values from node lists or the policy lose their control bytes (write_without_controls).
template <class Pieces>
void header(Pieces& t, std::string_view name, std::string_view value) {
  t.text(name);
  t.text(": ");
  t.text_without_controls(value);
  t.text("\r\n");
}

template <class Pieces>
void number_header(Pieces& t, std::string_view name, std::int64_t value) {
  t.text(name);
  t.text(": ");
  t.number(value);
  t.text("\r\n");
}

// The headers every response ends with, the blank line, and the body.
template <class Pieces>
void finish(Pieces& t, std::string_view body, bool keep_alive, bool problem) {
  if (problem) t.text("Content-Type: application/problem+json\r\nCache-Control: no-store\r\n");
  number_header(t, "Content-Length", static_cast<std::int64_t>(body.size()));
  if (!keep_alive) t.text("Connection: close\r\n");
  t.text("\r\n");
  t.text(body);
}

// A problem+json body's first members: type, title and status.
template <class Pieces>
void problem_start(Pieces& t, std::string_view title, int status) {
  t.text("{\"type\":\"about:blank\",\"title\":");
  t.json(title);
  t.text(",\"status\":");
  t.number(status);
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
  const std::string_view route = d.route != nullptr ? std::string_view(d.route->name) : "default";
  if (d.allowed()) {
    append(out, [&](auto& t) {
      status_line(t, status);
      header(t, "X-Edgeguard-Route", route);
      if (facts.geo.has_country()) header(t, "X-Edgeguard-Country", facts.geo.country);
      if (facts.geo.has_asn()) number_header(t, "X-Edgeguard-Asn", facts.geo.asn);
      if (const DirectoryEntry* entry = facts.node) {
        const TailnetNode& n = entry->node;
        header(t, "Tailscale-User", n.user.empty() ? n.login : n.user);
        header(t, "Tailscale-Login", n.login);
        header(t, "Tailscale-Name", n.name);
        header(t, "Tailscale-Node", n.id);
        header(t, "Tailscale-Tags", entry->tags_header);
      }
      finish(t, {}, keep_alive, false);
    });
    return;
  }

  // Read once, before the two passes: both must see the same values.
  const LimitPolicy* const limit = d.limit();
  const bool rate_limited = d.reason == Reason::rate_limit;
  const bool banned = d.reason == Reason::ban;
  const bool retry_known = rate_limited || banned;
  const std::int64_t retry = retry_known ? retry_after_seconds(d.retry_after_ns) : 0;
  // Until when, as Unix time: the decision's clock is monotonic, so measure from now. On the
  // stack: a banned client's flood formats without allocating.
  char until[kRfc3339Bytes] = {};
  if (banned) write_rfc3339(until, unix_ns() + d.retry_after_ns);
  const CrowdsecDecision* const crowdsec = d.reason == Reason::crowdsec ? d.crowdsec : nullptr;

  // Reused per thread: a flood of denials formats without allocating.
  thread_local std::string body;
  body.clear();
  append(body, [&](auto& t) {
    problem_start(t, rate_limited ? "Too Many Requests" : status_text(status), status);
    t.text(",\"reason\":");
    t.json(to_string(d.reason));
    t.text(",\"route\":");
    t.json(route);
    if (rate_limited) {
      t.text(",\"limit\":");
      t.json(limit != nullptr ? std::string_view(limit->name) : "");
      t.text(",\"retry_after\":");
      t.number(retry);
    }
    if (banned) {
      t.text(",\"until\":");
      t.json(std::string_view(until, sizeof until));
      t.text(",\"retry_after\":");
      t.number(retry);
      if (limit != nullptr) {
        t.text(",\"limit\":");
        t.json(limit->name);
      }
    }
    if (crowdsec != nullptr) {
      t.text(",\"scenario\":");
      t.json(crowdsec->scenario());
      t.text(",\"decision\":");
      t.json(crowdsec->type_name());
    }
    t.text(",\"detail\":");
    t.json(deny_detail(d));
    t.text("}");
  });
  append(out, [&](auto& t) {
    status_line(t, status);
    header(t, "X-Edgeguard-Route", route);
    if (retry_known) number_header(t, "Retry-After", retry);
    if (rate_limited && limit != nullptr) {
      header(t, "RateLimit-Policy", limit->rate_limit_policy);
      t.text("RateLimit: \"");
      t.text(limit->name);
      t.text("\";r=0;t=");
      t.number(retry);
      t.text("\r\n");
    }
    finish(t, body, keep_alive, true);
  });
}

void write_bad_request(std::string& out, const BadRequest& bad, bool keep_alive) {
  std::string detail(bad.header);
  detail += ' ';
  detail += bad.problem;
  std::string body;
  append(body, [&](auto& t) {
    problem_start(t, "Bad Request", 400);
    t.text(",\"header\":");
    t.json(bad.header);
    t.text(",\"detail\":");
    t.json(detail);
    t.text("}");
  });
  append(out, [&](auto& t) {
    status_line(t, 400);
    finish(t, body, keep_alive, true);
  });
}

void write_protocol_error(std::string& out, int status, std::string_view detail) {
  std::string body;
  append(body, [&](auto& t) {
    problem_start(t, status_text(status), status);
    t.text(",\"detail\":");
    t.json(detail);
    t.text("}");
  });
  append(out, [&](auto& t) {
    status_line(t, status);
    finish(t, body, false, true);
  });
}

}  // namespace edgeguard
