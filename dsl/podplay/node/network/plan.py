"""What the node's network needs, compared with what it has (pure; no I/O).

Routes: one per other node, its pod CIDR via its address; routes into the cluster pod CIDR
that point elsewhere or at removed nodes are stale. iptables: the PODPLAY-NET-* chains are
rendered whole and written with one `iptables-restore --noflush` (declaring a chain there
flushes it), plus the jump rules into them when they are missing. PODPLAY-NET-CANARY (one
RETURN rule in each table, nothing jumps to it) is how the repairer notices a flush cheaply.

Pods reach services, DNS and each other, never the node's own services: new TCP connections
from the cluster pod CIDR to sshd, the agent API and the store (network.json's
`node_only_ports`, rendered from the ports the roles configure) are refused with a reset on
every local address (`PODPLAY-NET-INPUT`, from INPUT) and, first thing in
`PODPLAY-NET-FORWARD`, to every node's address (a pod's traffic to another node's address is
masqueraded on the way, so that node's INPUT no longer sees a pod source).

VRRP (keepalived's LoadBalancer adverts, IP protocol 112) is accepted only from the nodes'
addresses and never from a pod (`vrrp_rules`): pods run with NET_RAW and could otherwise
claim every LoadBalancer IP with one forged advert. See the node README, "LoadBalancer IPs".
"""

from __future__ import annotations

import ipaddress
from typing import Dict, List, NamedTuple, Optional, Tuple

from podplay.node.contract.network import NetworkConfig

FORWARD_CHAIN = "PODPLAY-NET-FORWARD"
POSTROUTING_CHAIN = "PODPLAY-NET-POSTROUTING"
CANARY_CHAIN = "PODPLAY-NET-CANARY"
INPUT_CHAIN = "PODPLAY-NET-INPUT"

Chains = Dict[Tuple[str, str], List[str]]  # (table, chain) -> rules, as iptables-save prints


class RoutePlan(NamedTuple):
    replace: List[Tuple[str, str]]  # (destination, via)
    delete: List[str]  # destinations


def desired_routes(cfg: NetworkConfig) -> Dict[str, str]:
    """Pod CIDR -> next hop, for every other node."""
    return {p.pod_cidr: p.address for p in cfg.peers}


def plan_routes(cfg: NetworkConfig, current: List[dict]) -> RoutePlan:
    """Compare with `ip -j -4 route show` output; returns what to replace and delete."""
    want = desired_routes(cfg)
    cluster = ipaddress.ip_network(cfg.cluster_pod_cidr)
    have: Dict[str, Optional[str]] = {}
    for route in current:
        dst = route.get("dst", "")
        if dst in ("", "default") or route.get("type", "unicast") != "unicast":
            continue
        try:
            net = ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False)
        except ValueError:
            continue
        if net.version == 4 and net.subnet_of(cluster):  # type: ignore[arg-type]
            have[str(net)] = route.get("gateway")
    replace = sorted((dst, via) for dst, via in want.items() if have.get(dst) != via)
    delete = sorted(
        dst for dst, via in have.items() if dst not in want and via and dst != cfg.pod_cidr
    )
    return RoutePlan(replace, delete)


def vrrp_rules(cfg: NetworkConfig) -> Tuple[List[str], List[str]]:
    """(INPUT rules, FORWARD rules) that keep VRRP between the nodes' own addresses.

    INPUT: an advert that comes in on the pod bridge is dropped whatever its source (a pod
    can forge a node's address), then one from a node's address goes on (RETURN), and any
    other is dropped. FORWARD: a node never routes VRRP (keepalived speaks to the peers
    directly), and a pod's advert to another node must not leave masqueraded as this node's.
    iptables-save prints `-p 112` as `-p vrrp`; the rules are written as it prints them.
    """
    vrrp = "-p vrrp"
    into = [
        "-A %s -i %s %s -j DROP" % (INPUT_CHAIN, cfg.bridge_name, vrrp),
        *("-A %s -s %s/32 %s -j RETURN" % (INPUT_CHAIN, n.address, vrrp) for n in cfg.nodes),
        "-A %s %s -j DROP" % (INPUT_CHAIN, vrrp),
    ]
    return into, ["-A %s %s -j DROP" % (FORWARD_CHAIN, vrrp)]


