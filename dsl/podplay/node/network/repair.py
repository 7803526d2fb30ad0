"""What the repairer must do to the node, given what it found there (pure; no I/O).

One decision covers everything the node's network owes its pods: the routes to the other
nodes' pod CIDRs (only while some interface holds the node's address: without it the peers
cannot be reached and the kernel would refuse the routes), the PODPLAY-NET-* chains and their
jumps, the engine's embedded-DNS rules (see enginedns.py), and the interface keepalived.conf
names (see contract/keepalived.py); the uplink is found by the node's address
(util/uplink.py). The repairer (repairer.py) observes, calls `decide`, and carries
the result out; tests feed it observations and read the answer.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional

from podplay.node.contract import defaults, keepalived
from podplay.node.contract.network import NetworkConfig
from podplay.node.network.enginedns import EngineDns, restore_lines
from podplay.node.network.plan import RoutePlan, plan_iptables, plan_routes
from podplay.node.util.uplink import Uplink, find_uplink, link_names


class Observed(NamedTuple):
    """What the repairer read from the node this time (None: not looked at this time)."""

    routes: List[dict]  # `ip -j -4 route show`
    links: List[dict]  # `ip -j addr show`
    save_text: Optional[str] = None  # `iptables-save` of filter and nat
    keepalived_conf: Optional[str] = None  # None: no keepalived.conf on this node


class Repairs(NamedTuple):
    uplink: Optional[Uplink]
    routes: RoutePlan
    restore: Optional[str]  # one iptables-restore --noflush input, or None
    keepalived_conf: Optional[str]  # keepalived.conf to write, or None
    reload_keepalived: bool
    changes: List[str]
    waiting: Optional[str]  # why something cannot be repaired yet (logged, retried)
    announce: bool = False  # gratuitous ARP for the node address on the uplink (garp.py)


def decide(
    cfg: NetworkConfig,
    seen: Observed,
    engine_dns: Optional[EngineDns] = None,
    last_uplink: Optional[Uplink] = None,
) -> Repairs:
    """Everything to change so the node's network is what `cfg` says again."""
    changes: List[str] = []
    uplink = find_uplink(cfg.address, seen.links)
    waiting = None
    routes = RoutePlan([], [])
    if uplink is None:
        waiting = "no interface holds the node address %s: routes wait for it" % cfg.address
    else:
        routes = plan_routes(cfg, seen.routes)
        changes += ["route %s via %s" % (dst, via) for dst, via in routes.replace]
        changes += ["stale route %s deleted" % dst for dst in routes.delete]
    restore = None
    if seen.save_text is not None:
        extra = restore_lines(engine_dns, seen.save_text)
        restore, rule_changes = plan_iptables(cfg, seen.save_text, extra)
        changes += rule_changes
    returned = _returned(uplink, last_uplink)
    if returned is not None:
        changes.append("%s announced on %s (gratuitous ARP)" % (cfg.address, returned.name))
    conf, reload = _keepalived(seen, uplink, last_uplink)
    if conf is not None and uplink is not None:
        changes.append("%s: interface %s" % (defaults.KEEPALIVED_CONF, uplink.name))
    elif reload and uplink is not None:
        changes.append("keepalived reloaded: interface %s was created again" % uplink.name)
    return Repairs(uplink, routes, restore, conf, reload, changes, waiting, returned is not None)


def _returned(uplink: Optional[Uplink], last: Optional[Uplink]) -> Optional[Uplink]:
    """The uplink when it is a new interface (connected again, or created again under the
    same name) with a MAC to announce; None otherwise (nothing changed, or the first look)."""
    if uplink is None or last is None or last.index == uplink.index or not uplink.mac:
        return None
    return uplink


def _keepalived(
    seen: Observed, uplink: Optional[Uplink], last: Optional[Uplink]
) -> "tuple[Optional[str], bool]":
    """(new keepalived.conf text or None, reload keepalived?)."""
    text = seen.keepalived_conf
    if text is None or uplink is None:
        return None, False
    if keepalived.needs_retarget(text, uplink.name, link_names(seen.links)):
        return keepalived.retarget(text, uplink.name), True
    recreated = last is not None and last.index != uplink.index
    return None, recreated and uplink.name in keepalived.named_interfaces(text)
