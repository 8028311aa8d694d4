#!/usr/bin/python3
"""A real Prometheus (Debian's package) scrapes a running edgeguard.

Starts edgeguard on ports the kernel picks (listen on port 0, ports read from the "started" log
line) and Prometheus, on a port reserved for this process (tests/support/ports.py), with a 1 s
scrape of the admin port, sends a few decisions, then queries Prometheus's HTTP API until every
SPEC section 6 series is present (deadline 30 s). Also checks that every metric name in
deploy/metrics.txt appears in edgeguard's own /metrics. Everything binds 127.0.0.1 and is
killed at the end.

usage: scrape_test.py EDGEGUARD_BINARY PROMETHEUS_BINARY METRICS_TXT
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'support'))
from ports import reserve_port  # noqa: E402  (tests/support/ports.py)

DEADLINE_S = 30

# SPEC section 6: every one must be a series Prometheus has scraped.
SPEC_SERIES = [
    'edgeguard_decisions_total',
    'edgeguard_decision_seconds_bucket',
    'edgeguard_limit_near_total',
    'edgeguard_store_errors_total',
    'edgeguard_store_fallback_active',
    'edgeguard_redis_seconds_count',
    'edgeguard_local_buckets',
    'edgeguard_config_reloads_total',
    'edgeguard_tailnet_nodes',
    'edgeguard_geoip_build_epoch_seconds',
    'edgeguard_bad_requests_total',
    'process_resident_memory_bytes',
    'process_cpu_seconds_total',
    'process_open_fds',
    'process_start_time_seconds',
]

POLICY = """listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
threads: 1
routes:
  - name: login
    hosts: [auth.test]
    limits:
      - {name: per-ip, average: 1, period: 1h, burst: 2}
  - name: office
    hosts: [office.test]
    deny_ips: [203.0.113.0/24]
default: allow
"""


def http(url, headers=None, timeout=5):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ''


def wait_for(what, cond, deadline):
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)  # poll period; the condition is the synchronisation
    raise SystemExit('timed out waiting for ' + what)


def main():
    edgeguard, prometheus, metrics_txt = sys.argv[1:4]
    tmp = tempfile.mkdtemp(prefix='edgeguard-prom-')
    procs = []
    try:
        deadline = time.monotonic() + DEADLINE_S
        config = os.path.join(tmp, 'policy.yaml')
        with open(config, 'w') as f:
            f.write(POLICY)
        log_path = os.path.join(tmp, 'edgeguard.log')
        log = open(log_path, 'w')
        procs.append(subprocess.Popen([edgeguard, 'serve', '--config', config],
                                      stdout=log, stderr=subprocess.STDOUT))

        def started():
            with open(log_path) as f:
                m = re.search(r'"event":"started".*"port":(\d+).*"admin_port":(\d+)', f.read())
            return m and (int(m.group(1)), int(m.group(2)))
        port, admin_port = wait_for('edgeguard to start', started, deadline)

        # A few decisions: allowed, rate limited (burst 2), denied by ip, default.
        def call(host, ip):
            return http('http://127.0.0.1:%d/' % port, {
                'X-Forwarded-Method': 'GET', 'X-Forwarded-Proto': 'https',
                'X-Forwarded-Host': host, 'X-Forwarded-Uri': '/', 'X-Forwarded-For': ip})[0]
        statuses = [call('auth.test', '198.51.100.7') for _ in range(3)]
        statuses += [call('office.test', '203.0.113.9'), call('other.test', '198.51.100.7')]
        if statuses != [200, 200, 429, 403, 200]:
            raise SystemExit('unexpected statuses %r' % statuses)

        # Every name in deploy/metrics.txt is on edgeguard's /metrics.
        status, text = http('http://127.0.0.1:%d/metrics' % admin_port)
        if status != 200:
            raise SystemExit('/metrics answered %d' % status)
        exposed = set(re.findall(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)', text, re.M))
        # A labelled counter has no sample before its first event (edgeguard_bans_total with no
        # ban yet), as in every Prometheus client: its TYPE line is the family's declaration.
        exposed |= set(re.findall(r'^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ', text, re.M))
        names = [l.strip() for l in open(metrics_txt) if l.strip() and not l.startswith('#')]
        missing = [n for n in names
                   if n not in exposed and not {n + '_bucket', n + '_count'} <= exposed]
        if missing:
            raise SystemExit('metrics.txt names missing from /metrics: %s' % missing)

        # Prometheus does not report the port it got for :0; a reserved one cannot be taken
        # by anything else before it binds (tests/support/ports.py).
        prom_port = reserve_port()
        prom_config = os.path.join(tmp, 'prometheus.yml')
        with open(prom_config, 'w') as f:
            f.write('global: {scrape_interval: 1s, evaluation_interval: 1s}\n'
                    'scrape_configs:\n'
                    '  - job_name: edgeguard\n'
                    '    static_configs: [{targets: ["127.0.0.1:%d"]}]\n' % admin_port)
        procs.append(subprocess.Popen(
            [prometheus, '--config.file=' + prom_config,
             '--storage.tsdb.path=' + os.path.join(tmp, 'tsdb'),
             '--web.listen-address=127.0.0.1:%d' % prom_port, '--log.level=warn'],
            stdout=open(os.path.join(tmp, 'prometheus.log'), 'w'), stderr=subprocess.STDOUT))
        api = 'http://127.0.0.1:%d/api/v1/' % prom_port

        def query(expr):
            status, body = http(api + 'query?' + urllib.parse.urlencode({'query': expr}))
            if status != 200:
                return None
            return json.loads(body)['data']['result']

        def all_present():
            found = query('count by (__name__) ({__name__=~"edgeguard_.*|process_.*",'
                          'job="edgeguard"})')
            if not found:
                return None
            names = {r['metric']['__name__'] for r in found}
            return names if all(s in names for s in SPEC_SERIES) else None
        wait_for('Prometheus to scrape every SPEC series', all_present, deadline)

        # The scraped values are the decisions made above, labelled by route and verdict.
        def value(expr):
            r = query(expr)
            return float(r[0]['value'][1]) if r else None
        checks = {
            'sum(edgeguard_decisions_total{route="login",verdict="allow"})': 2,
            'sum(edgeguard_decisions_total{route="login",verdict="deny",reason="rate_limit"})': 1,
            'sum(edgeguard_decisions_total{route="office",verdict="deny",reason="ip"})': 1,
            'sum(edgeguard_decisions_total{route="default",verdict="allow"})': 1,
            'up{job="edgeguard"}': 1,
        }
        for expr, want in checks.items():
            got = value(expr)
            if got != want:
                raise SystemExit('%s = %r, want %r' % (expr, got, want))
        print('ok: Prometheus scraped %d SPEC series; decisions match' % len(SPEC_SERIES))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
