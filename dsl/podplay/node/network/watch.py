"""`network watch`: the node's network, applied at start and then kept true (the repairer).

    start: one whole `apply` (bridge, routes, rules, keepalived's interface), then READY=1
           to systemd (units ordered after podplay-network.service start only then)
    rtnetlink event (a link, IPv4 address or route changed) -> links pass EVENT_DELAY later
        (at most one per EVENT_SPACING: starting pods make bursts of events)
    every CANARY_PERIOD: PODPLAY-NET-CANARY in filter and nat (two `iptables -S` of one
        tiny chain); gone -> rules pass at once (a flush is repaired within about a second)
    every LINK_PERIOD: links pass (routes, uplink, keepalived.conf; no iptables read)
    every RULES_PERIOD: rules pass (iptables-save compared whole: PODPLAY-NET-*, their
        jumps, the engine's embedded-DNS rules), and RETRY_DELAY after any failed pass
    every BRIDGE_PERIOD, and when network.json changes: the pod bridge too (Docker API)

A failing pass is logged (once per distinct message) and retried after RETRY_DELAY; the
loop never exits on its own. Nothing is undone on exit: routes and rules stay (fail static).
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from podplay.node.contract.errors import ContractError
from podplay.node.contract.network import NetworkConfig
from podplay.node.network import host
from podplay.node.network.apply import NetworkError, ensure_bridge, locked
from podplay.node.network.netlink import open_events
from podplay.node.network.repairer import Repairer
from podplay.node.util.files import file_stamp

log = logging.getLogger("podplay.network")

CANARY_PERIOD = 1.0
LINK_PERIOD = 2.0
RULES_PERIOD = 10.0
BRIDGE_PERIOD = 30.0
EVENT_DELAY = 0.1
EVENT_SPACING = 0.5
RETRY_DELAY = 1.0


def notify_systemd(state: str) -> None:
    """sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET, if there is one."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as err:
        log.warning("cannot notify systemd: %s", err)


class Watch:
    """The repairer's loop; `step(now)` is one turn (tests drive it with a fake clock)."""

    def __init__(
        self,
        config_path: str,
        repairer_factory: Callable[[NetworkConfig], Repairer] = Repairer,
        engine_factory: Callable[[], Any] = host.Engine,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config_path = config_path
        self.repairer_factory = repairer_factory
        self.engine_factory = engine_factory
        self.clock = clock
        self.cfg: Optional[NetworkConfig] = None
        self.repairer: Optional[Repairer] = None
        self.stamp: Optional[tuple] = None
        self.due: Dict[str, float] = {"bridge": 0.0, "rules": 0.0, "links": 0.0, "canary": 0.0}
        self.last_error: Optional[str] = None
        self.last_links_pass = float("-inf")
        self.passes = {"links": 0, "rules": 0, "bridge": 0, "repaired": 0, "failed": 0}

    def reload(self, now: float) -> None:
        """Re-read network.json when it changed; a new config is applied whole at once."""
        stamp = file_stamp(self.config_path)
        if stamp == self.stamp:
            return
        self.stamp = stamp
        try:
            cfg = NetworkConfig.load(self.config_path)
        except ContractError as err:
            self._error("keeping the network as it is: %s" % err)
            return
        if cfg != self.cfg:
            self.cfg, self.repairer = cfg, self.repairer_factory(cfg)
            for kind in self.due:
                self.due[kind] = now

    def wake(self, now: float, why: str) -> None:
        """A link, address or route changed: look at them shortly (changes come in bursts)."""
        log.debug("woken: %s", why)
        soon = max(now + EVENT_DELAY, self.last_links_pass + EVENT_SPACING)
        self.due["links"] = min(self.due["links"], soon)

    def step(self, now: float) -> None:
        self.reload(now)
        if self.repairer is None:
            return
        if now >= self.due["canary"]:
            self.due["canary"] = now + CANARY_PERIOD
            if now < self.due["rules"] and not self.repairer.canary_ok():
                log.warning("PODPLAY-NET-CANARY is gone: the tables were flushed; repairing")
                self.due["rules"] = now
        kind = next((k for k in ("bridge", "rules", "links") if now >= self.due[k]), None)
        if kind is not None:
            self._pass(kind, now)

    def _pass(self, kind: str, now: float) -> None:
        """One pass; a bridge pass covers the rules and a rules pass the links too. The
        bridge failing (engine restarting) does not keep routes and rules from repair."""
        assert self.repairer is not None and self.cfg is not None
        self.passes[kind] += 1
        changes: List[str] = []
        errors: List[str] = []
        waiting: Optional[str] = None
        try:
            with locked():
                if kind == "bridge":
                    changes += self._bridge(errors)
                repairs = self.repairer.repair(with_rules=kind != "links")
                changes, waiting = changes + repairs.changes, repairs.waiting
        except (host.HostError, NetworkError, OSError) as err:
            errors.append(str(err))
        if changes:
            self.passes["repaired"] += 1
            log.info("repaired (%s pass): %s", kind, "; ".join(changes))
        order = ("bridge", "rules", "links")
        periods = {"bridge": BRIDGE_PERIOD, "rules": RULES_PERIOD, "links": LINK_PERIOD}
        for covered in order[order.index(kind) :]:
            self.due[covered] = now + periods[covered]
        self.last_links_pass = now
        if errors:
            self.passes["failed"] += 1
            why = "; ".join(errors)
            self._error("%s pass failed (retry in %.0fs): %s" % (kind, RETRY_DELAY, why), why)
            # a rules pass covers the links; the bridge keeps its own period (an engine that
            # restarts restarts this unit too, Requires=docker.service)
            self.due["rules"] = min(self.due["rules"], now + RETRY_DELAY)
        elif waiting:
            self._error(waiting)
        else:
            self.last_error = None

    def _bridge(self, errors: List[str]) -> List[str]:
        try:
            engine = self.engine_factory()
            try:
                return ensure_bridge(self.cfg, engine)
            finally:
                getattr(engine, "close", lambda: None)()
        except Exception as err:  # the engine's client raises its own kinds; none may stop us
            errors.append("pod bridge: %s" % err)
            return []

    def _error(self, message: str, key: Optional[str] = None) -> None:
        """Logged once while it lasts (`key`: what makes two messages the same error)."""
        key = key or message
        if key != self.last_error:
            log.error(message)
        self.last_error = key

    def next_wakeup(self, now: float) -> float:
        return max(0.0, min(self.due.values()) - now)

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: the first pass, READY=1, then events and timers."""
        events = open_events()  # before the first pass: nothing that changes meanwhile is missed
        self.step(self.clock())
        notify_systemd("READY=1\nSTATUS=pod network applied; repairing on change")
        if events is None:
            log.warning("no rtnetlink socket: repairing on the timers only")
        try:
            while not stop.is_set():
                timeout = min(self.next_wakeup(self.clock()), CANARY_PERIOD)
                if events is None:
                    stop.wait(timeout)
                elif select.select([events], [], [], timeout)[0]:
                    why = events.drain()
                    if why:
                        self.wake(self.clock(), ", ".join(sorted(set(why))))
                self.step(self.clock())
        finally:
            if events is not None:
                events.close()
