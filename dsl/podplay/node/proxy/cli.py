"""`python3 podplay-node.pyz proxy [--config /etc/podplay/agent.json]`: routing + cluster DNS.

Runs until SIGTERM/SIGINT. Exit status 2 when agent.json is unusable (systemd restarts it).
`--once` renders and applies one full sync from cluster.json, treating every planned
endpoint as ready, then exits (for inspection and benchmarks, not for service).
`--cleanup` removes every chain the proxy owns and the jumps into them (one restore), prints
`{"changed": bool}` and exits: what `podplay destroy --keep-cluster` runs on each node.

The cluster DNS the proxy feeds is handed in (`dns`): routing and DNS are separate packages,
joined by the command (`podplay.node.proxy_command`). With `/etc/podplay/store.json` the
proxy also follows the store's binding table (`overlay`): a pod the controller moved is
routed on its new node at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import FrozenSet, List, Optional, Protocol, Tuple

from podplay.node.contract import defaults
from podplay.node.proxy.hairpin import Hairpin
from podplay.node.proxy.iptables import Iptables, IptablesError
from podplay.node.proxy.overlay import locations
from podplay.node.proxy.proxier import Proxier
from podplay.node.proxy.ruleset import Ruleset, parse_save, restore_text
from podplay.node.proxy.state import ClusterState, Endpoint, StateError
from podplay.node.proxy.watch import Watcher
from podplay.node.util.logs import setup_logging

log = logging.getLogger("podplay.proxy")


class Dns(Protocol):
    """What the proxy command needs of the cluster DNS it feeds."""

    def update(self, state: ClusterState, ready: FrozenSet[Endpoint]) -> None: ...

    def serve(
        self, address: str, port: int, resolv_conf: str, exclude: Tuple[str, ...]
    ) -> None: ...

    def stop(self) -> None: ...


def main(argv: Optional[List[str]] = None, dns: Optional[Dns] = None) -> int:
    args = _parser().parse_args(argv)
    if args.cleanup:
        return _cleanup(Iptables())
    setup_logging(args.verbose)
    proxier = Proxier(
        args.config,
        Iptables(),
        on_zone=dns.update if dns is not None else None,
        status_path=None if args.once else args.status,
        watcher_factory=_NoWatch if args.once else Watcher,
    )
    try:
        if args.once:
            return _once(proxier)
        proxier.inputs.load()
    except StateError as err:
        print("podplay proxy: %s" % err, file=sys.stderr)
        return 2
    node = proxier.inputs.node
    assert node is not None
    proxier.hairpin = Hairpin(node.gateway)
    serving = dns if dns is not None and not args.no_dns else None
    if serving is not None:
        serving.serve(node.gateway, args.dns_port, args.resolv_conf, (node.dns_ip, node.gateway))
    stop = threading.Event()
    _follow_store(proxier, args.store_config, stop)
    _run_until_signalled(proxier, stop)
    if serving is not None:
        serving.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podplay-node proxy", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=defaults.AGENT_JSON, help="agent.json path")
    parser.add_argument("--status", default=defaults.PROXY_STATUS_JSON, help="status file path")
    parser.add_argument("--no-dns", action="store_true", help="do not run the DNS server")
    parser.add_argument("--dns-port", type=int, default=53)
    parser.add_argument("--resolv-conf", default="/etc/resolv.conf")
    parser.add_argument(
        "--store-config",
        default=defaults.STORE_JSON,
        help="store.json: follow the binding table (absent: cluster.json only)",
    )
    parser.add_argument("--once", action="store_true", help="one full sync, all endpoints ready")
    parser.add_argument(
        "--cleanup", action="store_true", help="remove the proxy's chains and jumps, then exit"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def _follow_store(proxier: Proxier, path: str, stop: threading.Event) -> None:
    """A thread mirroring the store's binding table into the proxy (none without a store)."""
    from podplay.node.contract.errors import ContractError
    from podplay.node.contract.store_config import StoreConfig
    from podplay.node.store import keys
    from podplay.node.store.client import Store
    from podplay.node.store.mirror import Mirror

    if not os.path.exists(path):
        log.info("no %s: routing from cluster.json only", path)
        return
    try:
        cfg = StoreConfig.load(path)
    except ContractError as err:
        log.error("store: %s; routing from cluster.json only", err)
        return
    holder: List[Mirror] = []
    mirror = Mirror(
        Store.from_config(cfg),
        cfg.cluster,
        (keys.BINDINGS,),
        lambda: proxier.inputs.set_locations(locations(holder[0].view().kvs)),
    )
    holder.append(mirror)
    threading.Thread(target=mirror.run, args=(stop,), name="store-bindings", daemon=True).start()


def _run_until_signalled(proxier: Proxier, stop: threading.Event) -> None:
    """The proxy loop until SIGTERM/SIGINT; the rules stay in place after it."""

    def on_signal(signum, frame):
        log.info("signal %d: stopping (rules stay in place)", signum)
        stop.set()
        proxier.wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    proxier.run(stop)


def _cleanup(iptables: Iptables) -> int:
    """Converge the kernel to an empty desired ruleset: own chains deleted, jumps removed."""
    try:
        text = restore_text(Ruleset(), parse_save(iptables.save()))
        if text:
            iptables.restore(text)
    except IptablesError as err:
        print("podplay proxy: cleanup failed: %s" % err, file=sys.stderr)
        return 1
    print(json.dumps({"changed": bool(text)}))
    return 0


class _NoWatch:
    """--once needs no readiness: a watcher that never connects."""

    def __init__(self, node, address, port, *rest) -> None:
        self.address, self.port = address, port

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def _once(proxier: Proxier) -> int:
    proxier.inputs.load()
    ready = frozenset(e for s in proxier.inputs.state.services for e in s.endpoints)
    started = time.monotonic()
    ok = proxier.sync(ready, time.monotonic())
    print(json.dumps({"ok": ok, "seconds": round(time.monotonic() - started, 4), **proxier.stats}))
    return 0 if ok else 1
