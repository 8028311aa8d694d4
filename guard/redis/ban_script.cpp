#include "guard/redis/ban_script.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "guard/redis/script_sha1.h"

namespace edgeguard {
namespace {

// Every function takes the key prefix P and builds the {bans} key names of ban_keys.h. Numbers
// are doubles: Unix ms (< 2^53) and durations in ns (< 2^53 for any sane max) are exact;
// absolute ns never appear. num() writes one without an exponent.
constexpr std::string_view kLibrary = R"lua(
local function num(x) return string.format('%.0f', x) end
local function ban_key(P, member) return P .. '{bans}:ban:' .. member end
local function scopes_key(P, subject) return P .. '{bans}:scopes:' .. subject end
local function index_key(P) return P .. '{bans}:index' end
local function offences_key(P) return P .. '{bans}:offences' end
local function counts_key(P) return P .. '{bans}:offence-counts' end

-- ban_duration() of guard/bans/ban.cpp: min(for x factor^(n-1), max), in the same doubles.
local function ban_duration(for_ns, n, factor, max_ns)
  if n <= 1 then return math.min(for_ns, max_ns) end
  local scaled = for_ns * factor ^ (n - 1)
  if scaled >= max_ns then return max_ns end
  return math.floor(scaled)
end

-- The ban in force on (subject, scope) or on every route, whichever ends later: ms left, count.
local function ban_in_force(P, subject, scope)
  local left, count = 0, 0
  local scopes = {scope}
  if scope ~= '*' then scopes[2] = '*' end
  for _, s in ipairs(scopes) do
    local key = ban_key(P, s .. ':' .. subject)
    local ttl = redis.call('PTTL', key)
    if ttl > left then
      local v = redis.call('GET', key)
      if v then
        left = ttl
        count = tonumber(string.match(v, '^(%d+) ')) or 1
      end
    end
  end
  return left, count
end

-- Lifts the indexed bans that end by `upto` (a ZRANGEBYSCORE bound), keys and scopes too.
local function drop_bans(P, upto)
  local index = index_key(P)
  while true do
    local batch = redis.call('ZRANGEBYSCORE', index, '-inf', upto, 'LIMIT', 0, 500)
    if #batch == 0 then return end
    for _, m in ipairs(batch) do
      redis.call('DEL', ban_key(P, m))
      local colon = string.find(m, ':', 1, true)
      if colon then
        redis.call('SREM', scopes_key(P, string.sub(m, colon + 1)), string.sub(m, 1, colon - 1))
      end
    end
    redis.call('ZREM', index, unpack(batch))
  end
end

-- Room in the index for a ban ending at until_ms, as BanTable::make_room: ended bans go first,
-- then the quarter nearest their end; a ban ending no later than those is not held.
local function make_room(P, member, until_ms, now_ms, max_active)
  local index = index_key(P)
  if redis.call('ZSCORE', index, member) then return true end
  if redis.call('ZCARD', index) < max_active then return true end
  drop_bans(P, num(now_ms))
  local card = redis.call('ZCARD', index)
  if card < max_active then return true end
  local q = math.max(math.floor(card / 4), 1)
  local cut = tonumber(redis.call('ZRANGE', index, q - 1, q - 1, 'WITHSCORES')[2])
  if until_ms <= cut then return false end
  drop_bans(P, num(cut))
  return true
end

local function forget_offences(P, upto)
  local times, counts = offences_key(P), counts_key(P)
  while true do
    local batch = redis.call('ZRANGEBYSCORE', times, '-inf', upto, 'LIMIT', 0, 500)
    if #batch == 0 then return end
    redis.call('HDEL', counts, unpack(batch))
    redis.call('ZREM', times, unpack(batch))
  end
end

-- One more ban of `subject`; returns its number within the memory (the quiet gap since its
-- last ban), as OffenceLog::record. At most max_subjects are remembered: forgotten offences
-- go first, then the oldest quarter.
local function record_offence(P, subject, now_ms, memory_ms, max_subjects)
  local times, counts = offences_key(P), counts_key(P)
  local last = redis.call('ZSCORE', times, subject)
  local n = 1
  if last then
    if now_ms - tonumber(last) <= memory_ms then
      n = (tonumber(redis.call('HGET', counts, subject)) or 0) + 1
    end
  elseif redis.call('ZCARD', times) >= max_subjects then
    forget_offences(P, '(' .. num(now_ms - memory_ms))
    local card = redis.call('ZCARD', times)
    if card >= max_subjects then
      local q = math.floor(card / 4)
      forget_offences(P, redis.call('ZRANGE', times, q, q, 'WITHSCORES')[2])
    end
  end
  redis.call('ZADD', times, num(now_ms), subject)
  redis.call('HSET', counts, subject, num(n))
  redis.call('PEXPIRE', times, num(memory_ms))
  redis.call('PEXPIRE', counts, num(memory_ms))
  return n
end

-- Holds a ban of dur_ns from now and tells every replica: {state, ns left, count}.
local function put_ban(P, channel, now_us, subject, scope, reason, source, dur_ns, n, max_active)
  local px = math.max(math.ceil(dur_ns / 1000000), 1)
  local now_ms = math.floor(now_us / 1000)
  local until_ms = now_ms + px
  local member = scope .. ':' .. subject
  if not make_room(P, member, until_ms, now_ms, max_active) then return {3, 0, n} end
  local value = num(n) .. ' ' .. source .. ' ' .. num(until_ms) .. ' ' .. num(#reason) .. ':' ..
                reason .. member
  redis.call('SET', ban_key(P, member), value, 'PX', num(px))
  redis.call('ZADD', index_key(P), num(until_ms), member)
  local scopes = scopes_key(P, subject)
  redis.call('SADD', scopes, scope)
  if redis.call('PTTL', scopes) < px then redis.call('PEXPIRE', scopes, num(px)) end
  redis.call('PUBLISH', channel, 'ban ' .. num(dur_ns) .. ' ' .. value)
  return {1, dur_ns, n}
end

-- A limit's ban order after its denial: {state, ns left, count}.
local function ban_order(P, channel, now_us, subject, scope, reason, source, for_ns, factor,
                         max_ns, memory_ms, max_active)
  local left, count = ban_in_force(P, subject, scope)
  if left > 0 then return {2, left * 1000000, count} end
  local n = record_offence(P, subject, math.floor(now_us / 1000), memory_ms, 4 * max_active)
  return put_ban(P, channel, now_us, subject, scope, reason, source,
                 ban_duration(for_ns, n, factor, max_ns), n, max_active)
end
)lua";

constexpr std::string_view kOps = R"lua(
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local op, P, channel = ARGV[1], ARGV[2], ARGV[3]
if op == 'order' then
  return ban_order(P, channel, now_us, ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8]),
                   tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]))
