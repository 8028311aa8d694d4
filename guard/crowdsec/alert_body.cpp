#include "guard/crowdsec/alert_body.h"

#include <boost/json.hpp>
#include <charconv>
#include <ctime>

#include "guard/crowdsec/crowdsec_decision.h"
#include "guard/crowdsec/go_duration.h"
#include "guard/net/ip_address.h"
#include "guard/text/rfc3339.h"

namespace edgeguard {
namespace {

namespace json = boost::json;

constexpr std::int64_t kNsPerSecond = 1'000'000'000;

// Whole seconds, rounded up: LAPI keeps the decision at least as long as edgeguard's ban.
std::string duration_text(std::int64_t ns) {
  const std::int64_t seconds = std::max<std::int64_t>(1, (ns + kNsPerSecond - 1) / kNsPerSecond);
  return format_go_duration(seconds * kNsPerSecond);
}

bool read_int(std::string_view s, std::size_t at, std::size_t len, int* out) {
  if (at + len > s.size()) return false;
  const auto [end, ec] = std::from_chars(s.data() + at, s.data() + at + len, *out);
  return ec == std::errc() && end == s.data() + at + len;
}

}  // namespace

std::optional<BanSubject> parse_ban_subject(std::string_view text) {
  if (text.starts_with("ip:")) text.remove_prefix(3);
  std::string error;
  const auto cidr = Cidr::parse(text, &error);
  if (!cidr) {
    // Host bits set ("10.1.2.3/24"): the network is meant.
    const std::size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto ip = IpAddress::parse(text.substr(0, slash));
    int prefix = -1;
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (!ip || ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
        prefix > (ip->is_v4() ? 32 : 128)) {
      return std::nullopt;
    }
    BanSubject masked;
    masked.value = ip->masked(prefix).to_string();
    masked.range = prefix < (ip->is_v4() ? 32 : 128);
    if (masked.range) masked.value.append("/").append(std::to_string(prefix));
    return masked;
  }
  const int width = cidr->address.is_v4() ? 32 : 128;
  BanSubject subject;
  subject.value = cidr->address.to_string();
  if (cidr->prefix < width) {
    subject.range = true;
    subject.value.append("/").append(std::to_string(cidr->prefix));
  }
  return subject;
}

std::string ban_scenario(std::string_view route, std::string_view limit) {
  std::string out = "edgeguard/";
  out.append(route).append("/").append(limit);
  return out;
}

std::string alerts_body(std::span<const BanReport> bans) {
  json::array alerts;
  alerts.reserve(bans.size());
  for (const BanReport& ban : bans) {
    const std::string scenario = ban_scenario(ban.route, ban.limit);
    const std::string duration = duration_text(ban.duration_ns);
    // Whole seconds, rounded up: LAPI ends the decision at stop_at + duration, and a ban
    // shortened by the fraction of a second cut off would end before edgeguard's.
    const std::string at =
        format_rfc3339((ban.banned_at_unix_ns + kNsPerSecond - 1) / kNsPerSecond * kNsPerSecond);
    const char* scope = ban.subject.range ? "Range" : "Ip";
    json::object source{{"scope", scope}, {"value", ban.subject.value}};
    source[ban.subject.range ? "range" : "ip"] = ban.subject.value;
    alerts.push_back(json::object{
        {"scenario", scenario},
        {"scenario_hash", ""},
        {"scenario_version", ""},
        {"message", "edgeguard banned " + ban.subject.value + " for " + duration + " (route " +
                        ban.route + ", limit " + ban.limit + ")"},
        {"events_count", 1},
        {"start_at", at},
        {"stop_at", at},
        {"capacity", 0},
        {"leakspeed", "0"},
        {"simulated", false},
        {"remediation", true},
        {"events", json::array{}},
        {"source", std::move(source)},
        {"decisions", json::array{json::object{{"duration", duration},
                                               {"origin", std::string(kEdgeguardOrigin)},
                                               {"scenario", scenario},
                                               {"scope", scope},
                                               {"type", "ban"},
                                               {"value", ban.subject.value}}}},
    });
  }
  return json::serialize(alerts);
}

std::string login_body(std::string_view machine_id, std::string_view password,
                       std::span<const std::string> scenarios) {
  json::array names;
  for (const std::string& s : scenarios) names.emplace_back(s);
  return json::serialize(json::object{
      {"machine_id", machine_id}, {"password", password}, {"scenarios", std::move(names)}});
}

std::optional<LoginAnswer> parse_login_answer(std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::value* token = v.get_object().if_contains("token");
  if (token == nullptr || !token->is_string() || token->get_string().empty()) return std::nullopt;
  LoginAnswer answer;
  answer.token = std::string(token->get_string());
  // The token goes into a header: no byte may end it early.
  for (const char c : answer.token) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  if (const json::value* expire = v.get_object().if_contains("expire");
      expire != nullptr && expire->is_string()) {
    const json::string& s = expire->get_string();
    answer.expire_unix_s = parse_rfc3339_unix_s({s.data(), s.size()}).value_or(0);
  }
  return answer;
}

std::optional<std::int64_t> parse_rfc3339_unix_s(std::string_view s) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (s.size() < 20 || !read_int(s, 0, 4, &year) || s[4] != '-' || !read_int(s, 5, 2, &month) ||
      s[7] != '-' || !read_int(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
      !read_int(s, 11, 2, &hour) || s[13] != ':' || !read_int(s, 14, 2, &minute) || s[16] != ':' ||
      !read_int(s, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  if (at < s.size() && s[at] == '.') {
    ++at;
    const std::size_t digits = at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
    if (at == digits) return std::nullopt;
  }
  std::int64_t offset_s = 0;
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    int oh = 0, om = 0;
    if (!read_int(s, at + 1, 2, &oh) || at + 3 >= s.size() || s[at + 3] != ':' ||
        !read_int(s, at + 4, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (s[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != s.size()) return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&tm)) - offset_s;
}

}  // namespace edgeguard
