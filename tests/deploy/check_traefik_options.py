#!/usr/bin/python3
"""Fails on any key of the Traefik reference configs that Traefik's documentation does not list.

Traefik itself cannot run here, and Traefik ignores (v2) or rejects (v3) misspelt options at
start-up, which users would only see in production. So every key of deploy/traefik/traefik.yml
(static), deploy/traefik/dynamic/*.yml (dynamic), the Traefik kinds in deploy/traefik/kubernetes/
(Middleware, IngressRoute) and the `traefik.*` Docker labels is checked against
tests/deploy/traefik_options.txt, transcribed from Traefik's reference pages.

usage: check_traefik_options.py OPTIONS_TXT DEPLOY_TRAEFIK_DIR [--self-test]
"""
import copy
import glob
import os
import re
import sys

import yaml

CRD_KINDS = {"Middleware", "IngressRoute"}


def load_options(path):
    sections = {}
    current = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]") and "." not in line:
                current = sections.setdefault(line[1:-1], [])
                continue
            if current is None:
                raise SystemExit(f"{path}: option before any [section]: {line}")
            current.append(line.split("."))
    return sections


def seg_match(pattern, segment, fold):
    if pattern == "*":
        return segment != "[]"
    return pattern.lower() == segment.lower() if fold else pattern == segment


def allowed(path, patterns, fold=False):
    for pat in patterns:
        n = min(len(pat), len(path))
        if not all(seg_match(pat[i], path[i], fold) for i in range(n)):
            continue
        if len(path) <= len(pat):
            return True  # the option itself, or a mapping on the way to it
        if pat[-1] == "*":
            return True  # free-form map: anything below is the user's
    return False


def walk(node, path, patterns, errors, where):
    if isinstance(node, dict):
        for key, value in node.items():
            sub = path + [str(key)]
            if not allowed(sub, patterns):
                errors.append(f"{where}: unknown Traefik option {'.'.join(sub)}")
                continue
            walk(value, sub, patterns, errors, where)
    elif isinstance(node, list):
        for item in node:
            walk(item, path + ["[]"], patterns, errors, where)


def label_items(doc):
    """(service, key) for every traefik.* label of a compose file, list or mapping form."""
    for name, svc in ((doc or {}).get("services") or {}).items():
        labels = (svc or {}).get("labels") or []
        keys = labels.keys() if isinstance(labels, dict) else [l.split("=", 1)[0] for l in labels]
        for key in keys:
            if key.startswith("traefik."):
                yield name, key


def check_labels(doc, options, where):
    errors = []
    for service, key in label_items(doc):
        path = re.sub(r"\[\d+\]", ".[]", key).split(".")
        if allowed(path, options["labels"], fold=True) or allowed(path[1:], options["dynamic"], fold=True):
            continue
        errors.append(f"{where}: service {service}: unknown Traefik label {key}")
    return errors


def load_all(deploy_dir):
    """{kind: [(where, doc)]} for every file the checker covers."""
    docs = {"static": [], "dynamic": [], "crd": [], "labels": []}
    static = os.path.join(deploy_dir, "traefik.yml")
    with open(static) as f:
        docs["static"].append((static, yaml.safe_load(f)))
    for path in sorted(glob.glob(os.path.join(deploy_dir, "dynamic", "*.yml"))):
        with open(path) as f:
            docs["dynamic"].append((path, yaml.safe_load(f)))
    for path in sorted(glob.glob(os.path.join(deploy_dir, "kubernetes", "*.yaml"))):
        with open(path) as f:
            for i, doc in enumerate(yaml.safe_load_all(f)):
                if doc and doc.get("kind") in CRD_KINDS:
                    docs["crd"].append((f"{path}#{i}", doc))
    for path in sorted(glob.glob(os.path.join(deploy_dir, "compose-labels.yaml")) +
                       glob.glob(os.path.join(deploy_dir, "..", "compose.yaml"))):
        with open(path) as f:
            docs["labels"].append((path, yaml.safe_load(f)))
    return docs


def check(docs, options):
    errors = []
    for kind in ("static", "dynamic", "crd"):
        for where, doc in docs[kind]:
            walk(doc, [], options[kind], errors, where)
    for where, doc in docs["labels"]:
        errors += check_labels(doc, options, where)
    return errors


def rename_key(node, old, new):
    """Renames the first mapping key `old` found (depth first); True if one was renamed."""
    if isinstance(node, dict):
        if old in node:
            node[new] = node.pop(old)
            return True
        return any(rename_key(v, old, new) for v in node.values())
    if isinstance(node, list):
        return any(rename_key(v, old, new) for v in node)
    return False


def self_test(docs, options):
    """Typos in each kind of file must be flagged, and the untouched files must pass."""
    failures = []
    if check(docs, options):
        failures.append("the committed files do not pass")
    cases = [("static", "trustedIPs", "trustedIps"),
             ("static", "format", "fromat"),
             ("dynamic", "trustForwardHeader", "trustForwardHeaders"),
             ("dynamic", "authResponseHeaders", "authResponseHeader"),
             ("crd", "authResponseHeaders", "authResponseheaders"),
             ("crd", "forwardAuth", "forwardauth")]
    for kind, old, new in cases:
        mutated = copy.deepcopy(docs)
        if not any(rename_key(doc, old, new) for _, doc in mutated[kind]):
            failures.append(f"{kind}: no key {old} to mutate")
        elif not any(new in e for e in check(mutated, options)):
            failures.append(f"{kind}: typo {old} -> {new} not flagged")
    mutated = copy.deepcopy(docs)
    labels = mutated["labels"][0][1]["services"]["edgeguard"]["labels"]
    labels.append("traefik.http.middlewares.edgeguard.forwardauth.trustforwardheaders=true")
    if not any("trustforwardheaders" in e for e in check(mutated, options)):
        failures.append("labels: typo trustforwardheaders not flagged")
    for f in failures:
        print(f"self-test FAILED: {f}")
    if not failures:
        print(f"self-test ok: {len(cases) + 1} typos flagged, committed files pass")
    return 1 if failures else 0


def main(argv):
    if len(argv) not in (3, 4) or (len(argv) == 4 and argv[3] != "--self-test"):
        print(__doc__)
        return 2
    options = load_options(argv[1])
    docs = load_all(argv[2])
    if not docs["dynamic"] or not docs["crd"] or not docs["labels"]:
        print(f"missing files under {argv[2]}: {({k: len(v) for k, v in docs.items()})}")
        return 1
    if len(argv) == 4:
        return self_test(docs, options)
    errors = check(docs, options)
    for e in errors:
        print(e)
    if errors:
        return 1
    print("ok: " + ", ".join(f"{len(v)} {k}" for k, v in docs.items()) + " documents use documented options only")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