elseif op == 'manual' then
  -- Replaces any ban of (subject, scope); counted as an offence, lasts exactly `for`.
  local max_active = tonumber(ARGV[8])
  local n = record_offence(P, ARGV[4], math.floor(now_us / 1000), tonumber(ARGV[7]),
                           4 * max_active)
  return put_ban(P, channel, now_us, ARGV[4], ARGV[5], 'manual', 'manual', tonumber(ARGV[6]), n,
                 max_active)
elseif op == 'unban' then
  local subject = ARGV[4]
  local scopes = scopes_key(P, subject)
  local lifted = 0
  for _, s in ipairs(redis.call('SMEMBERS', scopes)) do
    lifted = lifted + redis.call('DEL', ban_key(P, s .. ':' .. subject))
    redis.call('ZREM', index_key(P), s .. ':' .. subject)
  end
  redis.call('DEL', scopes)
  redis.call('PUBLISH', channel, 'unban ' .. subject)
  return lifted
elseif op == 'resync' then
  local index = index_key(P)
  if ARGV[4] == '0' then redis.call('ZREMRANGEBYSCORE', index, '-inf', num(now_us / 1000)) end
  local page = redis.call('ZSCAN', index, ARGV[4], 'COUNT', ARGV[5])
  local out = {page[1]}
  local members = page[2]
  for i = 1, #members, 2 do
    local key = ban_key(P, members[i])
    local ttl = redis.call('PTTL', key)
    if ttl > 0 then
      out[#out + 1] = redis.call('GET', key)
      out[#out + 1] = ttl
    end
  end
  return out
end
return redis.error_reply('ERR edgeguard ban script: unknown op')
)lua";

const std::string& script() {
  static const std::string s = std::string(kLibrary) + std::string(kOps);
  return s;
}

constexpr long long kMaxNs = std::int64_t{1} << 62;

// 17 significant digits: the script's double is the caller's. Through a buffer, into `out`'s
// capacity.
void assign_double(std::string& out, double v) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  out.assign(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
}

std::vector<std::string> head(const BanKeys& keys, std::string_view op) {
  std::vector<std::string> argv;
  argv.reserve(16);
  argv.emplace_back("EVALSHA");
  argv.emplace_back(ban_script_sha1());
  argv.emplace_back("1");
  argv.push_back(keys.index());
  argv.emplace_back(op);
  argv.push_back(keys.prefix());
  argv.push_back(keys.channel());
  return argv;
}

std::int64_t memory_ms(const Escalation& e) {
  return std::max<std::int64_t>(e.memory_ns / 1'000'000, 1);
}

}  // namespace

std::string_view ban_lua_library() {
  return kLibrary;
}

std::string_view ban_script_source() {
  return script();
}

std::string_view ban_script_sha1() {
  static const std::string sha = script_sha1(script());
  return sha;
}

