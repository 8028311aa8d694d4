#include "guard/redis/gcra_call.h"

#include <charconv>

namespace edgeguard {

namespace {

// Through a buffer: a number fits a string's inline capacity, so no allocation.
void assign_number(std::string& out, long long v) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out.assign(digits, end);
}

}  // namespace

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

void gcra_evalsha_argv(std::vector<std::string>& argv, std::string_view prefix,
                       std::span<const std::string_view> keys, std::span<const GcraRate> rates,
                       GcraScriptMode mode) {
  argv.resize(4 + 3 * keys.size());
  argv[0].assign("EVALSHA");
  argv[1].assign(gcra_script_sha1());
  assign_number(argv[2], static_cast<long long>(keys.size()));
  for (std::size_t i = 0; i < keys.size(); ++i) gcra_redis_key(argv[3 + i], prefix, keys[i]);
  std::size_t a = gcra_mode_arg(keys.size());
  assign_number(argv[a++], static_cast<int>(mode));
  for (const GcraRate& rate : rates) {
    assign_number(argv[a++], rate.emission_ns);
    assign_number(argv[a++], rate.tolerance_ns);
  }
}

void gcra_argv_to_eval(std::vector<std::string>& argv) {
  argv[0] = "EVAL";
  argv[1] = std::string(gcra_script_source());
}

std::optional<GcraReply> parse_gcra_reply(const redisReply* reply, std::size_t keys) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 5) {
    return std::nullopt;
  }
  long long v[5];
  for (std::size_t i = 0; i < 5; ++i) {
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
  GcraReply out;
  out.allowed = verdict == 1;
  out.denied = static_cast<int>(denied);
  out.retry_after_ns = v[2];
  out.remaining = v[3];
  out.reset_ns = v[4];
  return out;
}

}  // namespace edgeguard
