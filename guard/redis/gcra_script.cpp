#include "guard/redis/gcra_script.h"

#include <string>

#include "guard/redis/ban_script.h"
#include "guard/redis/script_sha1.h"

namespace edgeguard {
namespace {

// Follows the bans' library (ban_script.h), which ban_library() returns ban_order() from.
constexpr std::string_view kBody = R"lua(
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local mode = tonumber(ARGV[1])
local n = #KEYS
-- A ban section makes ARGV longer than mode + two rates per key; its KEYS has one more, last.
local bans = #ARGV > 1 + 2 * n
if bans then n = n - 1 end

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
  return {1, -1, 0, 0, 0, 0, 0, 0}
end

-- The ban order of bucket i, if the call carries one: {state, ns left, count}.
local function ban_for(i)
  local b = 2 * n + 2
  for o = b + 6, #ARGV, 6 do
    if tonumber(ARGV[o]) == i then
      local ban_order = ban_library()
      return ban_order(ARGV[b], ARGV[b + 1], now_us, ARGV[o + 1], ARGV[o + 2], ARGV[o + 3],
                       ARGV[o + 4], tonumber(ARGV[o + 5]), tonumber(ARGV[b + 2]),
                       tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]))
    end
  end
  return {0, 0, 0}
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
    local ban = {0, 0, 0}
    if bans and mode == 0 then ban = ban_for(i) end
    return {0, i - 1, nxt - tau, 0, base, ban[1], ban[2], ban[3]}
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
return {1, -1, 0, min_remaining, min_reset, 0, 0, 0}
)lua";

// The bans' library is wrapped in a function that the script calls only for a denial with a ban
// order. Redis runs a script's whole body on every call, and defining the library's fourteen
// functions each time cost about 1 µs of Redis's CPU per call, a fifth of the script's cost
// (bench/README.md, "The limit script's cost in Redis").
const std::string& source() {
  static const std::string s = "local function ban_library()\n" + std::string(ban_lua_library()) +
                               "return ban_order\nend\n" + std::string(kBody);
  return s;
}

}  // namespace

std::string_view gcra_script_source() {
  return source();
}

std::string_view gcra_script_sha1() {
  static const std::string sha = script_sha1(source());
  return sha;
}

}  // namespace edgeguard
