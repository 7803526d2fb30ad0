"""`podplay-node.pyz network apply [--config PATH] [--check] [--json]`.

Exit 0 when the network is (or, with --check, already was) as configured; 1 on failure with
one line on stderr. `--json` prints `{"changed": bool, "changes": [...]}` for the network role.
"""

from __future__ import annotations

import argparse
import json
import sys

from podplay.node.network.apply import NetworkError, apply
from podplay.node.network.config import DEFAULT_CONFIG, ConfigError, load_config
from podplay.node.network.host import HostError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="podplay-node network")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("apply", help="set up bridge, routes and NAT from network.json")
    cmd.add_argument("--config", default=DEFAULT_CONFIG)
    cmd.add_argument(
        "--check", action="store_true", help="report what would change, change nothing"
    )
    cmd.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    args = parser.parse_args(argv)
    try:
        changes = apply(load_config(args.config), check=args.check)
    except (ConfigError, HostError, NetworkError) as err:
        if args.json:
            print(json.dumps({"changed": False, "failed": True, "msg": str(err)}))
        print("network apply: %s" % err, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"changed": bool(changes), "changes": changes}))
    else:
        for change in changes:
            print(change)
    return 0
