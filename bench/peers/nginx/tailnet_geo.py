#!/usr/bin/env python3
"""Print the enrolled tailnet addresses of `tailscale status --json` as nginx `geo` entries.

The nginx peer has no tailnet source; its stand-in for edgeguard's
`tailnet: {require: enrolled, tags: [...]}` is a `geo` list of the addresses of the nodes (Self
and every Peer) that carry one of the tags, regenerated from the same file edgeguard reads.

  tailnet_geo.py STATUS_JSON VALUE [TAG...]  >  tailnet.geo   (no TAG: every node)
"""

import ipaddress
import json
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        status = json.load(f)
    value, tags = sys.argv[2], set(sys.argv[3:])
    nodes = [status.get("Self")] + list((status.get("Peer") or {}).values())
    for node in nodes:
        if not node or (tags and not tags & set(node.get("Tags") or [])):
            continue
        for addr in node.get("TailscaleIPs") or []:
            ip = ipaddress.ip_address(addr)
            print(f"{ip}/{ip.max_prefixlen} {value};")


if __name__ == "__main__":
    main()
