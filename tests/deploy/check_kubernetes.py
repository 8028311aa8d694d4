#!/usr/bin/python3
"""The Kubernetes manifests agree with each other, the policy they carry and the image.

usage: check_kubernetes.py MANIFEST_DIR DOCKERFILE EDGEGUARD_BINARY [--self-test]

Parses every document of every *.yaml in MANIFEST_DIR (each needs apiVersion, kind and
metadata.name), then checks: the ConfigMap's policy passes `edgeguard check`; the Deployment's
--config path is the ConfigMap key mounted there; its container ports are exactly the policy's
listen and admin_listen ports; liveness asks /healthz and readiness /readyz on the admin port;
the Prometheus annotations name the admin port; it runs as the uid the Dockerfile's USER names;
the Service selects the pods and targets container ports that exist; the Middleware's
forwardAuth address is that Service (its DNS name) on the port that reaches `listen`; every
IngressRoute middleware reference names a Middleware. `--self-test` plants one fault at a time.
"""
import copy
import glob
import os
import re
import subprocess
import sys
import tempfile

import yaml

PROBES = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def load(directory):
    docs = []
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    docs.append(doc)
    return docs


def dockerfile_uid(path):
    with open(path) as f:
        users = re.findall(r"^USER\s+(\d+)", f.read(), re.M)
    return int(users[-1]) if users else None


def one(docs, kind, errors):
    found = [d for d in docs if d.get("kind") == kind]
    if len(found) != 1:
        errors.append(f"want one {kind}, found {len(found)}")
        return None
    return found[0]


