"""The pure core of service routing: cluster state + ready endpoints -> iptables rules.

Modelled on kube-proxy's iptables mode, with fewer chains (iptables-nft pays per chain):

nat table
  PREROUTING, OUTPUT -> PODPLAY-SERVICES
      one rule per ClusterIP port with ready endpoints      -> PODPLAY-SVC-<hash>
      LoadBalancer IP ports: mark for masquerade, then      -> PODPLAY-SVC-<hash>
      cluster DNS VIP udp/tcp 53                            -> DNAT to the node-local server
      last: destination is a local address                  -> PODPLAY-NODEPORTS
  PODPLAY-NODEPORTS: node port: mark for masquerade, then   -> PODPLAY-SVC-<hash>
  PODPLAY-SVC-<hash> (one per service port):
      traffic not from a pod is marked for masquerade (replies must come back through here)
      ClientIP affinity: `-m recent --rcheck` per endpoint, DNAT to the remembered one
      `-m statistic --mode random --probability 1/(n-i)` DNAT to endpoint i, last one plain;
      with affinity each DNAT also records the client (`-m recent --set`)
  POSTROUTING -> PODPLAY-POSTROUTING
      hairpin: a local pod DNATed to itself (src == dst) is masqueraded
      marked packets: clear the mark, MASQUERADE

filter table
  FORWARD, OUTPUT (new connections) -> PODPLAY-SERVICES: REJECT ClusterIP ports with no
      ready endpoint (refused at once, never black-holed); last, REJECT anything else
      still addressed to the service CIDR (an IP or port no service holds: every service
      port with endpoints was DNATed away in nat already), so it never leaves by the
      default route (kube-proxy's nftables mode does the same)
  INPUT, FORWARD (new connections) -> PODPLAY-EXTERNAL-SERVICES: REJECT node ports and
      LoadBalancer IP ports with no ready endpoint
  FORWARD -> PODPLAY-FORWARD: accept marked (NodePort/LB) traffic and its replies
  (the two reject chains are also jumped to first thing in Docker's DOCKER-USER, which
  Docker keeps above everything in FORWARD)

Both tables carry PODPLAY-CANARY (one RETURN rule, nothing jumps to it): if it is gone or
empty, someone flushed the tables and the proxy restores everything.

Endpoints are DNATed straight from the service chain (no per-endpoint chain): hairpin is
handled in POSTROUTING per local endpoint IP, and affinity's `--set` rides on the DNAT rule.
"""

from __future__ import annotations

import base64
import hashlib
from typing import AbstractSet, Any, Dict, List, Optional, Set, Tuple

from podplay.node.proxy.ruleset import Current, Ruleset, restore_text
from podplay.node.proxy.state import ClusterState, Endpoint, LocalNode, Service, ServicePort

MASQ_BIT = "0x20000"  # one mark bit of our own (kube-proxy uses 0x4000; keep clear of it)
MASQ_MARK = "%s/%s" % (MASQ_BIT, MASQ_BIT)
CANARY = "PODPLAY-CANARY"
SERVICES = "PODPLAY-SERVICES"
EXTERNAL_SERVICES = "PODPLAY-EXTERNAL-SERVICES"
NODEPORTS = "PODPLAY-NODEPORTS"
POSTROUTING = "PODPLAY-POSTROUTING"
FORWARD = "PODPLAY-FORWARD"
DNS_PORT = 53
DOCKER_USER = "DOCKER-USER"


