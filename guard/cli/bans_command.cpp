// `edgeguard bans list|add|delete`: the admin API's bans from the command line.
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "guard/accesslog/access_log.h"
#include "guard/admin/admin_router.h"
#include "guard/cli/admin_client.h"
#include "guard/cli/args.h"
#include "guard/cli/commands.h"
#include "guard/text/sized_text.h"

namespace edgeguard {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

constexpr const char* kUsage =
    "usage: edgeguard bans list [--json] [--admin URL] [--token-file F]\n"
    "       edgeguard bans add SUBJECT --for DURATION [--route ROUTE] [--json] [--admin URL]\n"
    "                          [--token-file F]\n"
    "       edgeguard bans delete SUBJECT [--json] [--admin URL] [--token-file F]\n"
    "  SUBJECT     ip:203.0.113.9, ip:2001:db8::1 (grouped by client_ip.ipv6_prefix),\n"
    "              user:NAME or key:ROUTE/LIMIT/VALUE\n"
    "  --admin     the admin listener, http://HOST:PORT (default http://127.0.0.1:9090)\n"
    "  --token-file  the file holding admin.token_file's token (none: loopback callers only)\n"
    "  --for       how long: 30s, 15m, 1h, 24h (1s to 8760h)\n"
    "  --route     a route of the policy, or * for every route (the default)\n";

int usage(const std::string& error) {
  if (!error.empty()) std::fprintf(stderr, "edgeguard bans: %s\n", error.c_str());
  std::fputs(kUsage, stderr);
  return 2;
}

std::string field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return {};
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

// "2h5m", "59m58s", "3d4h": the two largest units.
std::string format_remaining(std::int64_t ns) {
  std::int64_t s = ns <= 0 ? 0 : (ns + 999'999'999) / 1'000'000'000;
  const std::int64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
  s %= 60;
  char buf[48];
  if (d > 0) {
    std::snprintf(buf, sizeof buf, "%lldd%lldh", static_cast<long long>(d),
                  static_cast<long long>(h));
  } else if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lldh%lldm", static_cast<long long>(h),
                  static_cast<long long>(m));
  } else if (m > 0) {
    std::snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(m),
                  static_cast<long long>(s));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

std::int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string remaining_until(const std::string& until) {
  const auto ns = parse_rfc3339_ns(until);
  return ns ? format_remaining(*ns - unix_now_ns()) : "?";
}

// A column table: every column as wide as its widest cell, two spaces apart.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

// The server's refusal, as one line on stderr: its status and the problem's detail.
int refused(const AdminReply& reply) {
  std::fprintf(stderr, "edgeguard bans: %s\n", describe_refusal(reply).c_str());
  if (reply.status == 401) {
    std::fprintf(stderr,
                 "edgeguard bans: give the token of the server's admin.token_file with "
                 "--token-file\n");
  }
  return 1;
}

std::optional<json::object> reply_object(const AdminReply& reply, std::string_view member) {
  json::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  if (!member.empty() && !v.get_object().contains(member)) return std::nullopt;
  return std::move(v.get_object());
}

int not_understood(const AdminReply& reply) {
  std::fprintf(stderr, "edgeguard bans: the answer (%d) is not the admin API's: %s\n", reply.status,
               reply.body.substr(0, 200).c_str());
  return 1;
}

int print_list(const AdminReply& reply) {
  const auto o = reply_object(reply, "bans");
  if (!o || !o->at("bans").is_array()) return not_understood(reply);
  const json::array& bans = o->at("bans").get_array();
  if (bans.empty()) {
    std::printf("no active bans\n");
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"SUBJECT", "ROUTE", "UNTIL", "REMAINING", "COUNT", "REASON", "SOURCE"}};
  for (const json::value& b : bans) {
    if (!b.is_object()) return not_understood(reply);
    const json::object& ban = b.get_object();
    const std::string until = field(ban, "until");
    rows.push_back({field(ban, "subject"), field(ban, "route"), until, remaining_until(until),
                    field(ban, "count"), field(ban, "reason"), field(ban, "source")});
  }
  print_table(rows);
  return 0;
}

int print_added(const AdminReply& reply) {
  const auto o = reply_object(reply, "ban");
  if (!o || !o->at("ban").is_object()) return not_understood(reply);
  const json::object& ban = o->at("ban").get_object();
  const std::string route = field(ban, "route");
  const std::string until = field(ban, "until");
  std::printf("banned %s on %s until %s (%s, ban %s)\n", field(ban, "subject").c_str(),
              route == "*" ? "every route" : ("route " + route).c_str(), until.c_str(),
              remaining_until(until).c_str(), field(ban, "count").c_str());
  return 0;
}

int print_deleted(const AdminReply& reply) {
  const auto o = reply_object(reply, "lifted");
  if (!o) return not_understood(reply);
  const std::string lifted = field(*o, "lifted");
  std::printf("lifted %s ban%s of %s\n", lifted.c_str(), lifted == "1" ? "" : "s",
              field(*o, "subject").c_str());
  return 0;
}

}  // namespace

int run_bans(int argc, char** argv) {
  std::string error;
  auto args = Args::parse(argc, argv, {"admin", "token-file", "for", "route"}, {"json"}, &error);
  if (!args) return usage(error);
  const auto& words = args->positional();
  if (words.empty()) return usage("");
  const std::string& verb = words[0];
  const std::size_t want_words = verb == "list" ? 1 : 2;
  if (verb != "list" && verb != "add" && verb != "delete") {
    return usage("unknown action '" + verb + "' (list, add or delete)");
  }
  if (words.size() != want_words) {
    return usage(want_words == 1 ? "list takes no SUBJECT" : verb + " takes one SUBJECT");
  }
  if (verb != "add" && (args->get("for") || args->get("route"))) {
    return usage("--for and --route go with add");
  }
  if (verb == "add" && !args->get("for")) return usage("add needs --for DURATION");

  const auto url = parse_admin_url(args->get("admin").value_or("http://127.0.0.1:9090"), &error);
  if (!url) return usage(error);
  AdminCallOptions options;
  std::string token;
  if (const auto file = args->get("token-file")) {
    auto parsed = read_admin_token_file(*file, &error);
    if (!parsed) return usage(error);
    token = std::move(*parsed);
    options.token = token;
  }

  http::verb method = http::verb::get;
  std::string target = "/v1/bans";
  std::string body;
  if (verb == "add") {
    method = http::verb::post;
    body = "{\"subject\":";
    append_json_string(body, words[1]);
    body += ",\"for\":";
    append_json_string(body, *args->get("for"));
    body += ",\"route\":";
    append_json_string(body, args->get("route").value_or("*"));
    body += "}";
    options.json_body = body;
  } else if (verb == "delete") {
    method = http::verb::delete_;
    target += "/" + percent_encode(words[1]);
  }

  const auto reply = call_admin(*url, method, target, options, &error);
  if (!reply) {
    std::fprintf(stderr, "edgeguard bans: %s (admin API at %s)\n", error.c_str(),
                 args->get("admin").value_or("http://127.0.0.1:9090").c_str());
    return 1;
  }
  if (reply->status < 200 || reply->status > 299) return refused(*reply);
  if (args->flag("json")) {
    std::printf("%s\n", reply->body.c_str());
    return 0;
  }
  if (verb == "list") return print_list(*reply);
  if (verb == "add") return print_added(*reply);
  return print_deleted(*reply);
}

}  // namespace edgeguard