def desired_chains(cfg: NetworkConfig) -> Chains:
    """The full content of the chains the network setup owns.

    Traffic still addressed to the service CIDR in FORWARD matched no service (a service's
    traffic was DNATed to a pod before): it is left to the proxy's reject rules, wherever
    this chain's jump sits in FORWARD (after a flush the two are put back in either order).
    """
    pods, services = cfg.cluster_pod_cidr, cfg.service_cidr
    only = sorted(set(cfg.node_only_ports))
    ports = "-p tcp -m multiport --dports %s" % ",".join(str(p) for p in only)
    refuse = "-j REJECT --reject-with tcp-reset"
    vrrp_in, vrrp_forward = vrrp_rules(cfg)
    return {
        ("filter", CANARY_CHAIN): ["-A %s -j RETURN" % CANARY_CHAIN],
        ("nat", CANARY_CHAIN): ["-A %s -j RETURN" % CANARY_CHAIN],
        ("filter", INPUT_CHAIN): [
            "-A %s -s %s %s %s" % (INPUT_CHAIN, pods, ports, refuse),
            *vrrp_in,
        ],
        ("filter", FORWARD_CHAIN): vrrp_forward
        + [
            "-A %s -s %s -d %s/32 %s %s" % (FORWARD_CHAIN, pods, node.address, ports, refuse)
            for node in cfg.nodes
        ]
        + [
            "-A %s -d %s -j RETURN" % (FORWARD_CHAIN, services),
            "-A %s -s %s -j ACCEPT" % (FORWARD_CHAIN, pods),
            "-A %s -d %s -j ACCEPT" % (FORWARD_CHAIN, pods),
        ],
        ("nat", POSTROUTING_CHAIN): [
            "-A %s -s %s -d %s -j RETURN" % (POSTROUTING_CHAIN, pods, pods),
            "-A %s -s %s -d %s -j RETURN" % (POSTROUTING_CHAIN, pods, services),
            "-A %s -s %s -j MASQUERADE" % (POSTROUTING_CHAIN, pods),
        ],
    }


def jumps(existing_chains: Dict[str, List[str]]) -> List[Tuple[str, str, str]]:
    """(table, from chain, to chain) jump rules; DOCKER-USER only where Docker made it."""
    wanted = [
        ("filter", "INPUT", INPUT_CHAIN),
        ("filter", "FORWARD", FORWARD_CHAIN),
        ("nat", "POSTROUTING", POSTROUTING_CHAIN),
    ]
    if "DOCKER-USER" in existing_chains.get("filter", []):
        wanted.insert(2, ("filter", "DOCKER-USER", FORWARD_CHAIN))
    return wanted


def parse_save(text: str) -> Tuple[Dict[str, List[str]], Chains]:
    """iptables-save output -> (chains per table, rules per (table, chain))."""
    chains: Dict[str, List[str]] = {}
    rules: Chains = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            chains.setdefault(table, [])
        elif line.startswith(":") and table:
            name = line[1:].split()[0]
            chains[table].append(name)
            rules.setdefault((table, name), [])
        elif line.startswith("-A ") and table:
            name = line.split()[1]
            rules.setdefault((table, name), []).append(line.strip())
    return chains, rules


def plan_iptables(
    cfg: NetworkConfig, save_text: str, extra_nat: Tuple[List[str], List[str]] = ([], [])
) -> Tuple[Optional[str], List[str]]:
    """The restore text that brings the node to the desired chains, or None; and what changes.

    `extra_nat` (lines, changes) joins the same restore: the engine's embedded-DNS rules.
    """
    chains, rules = parse_save(save_text)
    changes: List[str] = []
    per_table: Dict[str, List[str]] = {"filter": [], "nat": []}
    for (table, chain), want in sorted(desired_chains(cfg).items()):
        if rules.get((table, chain)) != want or chain not in chains.get(table, []):
            per_table[table].append(":%s - [0:0]" % chain)
            per_table[table].extend(want)
            changes.append("iptables %s chain %s written" % (table, chain))
    for table, parent, target in jumps(chains):
        rule = "-A %s -j %s" % (parent, target)
        if rule not in rules.get((table, parent), []):
            per_table[table].append("-I %s 1 -j %s" % (parent, target))
            changes.append("iptables %s jump %s -> %s added" % (table, parent, target))
    per_table["nat"].extend(extra_nat[0])
    changes.extend(extra_nat[1])
    if not changes:
        return None, []
    text = ""
    for table in ("filter", "nat"):
        if per_table[table]:
            text += "*%s\n%s\nCOMMIT\n" % (table, "\n".join(per_table[table]))
    return text, changes


class BridgeState(NamedTuple):
    """The Docker network as the node's engine reports it (None fields: absent)."""

    exists: bool
    subnet: Optional[str] = None
    gateway: Optional[str] = None
    options: Dict[str, str] = {}
    containers: int = 0


def bridge_options(cfg: NetworkConfig, docker_major: int) -> Dict[str, str]:
    """Driver options of the pod bridge network: our bridge name, no Docker masquerade, and
    on Docker >= 28 a gateway mode that lets routed traffic from other nodes reach pods."""
    opts = {
        "com.docker.network.bridge.name": cfg.bridge_name,
        "com.docker.network.bridge.enable_ip_masquerade": "false",
    }
    if docker_major >= 28:
        opts["com.docker.network.bridge.gateway_mode_ipv4"] = "nat-unprotected"
    return opts


def plan_bridge(cfg: NetworkConfig, state: BridgeState, docker_major: int) -> str:
    """'ok', 'create' or 'recreate' (the existing network has other settings)."""
    if not state.exists:
        return "create"
    want = bridge_options(cfg, docker_major)
    same = (
        state.subnet == cfg.pod_cidr
        and state.gateway in (None, "", cfg.gateway)
        and all(state.options.get(k) == v for k, v in want.items())
    )
    return "ok" if same else "recreate"
