#!/usr/bin/python3
"""deploy/compose.yaml names only things that exist and agree, checked without a container engine.

usage: check_compose.py COMPOSE_YAML EDGEGUARD_BINARY [--overlay OVERLAY_YAML] [--self-test]

Checks: the file parses; each service's build context and Dockerfile exist; depends_on names a
service (one with a healthcheck when the condition is service_healthy); every network, named
volume, secret and config a service uses is declared at the top level, and files behind bind
mounts, secrets and configs exist; the policy that the edgeguard service mounts at its --config
path passes `edgeguard check`, listens on exactly the ports the service exposes, and names a
Redis service it shares a network with; the Traefik labels' forwardauth address is that service
and its ForwardAuth port. `--self-test` plants one fault at a time and expects each reported.

With `--overlay` (deploy/crowdsec/compose.yaml) the two files are merged as `docker compose -f
BASE -f OVERLAY` merges them (relative paths resolve against the base file's folder) and the
result is checked as above, plus the CrowdSec pieces: the policy's `crowdsec.lapi` is a service
that shares a network with edgeguard and exposes that port; `api_key_file` and
`report.password_file` are secrets the edgeguard service has; the bouncer key is also a
`bouncer_key_<name>` secret of the crowdsec service (the image registers the bouncer from it);
every file an acquisition config in a mounted acquis.d reads lies under a mount of that service.
A secret file under secrets/ is the operator's: it need not exist, but the overlay's header must
say how to create it.
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


def merge(base, overlay):
    """`docker compose -f base -f overlay`: mappings merge key by key, a service's volumes by
    target (the overlay's entry wins), the other lists add the overlay's new entries, and any
    other value of the overlay replaces the base's."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            if key not in out:
                out[key] = copy.deepcopy(value)
            elif key == "volumes" and isinstance(value, list) and isinstance(out[key], list):
                by_target = {split_volume(v)[2]: v for v in out[key]}
                for v in value:
                    by_target[split_volume(v)[2]] = v
                out[key] = list(by_target.values())
            elif key == "depends_on" and isinstance(value, list) and isinstance(out[key], dict):
                out[key] = {**out[key], **{d: {"condition": "service_started"} for d in value}}
            elif key == "depends_on" and isinstance(value, dict) and isinstance(out[key], list):
                out[key] = {**{d: {"condition": "service_started"} for d in out[key]}, **value}
            else:
                out[key] = merge(out[key], value)
        return out
    if isinstance(base, list) and isinstance(overlay, list):
        return base + [v for v in overlay if v not in base]
    return copy.deepcopy(overlay)


def check(doc, base, edgeguard, file_exists=os.path.exists, operator_files=()):
    errors = []
    services = doc.get("services") or {}
    if not services:
        return ["no services"]
    declared = {key: set(doc.get(key) or {}) for key in ("networks", "volumes", "secrets", "configs")}
    for key in ("secrets", "configs"):
        for name, spec in (doc.get(key) or {}).items():
            if not spec or "file" not in spec:
                continue
            path = os.path.normpath(spec["file"])
            if path.startswith("secrets" + os.sep):
                if path not in operator_files:
                    errors.append(f"{key}.{name}: {spec['file']} is the operator's, but no header "
                                  f"line says how to create deploy/{path}")
            elif not file_exists(os.path.join(base, spec["file"])):
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
            if kind == "bind" and source.startswith("/"):
                continue  # a host path (Traefik's log directory): the host's, not this repository's
            if kind == "bind" and not file_exists(os.path.join(base, source)):
                errors.append(f"{name}: bind mount source {source} does not exist")
            elif kind == "volume" and source and source not in declared["volumes"]:
                errors.append(f"{name}: volume {source} is not declared at the top level")
    errors += check_edgeguard(services, base, edgeguard, file_exists)
    return errors


def policy_of(services, base):
    """The policy the edgeguard service mounts at its --config path, parsed (None if absent)."""
    svc = services.get("edgeguard") or {}
    mounts = {split_volume(v)[2]: split_volume(v)[1] for v in svc.get("volumes") or []}
    path = os.path.join(base, mounts.get(config_arg(svc)) or "")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return yaml.safe_load(f)


def check_crowdsec(doc, base, policy):
    """The CrowdSec overlay's pieces agree with each other and with the policy edgeguard serves."""
    services = doc.get("services") or {}
    crowdsec = (policy or {}).get("crowdsec")
    if not crowdsec:
        return ["edgeguard: the mounted policy has no crowdsec section"]
    errors = []
    eg = services["edgeguard"]
    m = re.match(r"http://([^:/]+):(\d+)/?$", crowdsec.get("lapi", ""))
    if not m:
        return [f"crowdsec.lapi {crowdsec.get('lapi')!r} is not http://SERVICE:PORT"]
    host, lapi_port = m.group(1), int(m.group(2))
    lapi = services.get(host)
    if lapi is None:
        return [f"crowdsec.lapi: {host} is not a service"]
    if not set(names(eg.get("networks"))) & set(names(lapi.get("networks"))):
        errors.append(f"edgeguard: shares no network with {host}")
    if lapi_port not in container_ports(lapi):
        errors.append(f"{host}: does not expose {lapi_port}, the port crowdsec.lapi names")
    if lapi.get("ports"):
        errors.append(f"{host}: publishes ports; LAPI speaks plain http and stays internal")

    def secret(path, what):
        if not path.startswith("/run/secrets/"):
            errors.append(f"crowdsec.{what} {path} is not a secret (/run/secrets/NAME)")
            return None
        name = path[len("/run/secrets/"):]
        if name not in names(eg.get("secrets")):
            errors.append(f"edgeguard: crowdsec.{what} reads secret {name}, which it is not given")
        return name

    key = secret(crowdsec.get("api_key_file", ""), "api_key_file")
    if key is not None:
        if not key.startswith("bouncer_key_"):
            errors.append(f"secret {key}: the crowdsec image registers bouncers only from "
                          "secrets named bouncer_key_<name>")
        if key not in names(lapi.get("secrets")):
            errors.append(f"{host}: not given secret {key}, so it never registers that bouncer")
    if crowdsec.get("report"):
        secret(crowdsec["report"].get("password_file", ""), "report.password_file")

    # Acquisition: what the agent reads must be mounted into its container.
    mounts = [split_volume(v) for v in lapi.get("volumes") or []]
    targets = [t for _, _, t in mounts]
    for kind, source, target in mounts:
        if kind != "bind" or target.rstrip("/") != "/etc/crowdsec/acquis.d":
            continue
        folder = os.path.join(base, source)
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            with open(os.path.join(folder, entry)) as f:
                for acquis in yaml.safe_load_all(f):
                    for file in (acquis or {}).get("filenames") or []:
                        if not any(file.startswith(t.rstrip("/") + "/") for t in targets):
                            errors.append(f"{host}: acquisition {entry} reads {file}, which no "
                                          "volume mounts")
    return errors


def check_overlay(doc, base, edgeguard, overlay_text, file_exists=os.path.exists):
    """The merged file checked as the base is, then the CrowdSec pieces."""
    created = set(os.path.normpath(m) for m in
                  re.findall(r"^#.*>\s*deploy/(secrets/\S+)", overlay_text, re.M))
    errors = check(doc, base, edgeguard, file_exists, created)
    return errors + check_crowdsec(doc, base, policy_of(doc.get("services") or {}, base))


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


def self_test_overlay(doc, base, edgeguard, overlay_text):
    """Each planted fault must be reported with its own message."""
    def mutate(fn):
        d = copy.deepcopy(doc)
        fn(d)
        return d

    svc = lambda d, name: d["services"][name]
    header_less = "\n".join(l for l in overlay_text.splitlines() if "> deploy/secrets/" not in l)
    cases = {
        "edgeguard lacks the key secret": (
            lambda d: svc(d, "edgeguard").update({"secrets": ["crowdsec_machine_password"]}),
            overlay_text, "which it is not given"),
        "crowdsec never registers the bouncer": (
            lambda d: svc(d, "crowdsec").update({"secrets": []}), overlay_text, "never registers"),
        "LAPI published": (
            lambda d: svc(d, "crowdsec").update({"ports": ["8080:8080"]}), overlay_text,
            "publishes ports"),
        "LAPI port not exposed": (
            lambda d: svc(d, "crowdsec").update({"expose": ["9090"]}), overlay_text,
            "does not expose 8080"),
        "no network shared with LAPI": (
            lambda d: svc(d, "crowdsec").update({"networks": ["default"]}), overlay_text,
            "shares no network with crowdsec"),
        "acquisition not mounted": (
            lambda d: svc(d, "crowdsec").update({"volumes": [
                v for v in svc(d, "crowdsec")["volumes"] if not v.startswith("/var/log/")]}),
            overlay_text, "which no volume mounts"),
        "secret file nobody says how to create": (lambda d: None, header_less, "how to create"),
        "policy without crowdsec": (
            lambda d: svc(d, "edgeguard").update({"volumes": [
                "./container/edgeguard-redis.yaml:/etc/edgeguard/edgeguard.yaml:ro"]}),
            overlay_text, "has no crowdsec section"),
    }
    failed = []
    if check_overlay(doc, base, edgeguard, overlay_text):
        failed.append("the committed files do not pass")
    for what, (fn, text, message) in cases.items():
        errors = check_overlay(mutate(fn), base, edgeguard, text)
        if not any(message in e for e in errors):
            failed.append(f"{what} (got {errors})")
    for f in failed:
        print(f"self-test FAILED: not reported: {f}")
    if not failed:
        print(f"self-test ok: {len(cases)} planted overlay faults reported, the committed files pass")
    return 1 if failed else 0


def main(argv):
    args = argv[1:]
    self_testing = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    overlay = None
    if "--overlay" in args:
        i = args.index("--overlay")
        overlay = args[i + 1] if i + 1 < len(args) else None
        del args[i:i + 2]
    if len(args) != 2 or ("--overlay" in argv and overlay is None):
        print(__doc__)
        return 2
    path, edgeguard = args
    with open(path) as f:
        doc = yaml.safe_load(f)
    base = os.path.dirname(os.path.abspath(path))
    if overlay is not None:
        with open(overlay) as f:
            overlay_text = f.read()
        doc = merge(doc, yaml.safe_load(overlay_text))
        if self_testing:
            return self_test_overlay(doc, base, edgeguard, overlay_text)
        errors = check_overlay(doc, base, edgeguard, overlay_text)
        path = f"{path} + {overlay}"
    elif self_testing:
        return self_test(doc, base, edgeguard)
    else:
        errors = check(doc, base, edgeguard)
    for e in errors:
        print(f"{path}: {e}")
    if not errors:
        print(f"{path}: {len(doc['services'])} services; every reference exists and agrees")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
