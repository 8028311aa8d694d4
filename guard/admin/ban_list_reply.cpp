#include "guard/admin/ban_list_reply.h"

#include <boost/json.hpp>

#include "guard/accesslog/access_log.h"

namespace edgeguard {
namespace {

namespace json = boost::json;

const json::string* string_field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

std::optional<BanSource> parse_source(std::string_view text) {
  for (BanSource s : {BanSource::limit, BanSource::failure, BanSource::manual}) {
    if (text == to_string(s)) return s;
  }
  return std::nullopt;
}

// One entry of the list; `why` says which field is wrong.
std::optional<Ban> parse_ban(const json::value& v, int ipv6_prefix, std::string* why) {
  if (!v.is_object()) {
    *why = "is not an object";
    return std::nullopt;
  }
  const json::object& o = v.get_object();
  Ban ban;
  const json::string* subject = string_field(o, "subject");
  std::string error;
  if (subject == nullptr) {
    *why = "has no string \"subject\"";
    return std::nullopt;
  }
  // An address is read as the config groups it (the lookup must find it); other subjects are
  // taken as the server wrote them (a limit key may be longer than an operator may type).
  if (subject->starts_with("ip:")) {
    auto canonical = canonical_subject(*subject, ipv6_prefix, &error);
    if (!canonical) {
      *why = "\"subject\": " + error;
      return std::nullopt;
    }
    ban.subject = std::move(*canonical);
  } else if ((subject->starts_with("user:") && subject->size() > 5) ||
             (subject->starts_with("key:") && subject->size() > 4)) {
    ban.subject = std::string(*subject);
  } else {
    *why = "\"subject\" is not ip:, user: or key:";
    return std::nullopt;
  }
  const json::string* route = string_field(o, "route");
  if (route == nullptr || route->empty()) {
    *why = "has no \"route\"";
    return std::nullopt;
  }
  ban.route = std::string(*route);
  const json::string* until = string_field(o, "until");
  const auto until_ns = until ? parse_rfc3339_ns(*until) : std::nullopt;
  if (!until_ns) {
    *why = "has no RFC 3339 \"until\"";
    return std::nullopt;
  }
  ban.until_ns = *until_ns;
  const json::value* count = o.if_contains("count");
  if (count == nullptr || !count->is_int64() || count->get_int64() < 1) {
    *why = "has no \"count\" >= 1";
    return std::nullopt;
  }
  ban.count = count->get_int64();
  if (const json::string* reason = string_field(o, "reason")) ban.reason = std::string(*reason);
  const json::string* source_text = string_field(o, "source");
  const auto source = source_text ? parse_source(*source_text) : std::nullopt;
  if (!source) {
    *why = "has no \"source\" (limit, failure or manual)";
    return std::nullopt;
  }
  ban.source = *source;
  return ban;
}

}  // namespace

std::optional<std::vector<Ban>> parse_ban_list(std::string_view body, int ipv6_prefix,
                                               std::string* error) {
  json::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    *error = "the reply is not a JSON object";
    return std::nullopt;
  }
  const json::value* list = v.get_object().if_contains("bans");
  if (list == nullptr || !list->is_array()) {
    *error = "the reply has no \"bans\" array";
    return std::nullopt;
  }
  const json::array& items = list->get_array();
  if (items.size() > kMaxListedBans) {
    *error = "the reply lists more than " + std::to_string(kMaxListedBans) + " bans";
    return std::nullopt;
  }
  std::vector<Ban> bans;
  bans.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string why;
    auto ban = parse_ban(items[i], ipv6_prefix, &why);
    if (!ban) {
      *error = "bans[" + std::to_string(i) + "] " + why;
      return std::nullopt;
    }
    bans.push_back(std::move(*ban));
  }
  return bans;
}

}  // namespace edgeguard