def check(docs, uid, edgeguard):
    errors = []
    for d in docs:
        if not (d.get("apiVersion") and d.get("kind") and (d.get("metadata") or {}).get("name")):
            errors.append(f"a document without apiVersion/kind/metadata.name: {str(d)[:60]}")
    deploy, svc, cm, mw = (one(docs, k, errors) for k in ("Deployment", "Service", "ConfigMap", "Middleware"))
    if errors:
        return errors
    ns = deploy["metadata"].get("namespace", "default")
    for d in (svc, cm, mw):
        if d["metadata"].get("namespace", "default") != ns:
            errors.append(f"{d['kind']} {d['metadata']['name']} is not in namespace {ns}")
    pod = deploy["spec"]["template"]
    labels = pod["metadata"].get("labels") or {}
    if not set(deploy["spec"]["selector"]["matchLabels"].items()) <= set(labels.items()):
        errors.append("Deployment selector does not match its pod labels")
    containers = pod["spec"]["containers"]
    c = next((c for c in containers if c["name"] == "edgeguard"), None)
    if c is None:
        return errors + ["no edgeguard container"]
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}

    # The policy: which ConfigMap key is mounted at the --config path.
    args = c.get("args") or []
    config = args[args.index("--config") + 1] if "--config" in args else None
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    policy_text = None
    for m in c.get("volumeMounts") or []:
        if config and os.path.dirname(config) == m["mountPath"].rstrip("/"):
            source = (volumes.get(m["name"]) or {}).get("configMap")
            if source is None:
                continue
            if source["name"] != cm["metadata"]["name"]:
                errors.append(f"volume {m['name']} mounts ConfigMap {source['name']}, which is not defined")
            else:
                policy_text = (cm.get("data") or {}).get(os.path.basename(config))
                if policy_text is None:
                    errors.append(f"ConfigMap {source['name']} has no key {os.path.basename(config)} (--config {config})")
    if policy_text is None:
        return errors + [f"--config {config} is not a ConfigMap key mounted in the container"]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(policy_text)
        f.flush()
        result = subprocess.run([edgeguard, "check", "--config", f.name], capture_output=True, text=True)
    if result.returncode != 0:
        errors.append(f"the ConfigMap policy fails `edgeguard check`: {result.stderr.strip()}")
    policy = yaml.safe_load(policy_text)
    listen, admin = port_of(policy["listen"]), port_of(policy["admin_listen"])
    if set(ports.values()) != {listen, admin}:
        errors.append(f"container ports {sorted(ports.values())} are not the policy's listen/admin ports {[listen, admin]}")

    def resolve(port):  # a probe or Service target: a name or a number -> container port
        return ports.get(port) if isinstance(port, str) else port

    for probe, path in PROBES.items():
        get = ((c.get(probe) or {}).get("httpGet")) or {}
        if get.get("path") != path or resolve(get.get("port")) != admin:
            errors.append(f"{probe} is {get.get('path')} on {get.get('port')}, want {path} on the admin port {admin}")
    annotations = pod["metadata"].get("annotations") or {}
    if "prometheus.io/port" in annotations and int(annotations["prometheus.io/port"]) != admin:
        errors.append(f"prometheus.io/port {annotations['prometheus.io/port']} is not the admin port {admin}")
    run_as = (pod["spec"].get("securityContext") or {}).get("runAsUser")
    if run_as != uid:
        errors.append(f"runAsUser {run_as} is not the image's USER {uid}")

    # The Service and the Middleware that calls it.
    if not set((svc["spec"].get("selector") or {}).items()) <= set(labels.items()) or not svc["spec"].get("selector"):
        errors.append("Service selector does not select the Deployment's pods")
    service_ports = {}
    for p in svc["spec"]["ports"]:
        target = resolve(p.get("targetPort", p["port"]))
        if target not in ports.values():
            errors.append(f"Service port {p['port']} targets {p.get('targetPort')}, not a container port")
        service_ports[p["port"]] = target
    address = mw["spec"]["forwardAuth"]["address"]
    m = re.match(r"http://([^:/]+):(\d+)/", address)
    name = svc["metadata"]["name"]
    hosts = {name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"}
    if not m or m.group(1) not in hosts:
        errors.append(f"Middleware address {address} is not the Service {name}.{ns}")
    elif service_ports.get(int(m.group(2))) != listen:
        errors.append(f"Middleware address port {m.group(2)} does not reach listen ({listen})")
    middlewares = {(d["metadata"]["name"], d["metadata"].get("namespace", "default"))
                   for d in docs if d["kind"] == "Middleware"}
    for route in (d for d in docs if d["kind"] == "IngressRoute"):
        for r in route["spec"]["routes"]:
            for ref in r.get("middlewares") or []:
                key = (ref["name"], ref.get("namespace", route["metadata"].get("namespace", "default")))
                if key not in middlewares:
                    errors.append(f"IngressRoute {route['metadata']['name']} uses Middleware {key}, not defined")
    return errors


def self_test(docs, uid, edgeguard):
    def kind(d, k):
        return next(x for x in d if x["kind"] == k)

    def container(d):
        return kind(d, "Deployment")["spec"]["template"]["spec"]["containers"][0]

    def policy_edit(d, old, new):
        cm = kind(d, "ConfigMap")
        cm["data"]["edgeguard.yaml"] = cm["data"]["edgeguard.yaml"].replace(old, new)

    cases = {
        "a document without kind": lambda d: d.append({"apiVersion": "v1", "metadata": {"name": "x"}}),
        "liveness on /readyz": lambda d: container(d)["livenessProbe"]["httpGet"].update({"path": "/readyz"}),
        "readiness on the ForwardAuth port": lambda d: container(d)["readinessProbe"]["httpGet"].update({"port": "forwardauth"}),
        "probe on an unknown port name": lambda d: container(d)["livenessProbe"]["httpGet"].update({"port": "metrics"}),
        "policy listens elsewhere": lambda d: policy_edit(d, "0.0.0.0:8080", "0.0.0.0:8081"),
        "invalid policy": lambda d: policy_edit(d, "routes:", "rutes:"),
        "--config not a ConfigMap key": lambda d: container(d).update({"args": ["serve", "--config", "/etc/edgeguard/policy.yaml"]}),
        "volume names another ConfigMap": lambda d: kind(d, "Deployment")["spec"]["template"]["spec"]["volumes"][0]["configMap"].update({"name": "policy"}),
        "Service targets a missing port": lambda d: kind(d, "Service")["spec"]["ports"][0].update({"targetPort": "http"}),
        "Service selects other pods": lambda d: kind(d, "Service")["spec"].update({"selector": {"app": "other"}}),
        "Middleware calls another service": lambda d: kind(d, "Middleware")["spec"]["forwardAuth"].update({"address": "http://guard.edgeguard.svc.cluster.local:8080/"}),
        "Middleware calls the admin port": lambda d: kind(d, "Middleware")["spec"]["forwardAuth"].update({"address": "http://edgeguard.edgeguard.svc.cluster.local:9090/"}),
        "IngressRoute names a missing Middleware": lambda d: kind(d, "IngressRoute")["spec"]["routes"][0]["middlewares"][0].update({"namespace": "default"}),
        "runs as another uid": lambda d: kind(d, "Deployment")["spec"]["template"]["spec"]["securityContext"].update({"runAsUser": 1000}),
        "scrape annotation on the ForwardAuth port": lambda d: kind(d, "Deployment")["spec"]["template"]["metadata"]["annotations"].update({"prometheus.io/port": "8080"}),
    }
    failed = []
    if check(docs, uid, edgeguard):
        failed.append("the committed manifests do not pass")
    for what, fn in cases.items():
        d = copy.deepcopy(docs)
        fn(d)
        if not check(d, uid, edgeguard):
            failed.append(what)
    for f in failed:
        print(f"self-test FAILED: not reported: {f}")
    if not failed:
        print(f"self-test ok: {len(cases)} planted faults reported, the committed manifests pass")
    return 1 if failed else 0


def main(argv):
    if len(argv) not in (4, 5) or (len(argv) == 5 and argv[4] != "--self-test"):
        print(__doc__)
        return 2
    directory, dockerfile, edgeguard = argv[1:4]
    docs = load(directory)
    uid = dockerfile_uid(dockerfile)
    if len(argv) == 5:
        return self_test(docs, uid, edgeguard)
    errors = check(docs, uid, edgeguard)
    for e in errors:
        print(f"{directory}: {e}")
    if not errors:
        print(f"{directory}: {len(docs)} documents agree with each other, the policy and the image")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
