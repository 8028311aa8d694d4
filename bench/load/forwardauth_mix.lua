-- wrk script: a realistic mix of Traefik ForwardAuth calls for a SecureNexus-style stack
-- (config/edgeguard.yaml). Every call is `GET /` with the X-Forwarded-* headers Traefik sends and
-- the client headers it copies; the route is chosen by X-Forwarded-Host/-Method/-Uri and the
-- client by the rightmost X-Forwarded-For entry.
--
--   wrk -t1 -c32 -d10s --latency -s bench/load/forwardauth_mix.lua http://127.0.0.1:8080/ \
--       [-- seed=42 calls=50000]
--
-- Deterministic: the calls are generated once per thread from `seed` (plus the thread index)
-- with a fixed PRNG, then sent in a cycle, so edgeguard and nginx receive the same sequence.
-- Extra -H headers (e.g. "Connection: close") are added to every call.
-- EG_WRK_STATUS=1 in the environment counts answers by status (costs wrk some CPU).
-- EG_WRK_DELAY_MS=N paces each connection: N ms between an answer and the next call (soak.sh).
--
-- Share of calls (percent):
--   40  authentik-outpost: GET /outpost.goauthentik.io/... on *.securenexus.net, any client
--   12  authentik-login:   POST flow executor, from 20 000 addresses (credential stuffing),
--                          10 % of them in Iran (geo deny_countries)
--    3  authentik-login:   POST "= /if/flow/default-authentication-flow/"
--    5  authentik-login:   POST /application/o/token/ from 200 API clients
--   25  erp:               ERPNext pages and API from 2 000 customers in GB and IE (IPv4 and
--                          IPv6), 10 % from the office (bypass), 10 % from other or unknown
--                          countries (geo allow_countries, unknown: deny)
--    8  admin:             Grafana/Portainer, half from the enrolled tag:admin node, half from
--                          enrolled nodes without the tag, unenrolled tailnet addresses, the LAN
--                          and the internet (tailnet require: enrolled)
--    7  no route:          other hosts, GETs of the login pages (default: allow)
-- Countries are those of tests/data/maxmind/GeoIP2-Country-Test.mmdb (bench/load.sh installs it
-- as the policy's country_db) and the tailnet is config/tailnet-status.json.

local calls = {}
local next_call = 0
local status_counts = {}

-- Park-Miller minimal standard generator: exact in doubles, the same on every Lua.
local state = 1
local function seed_rng(s)
  state = (s % 2147483646) + 1
end
local function rand(n)  -- 1..n
  state = (state * 48271) % 2147483647
  return (state % n) + 1
end
local function pick(list)
  return list[rand(#list)]
end

-- A public IPv4 address outside every network the policy names (callers, admins, office,
-- CGNAT/tailnet) and outside multicast/reserved space.
local function public_v4()
  while true do
    local a = rand(223)
    if a ~= 10 and a ~= 100 and a ~= 127 and a ~= 172 and a ~= 192 and a ~= 203 and a ~= 0 then
      return string.format("%d.%d.%d.%d", a, rand(256) - 1, rand(256) - 1, rand(254))
    end
  end
end
-- One address per /64, so edgeguard's ipv6_prefix: 64 grouping and nginx's per-address key
-- count the same clients. `net` is a /32 of the test database (GB 2a02:d680, IE 2a02:e900,
-- IR 2a02:d380) or nil for any unknown network.
local function public_v6(i, net)
  net = net or string.format("2a02:%x", rand(0x3fff))  -- any network
  return string.format("%s:%x:%x::%x", net, rand(65535), i % 65536, rand(65535))
end
local function gb_v4()
  if rand(2) == 1 then return string.format("81.2.69.%d", 160 + rand(32) - 1) end
  return string.format("81.2.69.%d", 144 + rand(16) - 1)
end

local function pool(n, make)
  local p = {}
  for i = 1, n do
    p[i] = make(i)
  end
  return p
end

local user_agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "python-requests/2.31.0",
  "curl/8.5.0",
}

local function forward(method, host, uri, client, extra)
  local xff = client
  if rand(5) == 1 then
    -- trustForwardHeader: the client's own X-Forwarded-For comes first; only the rightmost
    -- entry (the peer Traefik saw) counts.
    xff = public_v4() .. ", " .. client
  end
  local h = {
    ["X-Forwarded-Method"] = method,
    ["X-Forwarded-Proto"] = "https",
    ["X-Forwarded-Host"] = host,
    ["X-Forwarded-Uri"] = uri,
    ["X-Forwarded-Port"] = "443",
    ["X-Forwarded-For"] = xff,
    ["X-Real-Ip"] = client,
    ["User-Agent"] = pick(user_agents),
    ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ["Accept-Encoding"] = "gzip, deflate, br",
    ["Accept-Language"] = "en-GB,en;q=0.9",
  }
  if extra then
    for k, v in pairs(extra) do
      h[k] = v
    end
  end
  for k, v in pairs(wrk.headers) do  -- -H from the command line (wrk.format would drop them)
    h[k] = v
  end
  return wrk.format("GET", "/", h)
end

local function build(seed, count)
  seed_rng(seed)
  local users = pool(50000, function(i)
    if i % 5 == 0 then return public_v6(i) end
    return public_v4()
  end)
  local stuffers = pool(20000, function(i)
    if i % 10 == 0 then return public_v6(i, "2a02:d380") end  -- Iran: geo deny
    return public_v4()
  end)
  local api_clients = pool(200, function() return public_v4() end)
  local erp_clients = pool(2000, function(i)
    if i % 10 == 0 then return gb_v4() end
    if i % 3 == 0 then return public_v6(i, "2a02:e900") end  -- Ireland
    return public_v6(i, "2a02:d680")  -- Great Britain
  end)
  local erp_foreign = pool(200, function(i)
    if i % 4 == 0 then return string.format("216.160.83.%d", 56 + rand(8) - 1) end  -- US
    if i % 4 == 1 then return string.format("89.160.20.%d", 112 + rand(16) - 1) end  -- SE
    if i % 4 == 2 then return public_v6(i, "2a02:d380") end  -- IR
    return public_v4()  -- not in the database: unknown
  end)
  -- config/tailnet-status.json: admin-box (tag:admin) may; alice, bob and the gateway are
  -- enrolled without the tag; the rest of the ranges, the LAN and the internet are not enrolled.
  local admins = {"100.64.0.9", "fd7a:115c:a1e0::9"}
  local outsiders = pool(300, function(i)
    if i % 5 == 0 then return pick({"100.64.0.5", "100.88.1.2", "fd7a:115c:a1e0::1:2", "100.101.102.1"}) end
    if i % 5 == 1 then return string.format("100.%d.%d.%d", 64 + rand(64) - 1, rand(256) - 1, rand(254)) end
    if i % 5 == 2 then return string.format("fd7a:115c:a1e0::%x:%x", rand(65535), rand(65535)) end
    if i % 5 == 3 then return string.format("192.168.1.%d", rand(254)) end
    return public_v4()
  end)
  local sn_hosts = {"auth.securenexus.net", "grafana.securenexus.net", "portainer.securenexus.net",
                    "wiki.securenexus.net", "cloud.securenexus.net", "git.securenexus.net"}
  local admin_hosts = {"grafana.securenexus.net", "portainer.securenexus.net",
                       "prometheus.admin.securenexus.net", "traefik.admin.securenexus.net"}
  local erp_hosts = {"erp.byrne-accounts.org", "pos.byrne-accounts.org"}
  local erp_paths = {"/app/sales-invoice/ACC-SINV-2024-00", "/api/method/frappe.auth.get_logged_user",
                     "/api/resource/Item?limit_page_length=20&fields=%5B%22name%22%5D",
                     "/assets/frappe/dist/js/desk.bundle.js", "/app/pos", "/api/method/run_doc_method"}
  local other_hosts = {"www.byrne-accounts.org", "status.securenexus.org", "securenexus.net"}

  for i = 1, count do
    local r = rand(100)
    local c
    if r <= 40 then
      local uri = "/outpost.goauthentik.io/auth/traefik"
      if rand(4) == 1 then
        uri = "/outpost.goauthentik.io/callback?X-authentik-auth-callback=true&code=" .. rand(1000000)
      end
      c = forward(pick({"GET", "GET", "GET", "POST"}), pick(sn_hosts), uri, pick(users),
                  {["Cookie"] = "authentik_proxy_" .. rand(9999) .. "=" .. rand(100000000)})
    elseif r <= 52 then
      c = forward("POST", "auth.securenexus.net",
                  "/api/v3/flows/executor/default-authentication-flow/?query=next%3D%252F",
                  pick(stuffers), {["Content-Type"] = "application/json"})
    elseif r <= 55 then
      c = forward("POST", "auth.securenexus.net", "/if/flow/default-authentication-flow/?next=%2F",
                  pick(stuffers), {["Content-Type"] = "application/x-www-form-urlencoded"})
    elseif r <= 60 then
      c = forward("POST", "auth.securenexus.net", "/application/o/token/", pick(api_clients),
                  {["Content-Type"] = "application/x-www-form-urlencoded",
                   ["Authorization"] = "Basic ZXJwOnNlY3JldA=="})
    elseif r <= 85 then
      local client = pick(erp_clients)
      local who = rand(10)
      if who == 1 then
        client = string.format("203.0.113.%d", rand(254))
      elseif who == 2 then
        client = pick(erp_foreign)
      end
      local method = "GET"
      if rand(5) == 1 then method = "POST" end
      c = forward(method, pick(erp_hosts), pick(erp_paths) .. rand(999), client,
                  {["Cookie"] = "sid=" .. rand(100000000) .. "; system_user=yes"})
    elseif r <= 93 then
      local client
      if rand(2) == 1 then client = pick(admins) else client = pick(outsiders) end
      c = forward("GET", pick(admin_hosts), "/d/rYdddlPWk/node-exporter?orgId=1&refresh=" .. rand(60) .. "s",
                  client, {["Cookie"] = "grafana_session=" .. rand(100000000)})
    else
      if rand(2) == 1 then
        c = forward("GET", pick(other_hosts), "/index.html?v=" .. rand(99), pick(users))
      else
        c = forward("GET", "auth.securenexus.net", "/if/flow/default-authentication-flow/?next=%2F",
                    pick(users))
      end
    end
    calls[i] = c
  end
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  local seed, count = 42, 50000
  for _, a in ipairs(args) do
    local k, v = a:match("^(%w+)=(%d+)$")
    if k == "seed" then seed = tonumber(v) elseif k == "calls" then count = tonumber(v) end
  end
  build(seed + 7919 * (thread_index or 0), count)
end

function request()
  next_call = next_call % #calls + 1
  return calls[next_call]
end

local pace_ms = tonumber(os.getenv("EG_WRK_DELAY_MS") or "")
if pace_ms then
  function delay()
    return pace_ms
  end
end

if os.getenv("EG_WRK_STATUS") == "1" then
  function response(status, headers, body)
    local key = "s" .. status
    _G[key] = (_G[key] or 0) + 1
  end

  function done(summary, latency, requests)
    local totals = {}
    for _, t in ipairs(threads) do
      for _, s in ipairs({200, 400, 403, 429, 431, 500, 503}) do
        totals[s] = (totals[s] or 0) + (t:get("s" .. s) or 0)
      end
    end
    local line = "status"
    for _, s in ipairs({200, 400, 403, 429, 431, 500, 503}) do
      if totals[s] > 0 then line = line .. string.format(" %d=%d", s, totals[s]) end
    end
    io.write(line .. "\n")
  end
end
