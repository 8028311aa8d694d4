-- wrk script: a single-address flood on the login route, as one credential-stuffing bot without
-- a botnet would send it. After the first 5 calls (burst) every answer is 429: this measures the
-- cost of a deny, and later the Redis mode's local deny cache.
--
--   wrk -t1 -c32 -d10s --latency -s bench/load/flood.lua http://127.0.0.1:8080/ [-- ip=198.51.100.7]

local call

function init(args)
  local ip = "198.51.100.7"
  for _, a in ipairs(args) do
    local v = a:match("^ip=(.+)$")
    if v then ip = v end
  end
  local h = {
    ["X-Forwarded-Method"] = "POST",
    ["X-Forwarded-Proto"] = "https",
    ["X-Forwarded-Host"] = "auth.securenexus.net",
    ["X-Forwarded-Uri"] = "/api/v3/flows/executor/default-authentication-flow/?query=next%3D%252F",
    ["X-Forwarded-Port"] = "443",
    ["X-Forwarded-For"] = ip,
    ["User-Agent"] = "python-requests/2.31.0",
    ["Content-Type"] = "application/json",
  }
  for k, v in pairs(wrk.headers) do  -- -H from the command line
    h[k] = v
  end
  call = wrk.format("GET", "/", h)
end

function request()
  return call
end

local pace_ms = tonumber(os.getenv("EG_WRK_DELAY_MS") or "")
if pace_ms then  -- load.sh's same-load runs: N ms between an answer and the next call
  function delay()
    return pace_ms
  end
end