void assign_number(std::string& out, long long v) {
  char digits[24];
  out.assign(digits, std::to_chars(digits, digits + sizeof digits, v).ptr);
}

void write_escalation_args(std::span<std::string> out, const Escalation& e,
                           std::size_t max_active) {
  assign_double(out[0], e.factor);
  assign_number(out[1], e.max_ns);
  assign_number(out[2], memory_ms(e));
  assign_number(out[3], static_cast<long long>(std::max<std::size_t>(max_active, 1)));
}

void append_escalation_args(std::vector<std::string>& argv, const Escalation& e,
                            std::size_t max_active) {
  argv.resize(argv.size() + kEscalationArgs);
  write_escalation_args(std::span(argv).last(kEscalationArgs), e, max_active);
}

std::vector<std::string> ban_order_argv(const BanKeys& keys, const BanOrder& order,
                                        std::size_t max_active) {
  auto argv = head(keys, "order");
  argv.emplace_back(order.subject);
  argv.emplace_back(order.scope);
  argv.emplace_back(order.reason);
  argv.emplace_back(to_string(order.source));
  argv.push_back(std::to_string(order.for_ns));
  append_escalation_args(argv, order.escalation != nullptr ? *order.escalation : Escalation{},
                         max_active);
  return argv;
}

std::vector<std::string> manual_ban_argv(const BanKeys& keys, std::string_view subject,
                                         std::string_view scope, std::int64_t for_ns,
                                         const Escalation& e, std::size_t max_active) {
  auto argv = head(keys, "manual");
  argv.emplace_back(subject);
  argv.emplace_back(scope);
  argv.push_back(std::to_string(for_ns));
  argv.push_back(std::to_string(memory_ms(e)));
  argv.push_back(std::to_string(std::max<std::size_t>(max_active, 1)));
  return argv;
}

std::vector<std::string> unban_argv(const BanKeys& keys, std::string_view subject) {
  auto argv = head(keys, "unban");
  argv.emplace_back(subject);
  return argv;
}

std::vector<std::string> resync_argv(const BanKeys& keys, std::string_view cursor,
                                     std::size_t count) {
  auto argv = head(keys, "resync");
  argv.emplace_back(cursor);
  argv.push_back(std::to_string(count));
  return argv;
}

void ban_argv_to_eval(std::vector<std::string>& argv) {
  argv[0] = "EVAL";
  argv[1] = script();
}

std::optional<BanStepReply> read_ban_step(long long state, long long left_ns, long long count) {
  if (state < 0 || state > 3 || left_ns < 0 || left_ns >= kMaxNs || count < 0 || count >= kMaxNs) {
    return std::nullopt;
  }
  BanStepReply r{static_cast<BanStep>(state), left_ns, count};
  switch (r.state) {
    case BanStep::none:
      if (left_ns != 0 || count != 0) return std::nullopt;
      break;
    case BanStep::made:
    case BanStep::in_force:
      if (left_ns == 0 || count == 0) return std::nullopt;
      break;
    case BanStep::refused:
      if (left_ns != 0) return std::nullopt;
      break;
  }
  return r;
}

std::optional<BanStepReply> parse_ban_step_reply(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < 3; ++i) {
    if (reply->element[i] == nullptr || reply->element[i]->type != REDIS_REPLY_INTEGER) {
      return std::nullopt;
    }
  }
  auto r = read_ban_step(reply->element[0]->integer, reply->element[1]->integer,
                         reply->element[2]->integer);
  if (!r || r->state == BanStep::none) return std::nullopt;
  return r;
}

std::optional<std::int64_t> parse_unban_reply(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER || reply->integer < 0) {
    return std::nullopt;
  }
  return reply->integer;
}

std::optional<ResyncPage> parse_resync_reply(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 1) {
    return std::nullopt;
  }
  const redisReply* cursor = reply->element[0];
  if (cursor == nullptr || cursor->type != REDIS_REPLY_STRING || cursor->len == 0 ||
      cursor->len > 20) {
    return std::nullopt;
  }
  ResyncPage page;
  page.cursor.assign(cursor->str, cursor->len);
  for (char c : page.cursor) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  for (std::size_t i = 1; i < reply->elements; i += 2) {
    const redisReply* value = reply->element[i];
    const redisReply* ttl = reply->element[i + 1];
    if (value == nullptr || value->type != REDIS_REPLY_STRING || ttl == nullptr ||
        ttl->type != REDIS_REPLY_INTEGER || ttl->integer <= 0 ||
        ttl->integer >= kMaxNs / 1'000'000) {
      return std::nullopt;
    }
    auto record = parse_ban_record({value->str, value->len});
    if (!record) {
      ++page.unreadable;
      continue;
    }
    page.bans.emplace_back(std::move(*record), ttl->integer);
  }
  return page;
}

}  // namespace edgeguard
