"""Bring the node's pod network to what network.json says, reporting each change."""

from __future__ import annotations

from typing import List

from podplay.node.contract.network import NetworkConfig
from podplay.node.network import host
from podplay.node.network.plan import plan_bridge, plan_iptables, plan_routes


class NetworkError(RuntimeError):
    """The network cannot be set up as asked (the message says what to do)."""


def apply(cfg: NetworkConfig, check: bool = False) -> List[str]:
    """Converge bridge, routes and iptables; returns the changes (made, or due when `check`)."""
    changes: List[str] = []
    engine = host.Engine()
    state = engine.bridge(cfg.bridge_network)
    action = plan_bridge(cfg, state, engine.major)
    if action == "recreate" and state.containers:
        raise NetworkError(
            "Docker network %s exists with other settings (subnet %s) and %d container(s) "
            "attached; remove them or the network, then apply again"
            % (cfg.bridge_network, state.subnet, state.containers)
        )
    if action != "ok":
        changes.append("docker network %s %sd on %s" % (cfg.bridge_network, action, cfg.pod_cidr))
        if not check:
            if action == "recreate":
                engine.remove_bridge(cfg.bridge_network)
            engine.create_bridge(cfg)

    routes = plan_routes(cfg, host.routes())
    for dst, via in routes.replace:
        changes.append("route %s via %s" % (dst, via))
        if not check:
            host.replace_route(dst, via)
    for dst in routes.delete:
        changes.append("stale route %s deleted" % dst)
        if not check:
            host.delete_route(dst)

    restore, rule_changes = plan_iptables(cfg, host.iptables_save())
    changes.extend(rule_changes)
    if restore and not check:
        host.iptables_restore(restore)
    return changes
