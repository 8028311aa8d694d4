#!/usr/bin/env python3
"""The nginx peer of the load benchmark gives the same verdicts as edgeguard.

bench/load.sh compares edgeguard with bench/peers/nginx/nginx.conf.in; the comparison is only
fair if both enforce the same policy. This starts `edgeguard serve` on config/edgeguard.yaml and
the nginx peer on 127.0.0.1 (edgeguard on port 0, nginx on a port reserved for this process),
sends both the same ForwardAuth calls (routes, methods, hosts with case and port, X-Forwarded-For
spoofing, admin UIs from allowed and other networks, a login burst and an ERP burst from one
address, the office bypass) and checks, call by call, that both answer the status the policy
says. The tailnet is config/tailnet-status.json and the
country database tests/data/maxmind/GeoIP2-Country-Test.mmdb (GB 81.2.69.160/27 and
2a02:d680::/32, IE 2a02:e900::/32, IR 2a02:d380::/32, US 216.160.83.56/29, SE 89.160.20.112/28).

  verdict_test.py --edgeguard BIN --source REPO_ROOT [--nginx /usr/sbin/nginx]
"""

import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ports import reserve_port  # noqa: E402  (tests/support/ports.py)

SN = "auth.securenexus.net"
LOGIN = "/api/v3/flows/executor/default-authentication-flow/?query=next%3D%252F"
FLOW = "/if/flow/default-authentication-flow/"
TOKEN = "/application/o/token/"
OUTPOST = "/outpost.goauthentik.io/auth/traefik"
ERP = "erp.byrne-accounts.org"


