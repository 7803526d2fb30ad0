"""The repairer's hands: observe the node, `repair.decide`, carry the decision out.

`NodeOps` is the node as the repairer touches it (commands, files, services); tests hand
a fake. What it keeps between passes: the engine's embedded-DNS rules last seen complete
(also in /run/podplay/engine-dns.json, so a restarted repairer still has them; /run is
emptied when the node restarts, which is when the engine picks new ports) and the uplink
last seen (a new kernel index under the same name means keepalived must look again).
"""

from __future__ import annotations

import logging
from typing import List, Optional

from podplay.node.contract.defaults import KEEPALIVED_CONF
from podplay.node.contract.network import NetworkConfig
from podplay.node.network import enginedns, garp, host
from podplay.node.network.files import write_atomic
from podplay.node.network.plan import CANARY_CHAIN
from podplay.node.network.repair import Observed, Repairs, decide
from podplay.node.util.uplink import Uplink

log = logging.getLogger("podplay.network")

ENGINE_DNS_RECORD = "/run/podplay/engine-dns.json"
KEEPALIVED_UNIT = "keepalived.service"


class NodeOps:
    """Reads and changes on this node (each a command or a file)."""

    routes = staticmethod(host.routes)
    links = staticmethod(host.links)
    iptables_save = staticmethod(host.iptables_save)
    iptables_restore = staticmethod(host.iptables_restore)
    replace_route = staticmethod(host.replace_route)
    delete_route = staticmethod(host.delete_route)
    read_text = staticmethod(host.read_text)
    write_text = staticmethod(write_atomic)
    service_active = staticmethod(host.service_active)
    reload_service = staticmethod(host.reload_service)
    announce = staticmethod(garp.announce)

    def canary_ok(self) -> bool:
        rule = "-A %s -j RETURN" % CANARY_CHAIN
        return all(host.chain_has_rule(t, CANARY_CHAIN, rule) for t in ("filter", "nat"))


class Repairer:
    """One node's repairer state; `repair()` is one observe-decide-act pass."""

    def __init__(self, cfg: NetworkConfig, ops: Optional[NodeOps] = None,
                 record_path: str = ENGINE_DNS_RECORD) -> None:  # fmt: skip
        self.cfg = cfg
        self.ops = ops or NodeOps()
        self.record_path = record_path
        kept = self.ops.read_text(record_path)
        self.engine_dns = enginedns.from_json(kept) if kept else None
        self.last_uplink: Optional[Uplink] = None

    def canary_ok(self) -> bool:
        return self.ops.canary_ok()

    def observe(self, with_rules: bool) -> Observed:
        save = self.ops.iptables_save() if with_rules else None
        return Observed(
            routes=self.ops.routes(),
            links=self.ops.links(),
            save_text=save,
            keepalived_conf=self.ops.read_text(KEEPALIVED_CONF),
        )

    def _keep_engine_dns(self, save_text: Optional[str], check: bool) -> None:
        """Record the engine's DNS rules while complete; derive them from its sockets when
        they were never seen complete."""
        if save_text is None:
            return
        live = enginedns.extract(save_text)
        if live is None and self.engine_dns is None:
            live = enginedns.from_sockets(
                self.ops.read_text("/proc/net/udp") or "", self.ops.read_text("/proc/net/tcp") or ""
            )
        if live is not None and live != self.engine_dns:
            self.engine_dns = live
            if not check:
                self.ops.write_text(self.record_path, live.to_json() + "\n", 0o600)

    def repair(self, with_rules: bool, check: bool = False) -> Repairs:
        """Look, decide, act (or only report, with `check`). Raises host.HostError when a
        command fails; what was done before it stays done."""
        seen = self.observe(with_rules)
        self._keep_engine_dns(seen.save_text, check)
        repairs = decide(self.cfg, seen, self.engine_dns, self.last_uplink)
        if not check:
            self._act(repairs)
        if repairs.uplink is not None:
            self.last_uplink = repairs.uplink
        return repairs

    def _act(self, repairs: Repairs) -> None:
        """Every part is tried even when one fails (a peer unreachable for a moment must not
        keep the rules from coming back); the failures are raised together at the end."""
        steps: List[tuple] = []
        if repairs.announce and repairs.uplink is not None:  # first: the master's adverts
            uplink = repairs.uplink  # must reach us before keepalived's master-down timer
            steps.append((self.ops.announce, (uplink.name, uplink.mac, self.cfg.address)))
        steps += [(self.ops.replace_route, (dst, via)) for dst, via in repairs.routes.replace]
        steps += [(self.ops.delete_route, (dst,)) for dst in repairs.routes.delete]
        if repairs.restore:
            steps.append((self.ops.iptables_restore, (repairs.restore,)))
        if repairs.keepalived_conf is not None:
            steps.append((self.ops.write_text, (KEEPALIVED_CONF, repairs.keepalived_conf, 0o644)))
        if repairs.reload_keepalived:
            steps.append((self._reload_keepalived, ()))
        errors: List[str] = []
        for step, args in steps:
            try:
                step(*args)
            except (host.HostError, OSError) as err:
                errors.append(str(err))
        if errors:
            raise host.HostError("; ".join(errors))

    def _reload_keepalived(self) -> None:
        if self.ops.service_active(KEEPALIVED_UNIT):
            self.ops.reload_service(KEEPALIVED_UNIT)