def chain_hash(*parts: str) -> str:
    """16 characters of base32(sha256): stable chain and list names within iptables' 28."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def port_id(service: Service, port: ServicePort) -> str:
    """`ns/name:port` as kube-proxy names a service port (the port's name, else its number)."""
    return "%s:%s" % (service.key, port.name or port.port)


def svc_chain(service: Service, port: ServicePort) -> str:
    return "PODPLAY-SVC-" + chain_hash(port_id(service, port), port.protocol)


def affinity_list(service: Service, port: ServicePort, endpoint: Endpoint) -> str:
    """The xt_recent list remembering clients sent to one endpoint of one service port."""
    return "PODPLAY-AFF-" + chain_hash(port_id(service, port), port.protocol, endpoint.ip)


def _proto(port: ServicePort) -> str:
    p = port.protocol.lower()
    return "-p %s" % p, "-m %s --dport %d" % (p, port.port)


def _comment(text: str) -> str:
    return '-m comment --comment "%s"' % text


def _masq() -> str:
    return "-j MARK --set-xmark %s" % MASQ_MARK


class RenderCache:
    """Each service's rules from the previous render, reused while that service and its ready
    endpoints are unchanged: a one-endpoint change re-renders one service, not thousands.
    Only what the last render used is kept, so the cache never outgrows the cluster."""

    def __init__(self) -> None:
        self.entries: Dict[Tuple[Any, ...], Ruleset] = {}


def build_ruleset(
    state: ClusterState,
    ready: AbstractSet[Endpoint],
    node: LocalNode,
    cache: Optional[RenderCache] = None,
) -> Ruleset:
    """The whole desired ruleset of one node. Pure: same inputs, same rules, same order
    (with or without a cache)."""
    rs = Ruleset()
    for table in ("filter", "nat"):
        rs.add(table, CANARY, "-j RETURN")
    # Declare the fixed chains in a stable order, even when empty.
    for chain in (SERVICES, EXTERNAL_SERVICES, FORWARD):
        rs.chain("filter", chain)
    for chain in (SERVICES, NODEPORTS, POSTROUTING):
        rs.chain("nat", chain)
    hairpin = _services(rs, state, ready, node, cache)
    _unused_service_addresses(rs, state)
    _cluster_dns(rs, state, node)
    rs.add(
        "nat",
        SERVICES,
        "%s -m addrtype --dst-type LOCAL -j %s"
        % (_comment("podplay node ports; must be the last rule"), NODEPORTS),
    )
    _postrouting(rs, hairpin)
    _forward(rs)
    _jumps(rs)
    return rs


def _services(
    rs: Ruleset,
    state: ClusterState,
    ready: AbstractSet[Endpoint],
    node: LocalNode,
    cache: Optional[RenderCache],
) -> Set[str]:
    """Every service's rules (from the cache when the service and its ready endpoints are
    unchanged); returns the IPs of this node's ready endpoints (hairpin candidates)."""
    hairpin: Set[str] = set()
    used: Dict[Tuple[Any, ...], Ruleset] = {}
    for service in state.services:
        if service.type == "ExternalName" or service.cluster_ip is None:
            continue  # DNS only: ExternalName (CNAME) and headless services (pod A records)
        live = [e for e in service.endpoints if e in ready]
        hairpin.update(e.ip for e in live if e.node == node.name)
        key = (service, tuple(live), state.pod_cidr)
        part = cache.entries.get(key) if cache is not None else None
        if part is None:
            part = Ruleset()
            for port in service.ports:
                if live:
                    _service_port(part, state, service, port, live)
                else:
                    _reject_port(part, service, port)
        used[key] = part
        for table, chains in part.tables.items():
            for chain, rules in chains.items():
                if chain.startswith("PODPLAY-SVC-"):
                    rs.tables[table][chain] = rules  # the same list: cheap to diff later
                else:
                    rs.chain(table, chain).extend(rules)
    if cache is not None:
        cache.entries = used
    return hairpin


def _unused_service_addresses(rs: Ruleset, state: ClusterState) -> None:
    """After every service's rules: what is still addressed to the service CIDR in filter
    matched no service port with endpoints (those were DNATed in nat, the cluster DNS VIP
    included) and no port without (rejected above). Nothing answers there: refuse it at
    once rather than let it leave by the default route and be answered from outside."""
    why = _comment("podplay: no service at this address and port")
    cidr = state.service_cidr
    rs.add("filter", SERVICES, "-d %s -p tcp %s -j REJECT --reject-with tcp-reset" % (cidr, why))
    unreachable = "-j REJECT --reject-with icmp-port-unreachable"
    rs.add("filter", SERVICES, "-d %s %s %s" % (cidr, why, unreachable))


def _cluster_dns(rs: Ruleset, state: ClusterState, node: LocalNode) -> None:
    """Steer the DNS VIP to the node-local server on the pod bridge gateway."""
    for proto in ("udp", "tcp"):
        rs.add(
            "nat",
            SERVICES,
            "-d %s/32 -p %s %s -m %s --dport %d -j DNAT --to-destination %s:%d"
            % (
                state.dns_ip,
                proto,
                _comment("cluster DNS"),
                proto,
                DNS_PORT,
                node.gateway,
                DNS_PORT,
            ),
        )


def _postrouting(rs: Ruleset, hairpin: Set[str]) -> None:
    """Masquerade a local pod reaching itself through a service, and marked traffic."""
    post = rs.chain("nat", POSTROUTING)
    for ip in sorted(hairpin, key=_ip_sort_key):
        post.append(
            "-s %s/32 -d %s/32 %s -j MASQUERADE" % (ip, ip, _comment("hairpin: pod to itself"))
        )
    post.append("-m mark ! --mark %s -j RETURN" % MASQ_MARK)
    post.append("-j MARK --set-xmark %s/0x0" % MASQ_BIT)  # xor: clear the bit we set
    post.append(
        "%s -j MASQUERADE" % _comment("podplay service traffic requiring SNAT"),
    )


def _forward(rs: Ruleset) -> None:
    """Accept marked (NodePort/LoadBalancer) traffic and its replies."""
    fwd = rs.chain("filter", FORWARD)
    fwd.append("%s -m mark --mark %s -j ACCEPT" % (_comment("podplay forwarding"), MASQ_MARK))
    fwd.append(
        "%s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        % _comment("podplay forwarding replies")
    )


def probability(k: int) -> str:
    """1/k as iptables-save prints it back (the kernel keeps it as a 31-bit fraction), so a
    full resync can tell an unchanged chain from a changed one by text."""
    fraction = int(0x80000000 / k + 0.5)
    return "%.11f" % (fraction / 0x80000000)


def _ip_sort_key(ip: str) -> tuple:
    return tuple(int(x) for x in ip.split("."))


def _service_port(
    rs: Ruleset, state: ClusterState, service: Service, port: ServicePort, live: List[Endpoint]
) -> None:
    chain = svc_chain(service, port)
    pid = port_id(service, port)
    proto, dport = _proto(port)
    rs.add(
        "nat",
        SERVICES,
        "-d %s/32 %s %s %s -j %s"
        % (service.cluster_ip, proto, _comment(pid + " cluster IP"), dport, chain),
    )
    if service.load_balancer_ip:
        match = "-d %s/32 %s %s %s" % (
            service.load_balancer_ip,
            proto,
            _comment(pid + " loadbalancer IP"),
            dport,
        )
        rs.add("nat", SERVICES, "%s %s" % (match, _masq()))
        rs.add("nat", SERVICES, "%s -j %s" % (match, chain))
    if port.node_port and service.type in ("NodePort", "LoadBalancer"):
        p = port.protocol.lower()
        match = "-p %s %s -m %s --dport %d" % (p, _comment(pid), p, port.node_port)
        rs.add("nat", NODEPORTS, "%s %s" % (match, _masq()))
        rs.add("nat", NODEPORTS, "%s -j %s" % (match, chain))

    rules = rs.chain("nat", chain)
    rules.append("! -s %s %s %s" % (state.pod_cidr, _comment(pid + " from outside pods"), _masq()))
    n = len(live)
    if service.session_affinity:
        for ep in live:
            rules.append(
                "%s -m recent --rcheck --seconds %d --reap --name %s --mask 255.255.255.255 "
                "--rsource -j DNAT --to-destination %s:%d"
                % (
                    proto,
                    service.affinity_timeout,
                    affinity_list(service, port, ep),
                    ep.ip,
                    port.target_port,
                )
            )
    for i, ep in enumerate(live):
        words = [proto]
        if i < n - 1:
            words.append("-m statistic --mode random --probability %s" % probability(n - i))
        if service.session_affinity:
            words.append(
                "-m recent --set --name %s --mask 255.255.255.255 --rsource"
                % affinity_list(service, port, ep)
            )
        words.append("-j DNAT --to-destination %s:%d" % (ep.ip, port.target_port))
        rules.append(" ".join(words))


def _reject_port(rs: Ruleset, service: Service, port: ServicePort) -> None:
    pid = port_id(service, port)
    proto, dport = _proto(port)
    why = _comment(pid + " has no endpoints")
    reject = "-j REJECT --reject-with icmp-port-unreachable"
    rs.add(
        "filter", SERVICES, "-d %s/32 %s %s %s %s" % (service.cluster_ip, proto, why, dport, reject)
    )
    if service.load_balancer_ip:
        rs.add(
            "filter",
            EXTERNAL_SERVICES,
            "-d %s/32 %s %s %s %s" % (service.load_balancer_ip, proto, why, dport, reject),
        )
    if port.node_port and service.type in ("NodePort", "LoadBalancer"):
        p = port.protocol.lower()
        rs.add(
            "filter",
            EXTERNAL_SERVICES,
            "-p %s %s -m addrtype --dst-type LOCAL -m %s --dport %d %s"
            % (p, why, p, port.node_port, reject),
        )


def _jumps(rs: Ruleset) -> None:
    """Jump rules from the built-in chains, in the order they must sit at each chain's top."""
    new = "-m conntrack --ctstate NEW"
    portals = _comment("podplay service portals")
    external = _comment("podplay external service portals")
    rs.jump("filter", "INPUT", "%s %s -j %s" % (external, new, EXTERNAL_SERVICES))
    rs.jump("filter", "FORWARD", "%s %s -j %s" % (portals, new, SERVICES))
    rs.jump("filter", "FORWARD", "%s %s -j %s" % (external, new, EXTERNAL_SERVICES))
    rs.jump("filter", "FORWARD", "%s -j %s" % (_comment("podplay forwarding rules"), FORWARD))
    rs.jump("filter", "OUTPUT", "%s %s -j %s" % (portals, new, SERVICES))
    # Docker keeps DOCKER-USER at the top of FORWARD (it moves it back there when it starts)
    # and the network setup accepts all pod traffic from there: our rejects must come first
    # inside it too. Written only where Docker made the chain.
    rs.jump("filter", DOCKER_USER, "%s %s -j %s" % (portals, new, SERVICES))
    rs.jump("filter", DOCKER_USER, "%s %s -j %s" % (external, new, EXTERNAL_SERVICES))
    rs.jump("nat", "PREROUTING", "%s -j %s" % (portals, SERVICES))
    rs.jump("nat", "OUTPUT", "%s -j %s" % (portals, SERVICES))
    rs.jump("nat", "POSTROUTING", "%s -j %s" % (_comment("podplay postrouting"), POSTROUTING))


def render(
    state: ClusterState,
    ready: AbstractSet[Endpoint],
    node: LocalNode,
    current: Optional[Current] = None,
) -> str:
    """The whole iptables-restore --noflush text for this node's PODPLAY-* chains.

    `current` is what `iptables-save` shows now (to delete stale chains and place jump
    rules); None renders for a node with none of our rules yet.
    """
    return restore_text(build_ruleset(state, ready, node), current=current)