def calls():
    """(label, method, host, uri, x-forwarded-for, expected status) in sending order."""
    c = []
    add = lambda *a: c.append(a)
    # authentik-outpost: never limited, and it comes before the admin route.
    add("outpost auth", "GET", SN, OUTPOST, "198.51.100.1", 200)
    add("outpost on grafana, outsider", "GET", "grafana.securenexus.net", OUTPOST, "8.8.8.8", 200)
    add("outpost POST", "POST", "wiki.securenexus.net", "/outpost.goauthentik.io/callback?code=1",
        "8.8.4.4", 200)
    # authentik-login: per-ip 10/min burst 5 -> the 6th call in a row is refused.
    for i in range(5):
        add(f"login burst {i + 1}", "POST", SN, LOGIN, "198.51.100.7", 200)
    for i in range(5, 8):
        add(f"login burst {i + 1}", "POST", SN, LOGIN, "198.51.100.7", 429)
    add("login, other address", "POST", SN, LOGIN, "198.51.100.8", 200)
    add("token endpoint", "POST", SN, TOKEN, "198.51.100.9", 200)
    add("token endpoint, limited address", "POST", SN, TOKEN, "198.51.100.7", 429)
    add("= flow page", "POST", SN, FLOW, "198.51.100.10", 200)
    add("= flow page with query", "POST", SN, FLOW + "?next=%2F", "198.51.100.10", 200)
    add("= flow page is exact", "POST", SN, FLOW + "extra", "198.51.100.7", 200)
    add("login route is POST only", "GET", SN, LOGIN, "198.51.100.7", 200)
    add("rightmost XFF decides (limited)", "POST", SN, LOGIN, "1.1.1.1, 198.51.100.7", 429)
    add("rightmost XFF decides (fresh)", "POST", SN, LOGIN, "198.51.100.7, 198.51.100.11", 200)
    add("host is case-insensitive", "POST", "AUTH.SecureNexus.net", LOGIN, "198.51.100.7", 429)
    add("host port is stripped", "POST", SN + ":443", LOGIN, "198.51.100.7", 429)
    add("login from IPv6", "POST", SN, LOGIN, "2001:db8:1::1", 200)
    add("login path prefix", "POST", SN, "/api/v3/flows/executor/other/", "198.51.100.7", 429)
    add("not the login prefix", "POST", SN, "/api/v3/flows/instances/", "198.51.100.7", 200)
    # authentik-login geo {deny_countries: [KP, IR]}: before the limits; unknown countries pass.
    add("login from IR", "POST", SN, LOGIN, "2a02:d380:5:6::1", 403)
    add("login from IR, spoofed GB first", "POST", SN, LOGIN, "81.2.69.170, 2a02:d380:5:7::1", 403)
    add("login from GB", "POST", SN, LOGIN, "81.2.69.171", 200)
    add("outpost from IR (no geo rule)", "GET", SN, OUTPOST, "2a02:d380:5:6::1", 200)
    # admin: tailnet {require: enrolled, tags: [tag:admin]}; only admin-box is tagged tag:admin.
    add("admin, public address", "GET", "grafana.securenexus.net", "/d/x", "8.8.8.8", 403)
    add("admin, admin-box v4", "GET", "grafana.securenexus.net", "/d/x", "100.64.0.9", 200)
    add("admin, admin-box v6", "GET", "portainer.securenexus.net", "/", "fd7a:115c:a1e0::9", 200)
    add("admin wildcard, admin-box", "GET", "prometheus.admin.securenexus.net", "/graph",
        "100.64.0.9", 200)
    add("admin, enrolled without the tag", "GET", "grafana.securenexus.net", "/", "100.64.0.5", 403)
    add("admin, enrolled untagged v6", "GET", "grafana.securenexus.net", "/", "fd7a:115c:a1e0::1:2",
        403)
    add("admin, gateway (tag:server)", "GET", "grafana.securenexus.net", "/", "100.101.102.1", 403)
    add("admin, tailnet range, not enrolled", "GET", "portainer.securenexus.net", "/",
        "100.64.0.10", 403)
    add("admin, tailnet v6 range, not enrolled", "GET", "prometheus.admin.securenexus.net", "/",
        "fd7a:115c:a1e0::10", 403)
    add("admin, LAN", "POST", "grafana.securenexus.net", "/api/ds/query", "192.168.1.20", 403)
    add("admin, spoofed leftmost XFF", "GET", "grafana.securenexus.net", "/", "100.64.0.9, 8.8.8.8",
        403)
    add("admin, real rightmost XFF", "GET", "grafana.securenexus.net", "/", "8.8.8.8, 100.64.0.9",
        200)
    # No route: default allow.
    add("no route host", "GET", "www.example.org", "/", "2a02:d380:5:6::1", 200)
    add("no route, securenexus apex", "GET", "securenexus.net", "/", "8.8.8.8", 200)
    add("no route, other subdomain path", "GET", "wiki.securenexus.net", "/page", "8.8.8.8", 200)
    # erp: bypass [office], geo {allow_countries: [GB, IE], unknown: deny}, per-ip 300/min burst 60.
    add("erp from GB", "GET", ERP, "/app/sales-invoice", "81.2.69.161", 200)
    add("erp from GB v6", "POST", "pos.byrne-accounts.org", "/api/method/x", "2a02:d680:1:2::1", 200)
    add("erp from IE v6", "GET", ERP, "/app", "2a02:e900:abcd:1::5", 200)
    add("erp from US", "GET", ERP, "/app", "216.160.83.57", 403)
    add("erp from SE", "GET", ERP, "/app", "89.160.20.115", 403)
    add("erp from IR", "GET", ERP, "/app", "2a02:d380:5:6::1", 403)
    add("erp, country unknown", "GET", ERP, "/app", "198.51.100.20", 403)
    add("erp, private address not judged", "GET", ERP, "/app", "10.1.2.3", 200)
    add("erp, tailnet address not judged", "GET", ERP, "/app", "100.88.1.2", 200)
    add("erp, office (unknown country) bypasses", "GET", ERP, "/app", "203.0.113.5", 200)
    for i in range(60):
        add(f"erp burst {i + 1}", "GET", ERP, "/app", "81.2.69.170", 200)
    add("erp burst 61", "GET", ERP, "/app", "81.2.69.170", 429)
    add("erp burst 62", "GET", "pos.byrne-accounts.org", "/app", "81.2.69.170", 429)
    add("erp, other GB client", "GET", ERP, "/app", "81.2.69.172", 200)
    for i in range(62):
        add(f"erp office {i + 1}", "GET", ERP, "/app", "203.0.113.5", 200)
    return c


def wait_started(log_path, proc, deadline_s=10.0):
    """edgeguard's ports, from its "started" line (it listens on port 0)."""
    deadline = time.monotonic() + deadline_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"edgeguard exited with {proc.returncode}")
        with open(log_path) as f:
            m = re.search(r'"event":"started".*"port":(\d+).*"admin_port":(\d+)', f.read())
        if m:
            return int(m.group(1)), int(m.group(2))
        if time.monotonic() > deadline:
            raise RuntimeError(f"edgeguard did not log its start after {deadline_s} s")
        time.sleep(0.02)  # poll period; the log line is the synchronisation


def wait_http(port, path, proc, what, deadline_s=10.0):
    deadline = time.monotonic() + deadline_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not answering on port {port} after {deadline_s} s")
            time.sleep(0.02)


