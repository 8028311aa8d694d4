#include "guard/redis/gcra_call.h"

namespace edgeguard {

void gcra_redis_key(std::string& out, std::string_view prefix, std::string_view key) {
  out.clear();
  out.reserve(prefix.size() + key.size() + 2);
  out.append(prefix).append("{").append(key).append("}");
}

std::string gcra_redis_key(std::string_view prefix, std::string_view key) {
  std::string out;
  gcra_redis_key(out, prefix, key);
  return out;
}

std::size_t gcra_evalsha_argv(std::vector<std::string>& argv, std::string_view prefix,
                              std::span<const std::string_view> keys,
                              std::span<const GcraRate> rates, GcraScriptMode mode,
                              const GcraBanSection* bans) {
  const bool section = bans != nullptr && bans->keys != nullptr && !bans->orders.empty();
  const std::size_t numkeys = keys.size() + (section ? 1 : 0);
  const std::size_t plain = gcra_mode_arg(numkeys) + 1 + 2 * rates.size();
  // Every argument assigned in place, and the vector never shrunk: a recycled argv keeps its
  // strings and their capacity, so once a command as long has been written (ban section
  // included) the next costs no allocation, whatever the route written in between.
  const std::size_t argc =
      section ? plain + kGcraBanSectionHead + kGcraBanOrderArgs * bans->orders.size() : plain;
  if (argv.size() < argc) argv.resize(argc);
  argv[0].assign("EVALSHA");
  argv[1].assign(gcra_script_sha1());
  assign_number(argv[2], static_cast<long long>(numkeys));
  for (std::size_t i = 0; i < keys.size(); ++i) gcra_redis_key(argv[3 + i], prefix, keys[i]);
  if (section) argv[3 + keys.size()].assign(bans->keys->index());
  std::size_t a = gcra_mode_arg(numkeys);
  assign_number(argv[a++], static_cast<int>(mode));
  for (const GcraRate& rate : rates) {
    assign_number(argv[a++], rate.emission_ns);
    assign_number(argv[a++], rate.tolerance_ns);
  }
  if (!section) return argc;
  const BanOrder& first = *bans->orders.front().order;
  argv[a++].assign(bans->keys->prefix());
  argv[a++].assign(bans->keys->channel());
  write_escalation_args(std::span(argv).subspan(a, kEscalationArgs),
                        first.escalation != nullptr ? *first.escalation : Escalation{},
                        bans->max_active);
  a += kEscalationArgs;
  for (const GcraBanSection::Order& o : bans->orders) {
    assign_number(argv[a++], static_cast<long long>(o.bucket + 1));
    argv[a++].assign(o.order->subject);
    argv[a++].assign(o.order->scope);
    argv[a++].assign(o.order->reason);
    argv[a++].assign(to_string(o.order->source));
    assign_number(argv[a++], o.order->for_ns);
  }
  return argc;
}

std::size_t gcra_mode_arg_of(const std::vector<std::string>& argv) {
  return gcra_mode_arg(static_cast<std::size_t>(std::stoul(argv[2])));
}

void gcra_argv_to_eval(std::vector<std::string>& argv) {
  argv[0] = "EVAL";
  argv[1] = std::string(gcra_script_source());
}

std::optional<GcraReply> parse_gcra_reply(const redisReply* reply, std::size_t keys) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 8) {
    return std::nullopt;
  }
  long long v[8];
  for (std::size_t i = 0; i < 8; ++i) {
    if (reply->element[i] == nullptr || reply->element[i]->type != REDIS_REPLY_INTEGER) {
      return std::nullopt;
    }
    v[i] = reply->element[i]->integer;
  }
  const long long verdict = v[0], denied = v[1];
  if (verdict != 0 && verdict != 1) return std::nullopt;
  // Compared as the 64-bit integers Redis sent: narrowed first, 2^32 would pass as key 0.
  if (verdict == 1 ? denied != -1 : denied < 0 || static_cast<unsigned long long>(denied) >= keys) {
    return std::nullopt;
  }
  for (std::size_t i = 2; i < 5; ++i) {
    if (v[i] < 0 || v[i] >= kGcraReplyMaxNs) return std::nullopt;
  }
  const auto ban = read_ban_step(v[5], v[6], v[7]);
  if (!ban || (verdict == 1 && ban->state != BanStep::none)) return std::nullopt;
  GcraReply out;
  out.ban = *ban;
  out.allowed = verdict == 1;
  out.denied = static_cast<int>(denied);
  out.retry_after_ns = v[2];
  out.remaining = v[3];
  out.reset_ns = v[4];
  return out;
}

}  // namespace edgeguard
