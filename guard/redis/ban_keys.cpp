#include "guard/redis/ban_keys.h"

#include <charconv>

#include "guard/redis/cluster_slots.h"

namespace edgeguard {
namespace {

constexpr std::int64_t kMaxLeftNs = std::int64_t{1} << 62;   // as the GCRA reply's times
constexpr std::int64_t kMaxUntilMs = std::int64_t{1} << 53;  // exact in the script's doubles

// Decimal digits up to `stop` (consumed): no sign, no leading zero, at most 18 digits.
bool take_number(std::string_view& in, char stop, std::int64_t& out) {
  const auto end = in.find(stop);
  if (end == std::string_view::npos || end == 0 || end > 18) return false;
  const std::string_view digits = in.substr(0, end);
  if (digits.size() > 1 && digits[0] == '0') return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  std::from_chars(digits.data(), digits.data() + digits.size(), out);
  in.remove_prefix(end + 1);
  return true;
}

bool take_word(std::string_view& in, char stop, std::string_view& out) {
  const auto end = in.find(stop);
  if (end == std::string_view::npos) return false;
  out = in.substr(0, end);
  in.remove_prefix(end + 1);
  return true;
}

std::optional<BanSource> source_of(std::string_view word) {
  for (BanSource s : {BanSource::limit, BanSource::failure, BanSource::manual}) {
    if (word == to_string(s)) return s;
  }
  return std::nullopt;
}

// A route name (config: letters, digits, - _ .) or "*".
bool valid_scope(std::string_view scope) {
  if (scope == kEveryRoute) return true;
  if (scope.empty() || scope.size() > 256) return false;
  for (char c : scope) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

BanKeys::BanKeys(std::string prefix, int db) : prefix_(std::move(prefix)) {
  channel_ = prefix_;
  channel_.append("bans");
  if (db != 0) channel_.append(":").append(std::to_string(db));
  index_ = prefix_;
  index_.append("{bans}:index");
  slot_ = key_hash_slot(index_);
}

std::string BanKeys::ban(std::string_view scope, std::string_view subject) const {
  std::string key = prefix_ + "{bans}:ban:";
  key.append(scope).append(":").append(subject);
  return key;
}

std::string BanKeys::scopes(std::string_view subject) const {
  std::string key = prefix_ + "{bans}:scopes:";
  key.append(subject);
  return key;
}

std::string BanKeys::offences() const {
  std::string key = prefix_;
  return key.append("{bans}:offences");
}

std::string BanKeys::offence_counts() const {
  std::string key = prefix_;
  return key.append("{bans}:offence-counts");
}

std::string format_ban_record(const BanRecord& r) {
  std::string out = std::to_string(r.count);
  out.append(" ").append(to_string(r.source)).append(" ").append(std::to_string(r.until_ms));
  out.append(" ").append(std::to_string(r.reason.size())).append(":").append(r.reason);
  out.append(r.scope).append(":").append(r.subject);
  return out;
}

std::optional<BanRecord> parse_ban_record(std::string_view in) {
  BanRecord r;
  std::string_view source;
  std::int64_t reason_len = 0;
  if (!take_number(in, ' ', r.count) || r.count < 1) return std::nullopt;
  if (!take_word(in, ' ', source)) return std::nullopt;
  const auto s = source_of(source);
  if (!s) return std::nullopt;
  r.source = *s;
  if (!take_number(in, ' ', r.until_ms) || r.until_ms > kMaxUntilMs) return std::nullopt;
  if (!take_number(in, ':', reason_len)) return std::nullopt;
  if (static_cast<std::size_t>(reason_len) > std::min(in.size(), kMaxBanText)) return std::nullopt;
  r.reason = std::string(in.substr(0, static_cast<std::size_t>(reason_len)));
  in.remove_prefix(static_cast<std::size_t>(reason_len));
  std::string_view scope;
  if (!take_word(in, ':', scope) || !valid_scope(scope)) return std::nullopt;
  if (in.empty() || in.size() > kMaxBanText) return std::nullopt;
  r.scope = std::string(scope);
  r.subject = std::string(in);
  return r;
}

std::optional<BanMessage> parse_ban_message(std::string_view in) {
  BanMessage m;
  if (in.starts_with("unban ")) {
    in.remove_prefix(6);
    if (in.empty() || in.size() > kMaxBanText) return std::nullopt;
    m.kind = BanMessage::Kind::unban;
    m.record.subject = std::string(in);
    return m;
  }
  if (!in.starts_with("ban ")) return std::nullopt;
  in.remove_prefix(4);
  if (!take_number(in, ' ', m.left_ns) || m.left_ns < 1 || m.left_ns >= kMaxLeftNs) {
    return std::nullopt;
  }
  auto record = parse_ban_record(in);
  if (!record) return std::nullopt;
  m.record = std::move(*record);
  return m;
}

}  // namespace edgeguard
