"""`python3 podplay-node.pyz proxy [--config /etc/podplay/agent.json]`: routing + cluster DNS.

Runs until SIGTERM/SIGINT. Exit status 2 when agent.json is unusable (systemd restarts it).
`--once` renders and applies one full sync from cluster.json, treating every planned
endpoint as ready, then exits (for inspection and benchmarks, not for service).
`--cleanup` removes every chain the proxy owns and the jumps into them (one restore), prints
`{"changed": bool}` and exits: what `podplay destroy --keep-cluster` runs on each node.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time

from podplay.node.contract import defaults
from podplay.node.dns.server import DnsServer, Resolver, Upstreams
from podplay.node.dns.zone import build_zone, records_from_state
from podplay.node.proxy.hairpin import Hairpin
from podplay.node.proxy.iptables import Iptables, IptablesError
from podplay.node.proxy.proxier import Proxier
from podplay.node.proxy.ruleset import Ruleset, parse_save, restore_text
from podplay.node.proxy.state import StateError
from podplay.node.proxy.watch import Watcher

log = logging.getLogger("podplay.proxy")


class ZoneHolder:
    """The current DNS zone; replaced whole, read without locks (one reference swap)."""

    def __init__(self) -> None:
        self.zone = build_zone([], defaults.CLUSTER_DOMAIN, defaults.SERVICE_CIDR)
        self.serial = 0

    def update(self, state, ready) -> None:
        self.serial += 1
        self.zone = build_zone(
            records_from_state(state, ready),
            state.cluster_domain,
            state.service_cidr,
            serial=self.serial,
        )

    def get(self):
        return self.zone


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="podplay-node proxy", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=defaults.AGENT_JSON, help="agent.json path")
    parser.add_argument("--status", default="/run/podplay/proxy.json", help="status file path")
    parser.add_argument("--no-dns", action="store_true", help="do not run the DNS server")
    parser.add_argument("--dns-port", type=int, default=53)
    parser.add_argument("--resolv-conf", default="/etc/resolv.conf")
    parser.add_argument("--once", action="store_true", help="one full sync, all endpoints ready")
    parser.add_argument(
        "--cleanup", action="store_true", help="remove the proxy's chains and jumps, then exit"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.cleanup:
        return _cleanup(Iptables())
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )

    zones = ZoneHolder()
    proxier = Proxier(
        args.config,
        Iptables(),
        on_zone=zones.update,
        status_path=None if args.once else args.status,
        watcher_factory=_NoWatch if args.once else Watcher,
    )
    try:
        if args.once:
            return _once(proxier)
        proxier.load()
    except StateError as err:
        print("podplay proxy: %s" % err, file=sys.stderr)
        return 2
    assert proxier.node is not None
    proxier.hairpin = Hairpin(proxier.node.gateway)

    dns = None
    if not args.no_dns:
        node = proxier.node
        assert node is not None
        upstreams = Upstreams(args.resolv_conf, exclude=(node.dns_ip, node.gateway))
        dns = DnsServer(Resolver(zones.get, upstreams.get), node.gateway, args.dns_port)
        dns.start()

    stop = threading.Event()

    def on_signal(signum, frame):
        log.info("signal %d: stopping (rules stay in place)", signum)
        stop.set()
        proxier.wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    proxier.run(stop)
    if dns is not None:
        dns.stop()
    return 0


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
    proxier.load()
    ready = frozenset(e for s in proxier.state.services for e in s.endpoints)
    started = time.monotonic()
    ok = proxier.sync(ready, time.monotonic())
    print(json.dumps({"ok": ok, "seconds": round(time.monotonic() - started, 4), **proxier.stats}))
    return 0 if ok else 1
