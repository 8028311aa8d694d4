#!/usr/bin/python3
"""deploy/compose.yaml names only things that exist and agree, checked without a container engine.

usage: check_compose.py COMPOSE_YAML EDGEGUARD_BINARY [--self-test]

Checks: the file parses; each service's build context and Dockerfile exist; depends_on names a
service (one with a healthcheck when the condition is service_healthy); every network, named
volume, secret and config a service uses is declared at the top level, and files behind bind
mounts, secrets and configs exist; the policy that the edgeguard service mounts at its --config
path passes `edgeguard check`, listens on exactly the ports the service exposes, and names a
Redis service it shares a network with; the Traefik labels' forwardauth address is that service
and its ForwardAuth port. `--self-test` plants one fault at a time and expects each reported.
"""
import copy
import os
import re
import subprocess
import sys
import tempfile

import yaml

SERVICE_REFS = ("networks", "secrets", "configs")


def names(value):
    """A list or mapping of names (compose accepts both) -> the names."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value)
    return [v if isinstance(v, str) else v.get("source") for v in value]


def split_volume(entry):
    """Short or long volume syntax -> (type, source, target)."""
    if isinstance(entry, dict):
        return entry.get("type", "volume"), entry.get("source"), entry.get("target")
    parts = entry.split(":")
    if len(parts) == 1:
        return "volume", None, parts[0]  # anonymous volume
    source, target = parts[0], parts[1]
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return kind, source, target


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def container_ports(service):
    ports = set()
    for p in service.get("expose") or []:
        ports.add(int(str(p).split("/")[0]))
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            ports.add(int(p["target"]))
        else:
            ports.add(int(str(p).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def config_arg(service):
    cmd = service.get("command") or []
    if isinstance(cmd, str):
        cmd = cmd.split()
    return cmd[cmd.index("--config") + 1] if "--config" in cmd else None


def check(doc, base, edgeguard, file_exists=os.path.exists):
    errors = []
    services = doc.get("services") or {}
    if not services:
        return ["no services"]
    declared = {key: set(doc.get(key) or {}) for key in ("networks", "volumes", "secrets", "configs")}
    for key in ("secrets", "configs"):
        for name, spec in (doc.get(key) or {}).items():
            if spec and "file" in spec and not file_exists(os.path.join(base, spec["file"])):
                errors.append(f"{key}.{name}: file {spec['file']} does not exist")

    for name, svc in services.items():
        build = svc.get("build")
        if build is not None:
            context = os.path.join(base, build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not file_exists(context):
                errors.append(f"{name}: build context {context} does not exist")
            elif not file_exists(os.path.join(context, dockerfile)):
                errors.append(f"{name}: Dockerfile {dockerfile} not in the build context")
        deps = svc.get("depends_on") or []
        for dep in names(deps):
            if dep not in services:
                errors.append(f"{name}: depends_on {dep}, which is not a service")
            elif (isinstance(deps, dict) and (deps[dep] or {}).get("condition") == "service_healthy"
                  and "healthcheck" not in services[dep]):
                errors.append(f"{name}: waits for {dep} to be healthy, but {dep} has no healthcheck")
        for key in SERVICE_REFS:
            for ref in names(svc.get(key)):
                if ref not in declared[key] and not (key == "networks" and ref == "default"):
                    errors.append(f"{name}: {key[:-1]} {ref} is not declared at the top level")
        for entry in svc.get("volumes") or []:
            kind, source, _ = split_volume(entry)
            if kind == "bind" and not file_exists(os.path.join(base, source)):
                errors.append(f"{name}: bind mount source {source} does not exist")
            elif kind == "volume" and source and source not in declared["volumes"]:
                errors.append(f"{name}: volume {source} is not declared at the top level")
    errors += check_edgeguard(services, base, edgeguard, file_exists)
    return errors


def check_edgeguard(services, base, edgeguard, file_exists):
    svc = services.get("edgeguard")
    if svc is None:
        return ["no edgeguard service"]
    errors = []
    config = config_arg(svc)
    mounts = {split_volume(v)[2]: split_volume(v)[1] for v in svc.get("volumes") or []}
    if config not in mounts:
        return [f"edgeguard: --config {config} is not a mounted file"]
    policy_path = os.path.join(base, mounts[config])
    if not file_exists(policy_path):
        return errors  # reported above
    with open(policy_path) as f:
        policy_text = f.read()
    result = subprocess.run([edgeguard, "check", "--config", policy_path],
                            capture_output=True, text=True)
    if result.returncode != 0:
        errors.append(f"edgeguard: the mounted policy fails `edgeguard check`: {result.stderr.strip()}")
    policy = yaml.safe_load(policy_text)
    listen = port_of(policy["listen"])
    wanted = {listen, port_of(policy["admin_listen"])}
    exposed = container_ports(svc)
    if exposed != wanted:
        errors.append(f"edgeguard: exposes {sorted(exposed)} but the policy listens on {sorted(wanted)}")
    if (policy.get("store") or {}).get("type") == "redis":
        host = policy["store"]["redis"]["address"].rsplit(":", 1)[0]
        if host not in services:
            errors.append(f"edgeguard: the policy's Redis {host} is not a service")
        elif not set(names(svc.get("networks"))) & set(names(services[host].get("networks"))):
            errors.append(f"edgeguard: shares no network with {host}")
    for label in svc.get("labels") or []:
        m = re.match(r"traefik\.http\.middlewares\.[^.]+\.forwardauth\.address=http://([^:/]+):(\d+)/", label)
        if m:
            if m.group(1) not in services:
                errors.append(f"edgeguard: forwardauth address host {m.group(1)} is not a service")
            if int(m.group(2)) != listen:
                errors.append(f"edgeguard: forwardauth address port {m.group(2)} is not listen ({listen})")
            break
    else:
        errors.append("edgeguard: no traefik forwardauth.address label")
    return errors


def self_test(doc, base, edgeguard):
    def mutate(fn):
        d = copy.deepcopy(doc)
        fn(d)
        return d

    eg = lambda d: d["services"]["edgeguard"]
    bad_policy = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    bad_policy.write("listen: 0.0.0.0:8080\nadmin_listen: 0.0.0.0:9090\nroutes: [{name: x, limts: []}]\n")
    bad_policy.close()
    cases = {
        "depends_on a missing service": lambda d: eg(d)["depends_on"].update({"cache": {"condition": "service_started"}}),
        "healthy without a healthcheck": lambda d: d["services"]["redis"].pop("healthcheck"),
        "undeclared network": lambda d: eg(d)["networks"].append("frontend"),
        "missing bind source": lambda d: eg(d)["volumes"].append("./nowhere.yaml:/etc/x:ro"),
        "undeclared named volume": lambda d: eg(d)["volumes"].append("state:/var/lib/edgeguard"),
        "undeclared secret": lambda d: eg(d).update({"secrets": ["redis_password"]}),
        "missing secret file": lambda d: d.update({"secrets": {"s": {"file": "./nope.txt"}}}),
        "exposed port the policy does not listen on": lambda d: eg(d).update({"expose": ["8081", "9090"]}),
        "label port is not listen": lambda d: eg(d).update({"labels": [
            l.replace("edgeguard:8080", "edgeguard:8081") for l in eg(d)["labels"]]}),
        "--config not mounted": lambda d: eg(d).update({"command": ["serve", "--config", "/etc/other.yaml"]}),
        "missing Dockerfile": lambda d: eg(d)["build"].update({"dockerfile": "deploy/Containerfile"}),
        "no network shared with Redis": lambda d: eg(d).update({"networks": ["proxy"]}),
        "invalid mounted policy": lambda d: eg(d).update({"volumes": [
            f"{bad_policy.name}:/etc/edgeguard/edgeguard.yaml:ro"]}),
    }
    failed = []
    if check(doc, base, edgeguard):
        failed.append("the committed file does not pass")
    for what, fn in cases.items():
        if not check(mutate(fn), base, edgeguard):
            failed.append(what)
    os.unlink(bad_policy.name)
    for f in failed:
        print(f"self-test FAILED: not reported: {f}")
    if not failed:
        print(f"self-test ok: {len(cases)} planted faults reported, the committed file passes")
    return 1 if failed else 0


def main(argv):
    if len(argv) not in (3, 4) or (len(argv) == 4 and argv[3] != "--self-test"):
        print(__doc__)
        return 2
    path, edgeguard = argv[1], argv[2]
    with open(path) as f:
        doc = yaml.safe_load(f)
    base = os.path.dirname(os.path.abspath(path))
    if len(argv) == 4:
        return self_test(doc, base, edgeguard)
    errors = check(doc, base, edgeguard)
    for e in errors:
        print(f"{path}: {e}")
    if not errors:
        print(f"{path}: {len(doc['services'])} services; every reference exists and agrees")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
