#include "guard/failures/failure_webhook.h"

#include "guard/clock/clock.h"
#include "guard/log/event_log.h"
#include "guard/request/login_name.h"

namespace edgeguard {
namespace {

namespace http = boost::beast::http;

const Route* route_named(const Policy& policy, std::string_view name) {
  for (const Route& r : policy.routes) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// `index`: the report's place in a batch ("[2]"), empty for a single report.
std::optional<FailureReport> report_of(const std::vector<JsonField>& fields, const Policy& policy,
                                       const std::string& index, FieldError* error) {
  auto fail = [&](const std::string& field, std::string detail) -> std::optional<FailureReport> {
    std::string where = index;
    if (!index.empty() && !field.empty()) where += '.';
    where += field;
    *error = {std::move(where), std::move(detail)};
    return std::nullopt;
  };
  FailureReport r;
  bool has_route = false;
  for (const JsonField& f : fields) {
    const bool known =
        f.name == "route" || f.name == "client_ip" || f.name == "username" || f.name == "event";
    if (!known) {
      return fail(printable_client_text(f.name), "unknown field " + quote_client_text(f.name) +
                                                     " (route, client_ip, username, event)");
    }
    if (f.value.kind != JsonScalar::Kind::string) {
      return fail(f.name, f.name + " must be a string, not " + to_string(f.value.kind));
    }
    const std::string& v = f.value.text;
    if (f.name == "route") {
      const Route* route = route_named(policy, v);
      if (route == nullptr) {
        return fail("route", "route " + quote_client_text(v) + " is not a route of the policy");
      }
      if (route->failure_limits.empty()) {
        return fail("route", "route " + quote_client_text(v) + " has no failure_limits");
      }
      r.route = v;
      has_route = true;
    } else if (f.name == "client_ip") {
      // Authentik writes the address it saw; an empty one means it did not know it.
      if (!v.empty()) {
        r.client_ip = IpAddress::parse(v);
        if (!r.client_ip) {
          return fail("client_ip", "client_ip " + quote_client_text(v) + " is not an address");
        }
      }
    } else if (f.name == "username") {
      if (!v.empty()) {
        std::array<char, kMaxUsernameBytes> buf;
        if (canonical_username(v, buf).empty()) {
          return fail("username", "username must be 1 to " + std::to_string(kMaxUsernameBytes) +
                                      " bytes without control characters");
        }
        r.username = v;
      }
    } else if (v == "login") {
      r.success = true;
    } else if (v != "login_failed") {
      return fail("event",
                  "event is login_failed (the default) or login, not " + quote_client_text(v));
    }
  }
  if (!has_route) return fail("route", "route is required");
  if (!r.client_ip && r.username.empty()) {
    return fail("", "a report names client_ip, username or both");
  }
  if (r.success && r.username.empty()) {
    return fail("username", "a login (success) resets an account's failures: username is required");
  }
  return r;
}

}  // namespace

std::optional<std::vector<FailureReport>> parse_failure_reports(std::string_view body,
                                                                const Policy& policy,
                                                                FieldError* error) {
  const bool batch = body.find_first_not_of(" \t\r\n") != std::string_view::npos &&
                     body[body.find_first_not_of(" \t\r\n")] == '[';
  auto objects = parse_json_field_batch(body, kMaxFailureBatch, error);
  if (!objects) return std::nullopt;
  std::vector<FailureReport> reports;
  reports.reserve(objects->size());
  for (std::size_t i = 0; i < objects->size(); ++i) {
    std::string index;
    if (batch) index.append("[").append(std::to_string(i)).append("]");
    auto r = report_of((*objects)[i], policy, index, error);
    if (!r) return std::nullopt;
    reports.push_back(std::move(*r));
  }
  return reports;
}

void add_failure_endpoint(AdminRouter& router, FailureRecorder& recorder) {
  router.add({http::verb::post, "/v1/failures", AdminAuth::bearer([](const Policy& p) {
                return std::string_view(p.failures.webhook_token);
              }),
              /*json_body=*/true, [&recorder](const AdminCall& call, AdminRespond respond) {
                FieldError error;
                auto reports = parse_failure_reports(call.body, *call.policy, &error);
                if (!reports) return respond(problem(400, error.detail, error.field));
                std::size_t applied = 0;
                const std::int64_t now = monotonic_ns();
                for (const FailureReport& r : *reports) {
                  if (recorder.record(r, FailureSource::webhook, now) ==
                      FailureRecorder::Outcome::charged) {
                    ++applied;
                  }
                }
                log_event("info", "failures_reported",
                          {{"reports", reports->size()}, {"applied", applied}});
                respond(json_response(202, "{\"applied\":" + std::to_string(applied) + "}"));
              }});
}

}  // namespace edgeguard
