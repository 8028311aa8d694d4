#include "guard/admin/ban_endpoints.h"

#include "guard/admin/ban_request.h"
#include "guard/text/rfc3339.h"
#include "guard/text/sized_text.h"

namespace edgeguard {
namespace {

namespace http = boost::beast::http;

AdminResponse unavailable() {
  return problem(503, "bans are not available in this process (no ban store is wired)");
}

AdminResponse store_error(std::string_view what, const std::string& error) {
  return problem(503, std::string(what) + ": " + error);
}

void list_bans(BanAuthority& bans, const AdminRespond& respond) {
  std::string body = "{\"bans\":[";
  bool first = true;
  for (const Ban& ban : bans.list()) {
    if (!first) body += ',';
    first = false;
    append_ban_json(body, ban);
  }
  body += "]}";
  respond(json_response(200, std::move(body)));
}

void make_ban(BanAuthority& bans, const AdminCall& call, AdminRespond respond) {
  FieldError error;
  auto request = parse_ban_request(call.body, *call.policy, &error);
  if (!request) return respond(problem(400, error.detail, error.field));
  BanAuthority::ManualBan manual{std::move(request->subject), std::move(request->route),
                                 request->for_ns};
  bans.ban(std::move(manual), [respond](std::optional<Ban> made, std::string why) {
    if (!made) return respond(store_error("the ban was not made", why));
    std::string body = "{\"ban\":";
    append_ban_json(body, *made);
    body += "}";
    AdminResponse r = json_response(201, std::move(body));
    r.headers.emplace_back("Location", "/v1/bans/" + percent_encode(made->subject));
    respond(std::move(r));
  });
}

void lift_bans(BanAuthority& bans, const AdminCall& call, AdminRespond respond) {
  FieldError error;
  auto subject = parse_unban_subject(call.param, *call.policy, &error);
  if (!subject) return respond(problem(400, error.detail, error.field));
  bans.unban(*subject, [respond, subject = *subject](std::size_t lifted, std::string why) {
    if (!why.empty()) return respond(store_error("the ban was not lifted", why));
    if (lifted == 0) {
      return respond(problem(404, subject + " is not banned"));
    }
    std::string body = "{\"subject\":";
    append_json_string(body, subject);  // checked UTF-8 by parse_unban_subject
    body += ",\"lifted\":" + std::to_string(lifted) + "}";
    respond(json_response(200, std::move(body)));
  });
}

}  // namespace

void add_ban_endpoints(AdminRouter& router, BanAuthority* bans) {
  router.add({http::verb::get, "/v1/bans", AdminAuth::admin_token(), false,
              [bans](const AdminCall&, AdminRespond respond) {
                if (bans == nullptr) return respond(unavailable());
                list_bans(*bans, respond);
              }});
  router.add({http::verb::post, "/v1/bans", AdminAuth::admin_token(), true,
              [bans](const AdminCall& call, AdminRespond respond) {
                if (bans == nullptr) return respond(unavailable());
                make_ban(*bans, call, std::move(respond));
              }});
  router.add({http::verb::delete_, "/v1/bans/*", AdminAuth::admin_token(), false,
              [bans](const AdminCall& call, AdminRespond respond) {
                if (bans == nullptr) return respond(unavailable());
                lift_bans(*bans, call, std::move(respond));
              }});
}

void append_ban_json(std::string& out, const Ban& ban) {
  out += "{\"subject\":";
  append_json_string(out, to_valid_utf8(ban.subject));
  out += ",\"route\":";
  append_json_string(out, ban.route);
  out += ",\"until\":";
  append_json_string(out, format_utc_seconds(ban.until_ns));
  out += ",\"count\":" + std::to_string(ban.count);
  out += ",\"reason\":";
  append_json_string(out, to_valid_utf8(ban.reason));
  out += ",\"source\":";
  append_json_string(out, to_string(ban.source));
  out += '}';
}

std::string format_utc_seconds(std::int64_t unix_ns) {
  constexpr std::int64_t kSecond = 1'000'000'000;
  std::int64_t secs = unix_ns / kSecond;
  if (unix_ns % kSecond > 0) ++secs;
  return format_rfc3339_seconds(secs);
}

}  // namespace edgeguard
