#include "guard/redis/gcra_call.h"

namespace edgeguard {

std::string gcra_redis_key(std::string_view prefix, std::string_view key) {
  std::string out;
  out.reserve(prefix.size() + key.size() + 2);
  out.append(prefix).append("{").append(key).append("}");
  return out;
}

std::vector<std::string> gcra_evalsha_argv(std::vector<std::string> keys,
                                           std::span<const GcraRate> rates, GcraScriptMode mode) {
  std::vector<std::string> argv;
  argv.reserve(4 + 3 * keys.size());
  argv.emplace_back("EVALSHA");
  argv.emplace_back(gcra_script_sha1());
  argv.push_back(std::to_string(keys.size()));
  for (std::string& key : keys) argv.push_back(std::move(key));
  argv.push_back(std::to_string(static_cast<int>(mode)));
  for (const GcraRate& rate : rates) {
    argv.push_back(std::to_string(rate.emission_ns));
    argv.push_back(std::to_string(rate.tolerance_ns));
  }
  return argv;
}

void gcra_argv_to_eval(std::vector<std::string>& argv) {
  argv[0] = "EVAL";
  argv[1] = std::string(gcra_script_source());
}

std::optional<GcraReply> parse_gcra_reply(const redisReply* reply, std::size_t keys) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 5) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < 5; ++i) {
    if (reply->element[i]->type != REDIS_REPLY_INTEGER) return std::nullopt;
  }
  GcraReply out;
  out.allowed = reply->element[0]->integer == 1;
  out.denied = static_cast<int>(reply->element[1]->integer);
  out.retry_after_ns = reply->element[2]->integer;
  out.remaining = reply->element[3]->integer;
  out.reset_ns = reply->element[4]->integer;
  if (!out.allowed && (out.denied < 0 || static_cast<std::size_t>(out.denied) >= keys)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace edgeguard
