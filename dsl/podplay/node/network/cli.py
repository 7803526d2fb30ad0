"""`podplay-node.pyz network apply [--config PATH] [--desired -] [--check] [--diff] [--json]`
and `podplay-node.pyz network watch [--config PATH] [-v]`.

apply: with `--desired -` the desired network.json comes on stdin and is written to
`--config` (with the unit `podplay-network.service`, enabled and running) before the network
is converged: that is how the network role applies a node's whole network state in one
call. Without it, the file at `--config` is applied. Exit 0 when the network is (or, with
--check, already was) as configured; 1 on failure with one line on stderr. `--json` prints
`{"changed": bool, "changes": [...]}`, with `--diff` also `"diff": [...]` (Ansible's
entries: network.json and the unit before and after, for the network_config module).

watch: what the unit runs: apply, tell systemd it is ready, then keep the network true
until SIGTERM (watch.py). Exit 2 when network.json is unusable at start.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading

from podplay.node.contract.defaults import NETWORK_JSON
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import decode
from podplay.node.contract.network import NetworkConfig
from podplay.node.network.apply import NetworkError, apply
from podplay.node.network.files import ensure_files
from podplay.node.network.host import HostError
from podplay.node.util.bundle import bundle_path
from podplay.node.util.logs import setup_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="podplay-node network")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("apply", help="set up bridge, routes and NAT from network.json")
    cmd.add_argument("--config", default=NETWORK_JSON)
    cmd.add_argument("--desired", metavar="-", help="'-': read the desired network.json on stdin")
    cmd.add_argument("--check", action="store_true", help="report, change nothing")
    cmd.add_argument("--diff", action="store_true", help="with --json: the files before/after")
    cmd.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    watch = sub.add_parser("watch", help="apply, then keep the network true (the repairer)")
    watch.add_argument("--config", default=NETWORK_JSON)
    watch.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "watch":
        return _watch(args.config, args.verbose)
    try:
        changes = []
        diff = [] if args.diff else None
        if args.desired == "-":
            cfg = NetworkConfig.from_json(decode(sys.stdin.buffer.read(), "desired network.json"))
            # validated before anything is written
            changes += ensure_files(
                cfg.to_json(), args.config, bundle_path(), check=args.check, diff=diff
            )
        else:
            cfg = NetworkConfig.load(args.config)
        changes += apply(cfg, check=args.check)
    except (ContractError, HostError, NetworkError, OSError, subprocess.CalledProcessError) as err:
        said = (getattr(err, "stderr", None) or "").strip()  # systemctl's own words
        message = "%s: %s" % (err, said) if said else str(err)
        if args.json:
            print(json.dumps({"changed": False, "failed": True, "msg": message}))
        print("network apply: %s" % message, file=sys.stderr)
        return 1
    if args.json:
        result = {"changed": bool(changes), "changes": changes}
        if diff is not None:
            result["diff"] = diff
        print(json.dumps(result))
    else:
        for change in changes:
            print(change)
    return 0


def _watch(config: str, verbose: bool) -> int:
    from podplay.node.network.watch import Watch

    setup_logging(verbose)
    try:
        NetworkConfig.load(config)
    except ContractError as err:
        print("network watch: %s" % err, file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Watch(config).run(stop)
    return 0
