#!/usr/bin/env python3
"""Makes N manual bans on a running edgeguard through its admin API, for bench/profile.sh.

    bench/preload_bans.py ADMIN_PORT N [ROUTE...]

POST /v1/bans {"subject": "ip:240.x.y.z", "for": "24h", "route": ...} N times on 127.0.0.1:
clients in 240.0.0.0/8 (reserved: the load mix never sends them, so every verdict stays the
same and what changes is the cost of checking bans). Routes are cycled (default: every route,
"*"). Then GET /v1/bans must list N, else it exits 1. No token: the admin listener of the
bench's config has none (loopback callers only).
"""
import http.client
import json
import sys


def call(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    port, n = int(argv[1]), int(argv[2])
    routes = argv[3:] or ["*"]
    for i in range(n):
        subject = "ip:240.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
        body = json.dumps({"subject": subject, "for": "24h", "route": routes[i % len(routes)]})
        status, data = call(port, "POST", "/v1/bans", body)
        if status != 201:
            print(f"preload_bans: POST /v1/bans answered {status}: {data[:200]!r}", file=sys.stderr)
            return 1
    status, data = call(port, "GET", "/v1/bans")
    listed = len(json.loads(data)["bans"]) if status == 200 else -1
    if listed != n:
        print(f"preload_bans: {listed} bans listed after making {n}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
