"""Bring the node's pod network to what network.json says, reporting each change.

`apply` is one whole pass (the pod bridge, then everything `Repairer.repair` keeps true) and
is what `network apply` runs for the network role; `network watch` (watch.py) runs it at
start and then keeps repairing. Both hold the same lock, so they never act at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Any, Iterator, List, Optional

from podplay.node.contract.network import NetworkConfig
from podplay.node.network import host
from podplay.node.network.plan import plan_bridge
from podplay.node.network.repairer import Repairer

LOCK_PATH = "/run/podplay/network.lock"


class NetworkError(RuntimeError):
    """The network cannot be set up as asked (the message says what to do)."""


@contextlib.contextmanager
def locked(path: str = LOCK_PATH) -> Iterator[None]:
    """Held while the node's network is changed: `network apply` and the repairer take turns."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_bridge(cfg: NetworkConfig, engine: Any, check: bool = False) -> List[str]:
    """The `podplay` Docker network on the pod CIDR; refuses to replace one in use."""
    state = engine.bridge(cfg.bridge_network)
    action = plan_bridge(cfg, state, engine.major)
    if action == "recreate" and state.containers:
        raise NetworkError(
            "Docker network %s exists with other settings (subnet %s) and %d container(s) "
            "attached; remove them or the network, then apply again"
            % (cfg.bridge_network, state.subnet, state.containers)
        )
    if action == "ok":
        return []
    if not check:
        if action == "recreate":
            engine.remove_bridge(cfg.bridge_network)
        engine.create_bridge(cfg)
    return ["docker network %s %sd on %s" % (cfg.bridge_network, action, cfg.pod_cidr)]


def apply(
    cfg: NetworkConfig, check: bool = False, repairer: Optional[Repairer] = None
) -> List[str]:
    """Converge bridge, routes, iptables and keepalived's interface; returns the changes
    (made, or due when `check`)."""
    repairer = repairer or Repairer(cfg)
    with locked():
        changes = ensure_bridge(cfg, host.Engine(), check)
        repairs = repairer.repair(with_rules=True, check=check)
    if repairs.waiting:
        raise NetworkError(repairs.waiting)
    return changes + repairs.changes