def ask(conn, method, host, uri, xff):
    conn.request("GET", "/", headers={
        "X-Forwarded-Method": method, "X-Forwarded-Proto": "https", "X-Forwarded-Host": host,
        "X-Forwarded-Uri": uri, "X-Forwarded-For": xff, "X-Forwarded-Port": "443",
        "User-Agent": "verdict-test"})
    r = conn.getresponse()
    r.read()
    return r.status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgeguard", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="edgeguard-peers.")
    procs = []
    nodes_file = None
    try:
        # edgeguard listens on port 0 and logs the ports it got; nginx cannot report its port,
        # so it gets one reserved for this process (tests/support/ports.py).
        ngx_port = reserve_port()
        # Keep the policy's relative paths: its tailnet file next to it, the test country
        # database where it expects its country_db.
        nginx_geoip = ""
        with open(os.path.join(args.source, "config/edgeguard.yaml")) as f:
            lines = []
            for line in f:
                m = re.match(r"geoip:.*country_db: *([^,} ]+)", line)
                if m:
                    nginx_geoip = os.path.join(work, m.group(1))
                    os.makedirs(os.path.dirname(nginx_geoip), exist_ok=True)
                    shutil.copy(os.path.join(args.source,
                                             "tests/data/maxmind/GeoIP2-Country-Test.mmdb"),
                                nginx_geoip)
                m = re.match(r" *nodes:.*file: *([^,} ]+)", line)
                if m:
                    nodes_file = os.path.join(work, m.group(1))
                    shutil.copy(os.path.join(args.source, "config", m.group(1)), nodes_file)
                if line.startswith("listen:"):
                    line = "listen: 127.0.0.1:0\n"
                elif line.startswith("admin_listen:"):
                    line = "admin_listen: 127.0.0.1:0\n"
                elif line.startswith("threads:"):
                    line = "threads: 1\n"
                lines.append(line)
        with open(os.path.join(work, "edgeguard.yaml"), "w") as f:
            f.writelines(lines)

        peer_dir = os.path.join(args.source, "bench/peers/nginx")
        ngx_run = os.path.join(work, "nginx")
        os.mkdir(ngx_run)
        with open(os.path.join(ngx_run, "tailnet-admin.geo"), "w") as f:
            if nodes_file:
                subprocess.run([sys.executable, os.path.join(peer_dir, "tailnet_geo.py"),
                                nodes_file, "0", "tag:admin"], stdout=f, check=True)
        with open(os.path.join(peer_dir, "nginx.conf.in")) as f:
            conf = (f.read().replace("@LISTEN@", f"127.0.0.1:{ngx_port}")
                    .replace("@RUN_DIR@", ngx_run).replace("@WORKERS@", "1")
                    .replace("@PEER_DIR@", peer_dir).replace("@GEOIP_COUNTRY_DB@", nginx_geoip))
        with open(os.path.join(work, "nginx.conf"), "w") as f:
            f.write(conf)

        eg_log = open(os.path.join(work, "edgeguard.log"), "w")
        procs.append(subprocess.Popen(
            [args.edgeguard, "serve", "--config", os.path.join(work, "edgeguard.yaml")],
            stdout=eg_log, stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [args.nginx, "-e", os.path.join(ngx_run, "error.log"), "-p", ngx_run, "-c",
             os.path.join(work, "nginx.conf")]))
        eg_port, eg_admin = wait_started(os.path.join(work, "edgeguard.log"), procs[0])
        wait_http(eg_admin, "/healthz", procs[0], "edgeguard")
        wait_http(ngx_port, "/", procs[1], "nginx")

        eg = http.client.HTTPConnection("127.0.0.1", eg_port, timeout=5)
        ngx = http.client.HTTPConnection("127.0.0.1", ngx_port, timeout=5)
        # On kept-alive connections, a burst from one address goes to one server and then to the
        # other, each over in a few tens of milliseconds: well inside the 200 ms the fastest
        # limit (erp, 300/min) needs to give a token back, so the boundary is exact.
        failures = []
        sample = calls()
        segments = []  # runs of consecutive calls from one address (bursts) stay together
        for call in sample:
            if segments and segments[-1][-1][4] == call[4]:
                segments[-1].append(call)
            else:
                segments.append([call])
        slowest_ms = 0.0
        for segment in segments:
            answers = {}
            for name, conn in (("edgeguard", eg), ("nginx", ngx)):
                start = time.monotonic()
                answers[name] = [ask(conn, m, h, u, x) for _, m, h, u, x, _ in segment]
                slowest_ms = max(slowest_ms, (time.monotonic() - start) * 1000)
            for (label, method, host, uri, xff, want), got_eg, got_ngx in zip(
                    segment, answers["edgeguard"], answers["nginx"]):
                if not (got_eg == got_ngx == want):
                    failures.append(f"{label}: {method} {host}{uri} from {xff}: "
                                    f"expected {want}, edgeguard {got_eg}, nginx {got_ngx}")
        print(f"{len(sample)} calls to each server; the longest run from one address took "
              f"{slowest_ms:.0f} ms")
        for f in failures:
            print("MISMATCH " + f)
        if failures:
            eg_log.flush()
            print("--- edgeguard log (tail) ---")
            with open(os.path.join(work, "edgeguard.log")) as f:
                print("".join(f.readlines()[-20:]))
            return 1
        print("all verdicts equal")
        return 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
