#include "guard/redis/gcra_script.h"

#include <boost/uuid/detail/sha1.hpp>
#include <cstdio>
#include <string>

namespace edgeguard {
namespace {

constexpr std::string_view kSource = R"lua(
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local mode = tonumber(ARGV[1])
local n = #KEYS

-- TAT relative to now, in ns; 0 when the key is absent (a full bucket).
local function rel_tat(s)
  if not s then return 0 end
  local len = string.len(s)
  if len <= 3 then return tonumber(s) - now_us * 1000 end
  local us = tonumber(string.sub(s, 1, len - 3))
  local rem = tonumber(string.sub(s, len - 2))
  return (us - now_us) * 1000 + rem
end

-- Stores a TAT `rel` ns after now; it expires when the bucket is full again.
local function store(key, rel)
  local abs_us = now_us + math.floor(rel / 1000)
  local rem = rel % 1000
  redis.call('SET', key, string.format('%.0f%03d', abs_us, rem), 'PX', math.ceil(rel / 1000000))
end

if mode == 2 then
  for i = 1, n do
    local s = redis.call('GET', KEYS[i])
    if s then
      local back = rel_tat(s) - tonumber(ARGV[2 * i])
      if back <= 0 then redis.call('DEL', KEYS[i]) else store(KEYS[i], back) end
    end
  end
  return {1, -1, 0, 0, 0}
end

local nexts = {}
local min_remaining = -1
local min_reset = 0
for i = 1, n do
  local T = tonumber(ARGV[2 * i])
  local tau = tonumber(ARGV[2 * i + 1])
  local base = math.max(rel_tat(redis.call('GET', KEYS[i])), 0)
  local nxt = base + T
  if nxt > tau then
    return {0, i - 1, nxt - tau, 0, base}
  end
  nexts[i] = nxt
  local remaining = 0
  if T > 0 then remaining = math.floor((tau - nxt) / T) end
  if min_remaining < 0 or remaining < min_remaining then
    min_remaining = remaining
    min_reset = nxt
  end
end
if mode == 0 then
  for i = 1, n do store(KEYS[i], nexts[i]) end
end
return {1, -1, 0, min_remaining, min_reset}
)lua";

std::string compute_sha1(std::string_view text) {
  boost::uuids::detail::sha1 sha;
  sha.process_bytes(text.data(), text.size());
  boost::uuids::detail::sha1::digest_type digest;
  sha.get_digest(digest);
  char hex[41];
  for (int i = 0; i < 5; ++i) {
    std::snprintf(hex + i * 8, 9, "%08x", digest[i]);
  }
  return std::string(hex, 40);
}

}  // namespace

std::string_view gcra_script_source() {
  return kSource;
}

std::string_view gcra_script_sha1() {
  static const std::string sha = compute_sha1(kSource);
  return sha;
}

}  // namespace edgeguard
