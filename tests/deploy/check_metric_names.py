#!/usr/bin/python3
"""Every metric the Grafana dashboard and the alert rules query must be one edgeguard exposes.

deploy/metrics.txt is the list of exposed names (the proxy/metrics tests check /metrics against
it); this script pulls every PromQL expression out of the dashboard JSON and the alert rules and
fails on any edgeguard_* or process_* name that is not listed, or on a dashboard expression
promtool cannot parse. `--self-test` proves the check
can fail: an expression with a misspelt name must be reported.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
NAME = re.compile(r"\b((?:edgeguard|process)_[a-zA-Z0-9_]+)")


def load_names(path):
    names = set()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                names.add(line)
    return names


def dashboard_exprs(path):
    exprs = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition") and isinstance(value, str):
                    exprs.append(value)
                elif key == "query" and isinstance(value, dict) and isinstance(value.get("query"), str):
                    exprs.append(value["query"])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    with open(path) as f:
        walk(json.load(f))
    return exprs


def alert_exprs(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


def unknown_names(exprs, names):
    unknown = set()
    for expr in exprs:
        for used in NAME.findall(expr):
            if used in names:
                continue
            base = next((used[: -len(s)] for s in HISTOGRAM_SUFFIXES
                         if used.endswith(s) and used[: -len(s)] in names), None)
            if base is None:
                unknown.add(used)
    return unknown


def promql_errors(exprs):
    """Parses the dashboard expressions with promtool, Grafana variables replaced by values."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return "promtool not found"
    subst = {"$__rate_interval": "1m", "$__range": "1h", "$instance": ".*", "$route": ".*"}
    rules = []
    for i, expr in enumerate(e for e in exprs if not e.startswith("label_values(")):
        for var, value in subst.items():
            expr = expr.replace(var, value)
        rules.append({"record": f"dashboard:expr_{i}", "expr": expr})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard_rules.yml")
        with open(path, "w") as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        run = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
        return None if run.returncode == 0 else run.stdout + run.stderr


def main(argv):
    if len(argv) != 4 and not (len(argv) == 5 and argv[4] == "--self-test"):
        print("usage: check_metric_names.py METRICS_TXT DASHBOARD_JSON ALERTS_YML [--self-test]")
        return 2
    names = load_names(argv[1])
    dash = dashboard_exprs(argv[2])
    alerts = alert_exprs(argv[3])
    if len(argv) == 5:
        bad = unknown_names(['sum(rate(edgeguard_decision_total[5m]))',
                             'edgeguard_decision_seconds_buckets'], names)
        if bad != {"edgeguard_decision_total", "edgeguard_decision_seconds_buckets"}:
            print(f"self-test FAILED: misspelt names not caught, got {sorted(bad)}")
            return 1
        print("self-test ok: misspelt names are reported")
        return 0
    if len(dash) < 10 or len(alerts) < 6:
        print(f"too few expressions found (dashboard {len(dash)}, alerts {len(alerts)}): parser broken?")
        return 1
    used = {n for e in dash + alerts for n in NAME.findall(e)}
    bad = unknown_names(dash + alerts, names)
    if bad:
        for name in sorted(bad):
            print(f"unknown metric (not in {argv[1]}): {name}")
        return 1
    err = promql_errors(dash)
    if err:
        print(f"dashboard PromQL does not parse: {err}")
        return 1
    print(f"ok: {len(dash)} dashboard and {len(alerts)} alert expressions use {len(used)} known names")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
