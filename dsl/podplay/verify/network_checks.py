"""The pod network checks of `podplay verify` (pure: plan in, cases and node commands out).

- pod network: from every node, a connection to a pod on every other node, made inside a
  pod's network namespace (`nsenter` into its sandbox) so it takes the path pod traffic
  takes: the node's routes to the other pod CIDRs, both nodes' forwarding rules, the way
  back. A node with no pod planned (or none running) checks from its pod bridge address; a
  node with no pod planned is reached at its bridge (cluster DNS listens there on TCP 53).
  A connection accepted or refused proves the path (the target's kernel answered); a time
  out or "no route" is the failure, named by node pair.
- outside DNS: a name outside the cluster, resolved through cluster DNS from a pod. No name
  is written in here or in the plan: the node's own resolvers are asked at run time for the
  name of another node's address (PTR; Docker's embedded DNS knows the node containers), and
  cluster DNS must then answer it from the pod. A node whose resolvers do not answer at all
  fails; resolvers that answer but know no such name skip the check, saying so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from podplay.node.contract import addresses
from podplay.plan import Plan, PodPlan
from podplay.verify.checks import NODE_BUNDLE, _python

CONNECT_TIMEOUT = 3.0
DNS_TIMEOUT = 2.0
MAX_PTR_ADDRESSES = 3


@dataclass(frozen=True)
class PeerTarget:
    """Where, on another node, a pod must be reachable."""

    node: str
    what: str  # "pod <namespace>/<name>" or "pod bridge"
    address: str
    port: int

    def describe(self) -> str:
        return f"{self.what} {self.address}:{self.port}"


@dataclass(frozen=True)
class FromNode:
    """The network checks run on one node: from a pod there (or its bridge address)."""

    node: str
    source: PodPlan | None
    bridge_address: str
    targets: tuple[PeerTarget, ...] = ()
    peer_addresses: tuple[str, ...] = ()  # whose names the node's resolvers are asked for
    dns_ip: str = "10.96.0.10"

    @property
    def id(self) -> str:
        return self.node


def bridge_address(pod_cidr: str) -> str:
    """The pod bridge's own address (.1 of the node's pod CIDR)."""
    return addresses.gateway(pod_cidr)


def _first_pod(plan: Plan, node: str) -> PodPlan | None:
    pods = sorted((p for p in plan.pods if p.node == node), key=lambda p: (p.namespace, p.name))
    return pods[0] if pods else None


def _tcp_port(pod: PodPlan) -> int | None:
    for container in pod.manifest.get("containers", []):
        for port in container.get("ports") or []:
            if port.get("protocol", "TCP") == "TCP":
                return int(port["container_port"])
    return None


def _target(plan: Plan, node: str, pod_cidr: str) -> PeerTarget:
    pod = _first_pod(plan, node)
    if pod is None:
        return PeerTarget(node, "pod bridge", bridge_address(pod_cidr), 53)
    # a pod with no port still answers (refuses) a connection: that proves the path too
    return PeerTarget(node, f"pod {pod.namespace}/{pod.name}", pod.ip, _tcp_port(pod) or 9)


def from_nodes(plan: Plan) -> list[FromNode]:
    """One case per node: pod network to every other node, and outside DNS."""
    out = []
    for node in plan.nodes:
        others = [n for n in plan.nodes if n.name != node.name]
        addresses = [n.address for n in others if n.address] or [node.address or ""]
        out.append(
            FromNode(
                node=node.name,
                source=_first_pod(plan, node.name),
                bridge_address=bridge_address(node.pod_cidr),
                targets=tuple(_target(plan, n.name, n.pod_cidr) for n in others),
                peer_addresses=tuple(a for a in addresses if a)[:MAX_PTR_ADDRESSES],
                dns_ip=plan.cluster.dns_ip,
            )
        )
    return out


def in_pod_netns(case: FromNode, script: str) -> str:
    """A node command running `python3 -c script` in the source pod's network namespace;
    without a running sandbox, on the node with PODPLAY_SOURCE set to its bridge address."""
    run = _python(script)
    if case.source is None:
        return f"PODPLAY_SOURCE={case.bridge_address} {run}"
    find = (
        "docker ps -q --filter label=io.podplay.container=POD "
        f"--filter label=io.podplay.pod={case.source.name} "
        f"--filter label=io.podplay.namespace={case.source.namespace} | head -1"
    )
    return (
        f'sandbox=$({find}); pid=$(docker inspect -f "{{{{.State.Pid}}}}" "$sandbox" 2>/dev/null);'
        f' if [ -n "$sandbox" ] && [ "${{pid:-0}}" != 0 ]; then nsenter -t "$pid" -n {run};'
        f" else PODPLAY_SOURCE={case.bridge_address} {run}; fi"
    )


REACH = """\
import json, os, socket, threading
source = os.environ.get("PODPLAY_SOURCE")
pairs = %(pairs)s
out = [None] * len(pairs)

def probe(i, host, port):
    s = socket.socket()
    s.settimeout(%(timeout)s)
    try:
        if source:
            s.bind((source, 0))
        s.connect((host, port))
        out[i] = "ok"
    except ConnectionRefusedError:
        out[i] = "refused"
    except OSError as err:
        out[i] = str(err) or type(err).__name__
    finally:
        s.close()

threads = [threading.Thread(target=probe, args=(i, *pair)) for i, pair in enumerate(pairs)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"from": "bridge " + source if source else "pod", "results": out}))
"""


def reach_script(targets: tuple[PeerTarget, ...], timeout: float = CONNECT_TIMEOUT) -> str:
    """Connects to every target at once; prints `{"from": ..., "results": [...]}` where a
    result is `ok`, `refused` or the error."""
    pairs = [[t.address, t.port] for t in targets]
    return REACH % {"pairs": json.dumps(pairs), "timeout": timeout}


def unreachable(case: FromNode, results: list[str]) -> list[str]:
    """`node1 -> node2 (pod default/web-x 10.244.2.5:8080): timed out` for each failure."""
    return [
        f"{case.node} -> {t.node} ({t.describe()}): {r}"
        for t, r in zip(case.targets, results, strict=True)
        if r not in ("ok", "refused")
    ]


OUTSIDE_NAME = """\
import json, sys
sys.path.insert(0, %(bundle)r)
from podplay.node.dns import server, wire
addresses = %(addresses)s
servers = server.read_resolv_conf(%(resolv_conf)r)
errors, answered = [], []
for addr in addresses:
    rev = ".".join(reversed(addr.split("."))) + ".in-addr.arpa"
    for ns in servers:
        try:
            reply = wire.parse(server.exchange(wire.query(4243, rev, wire.PTR), ns, %(port)d,
                                               timeout=%(timeout)s))
        except Exception as err:
            errors.append("%%s: %%s" %% (ns, err or type(err).__name__))
            continue
        if reply.rcode not in (0, 3):
            errors.append("%%s: rcode %%d for %%s" %% (ns, reply.rcode, rev))
            continue
        answered.append(ns)
        names = [wire.rdata_text(rr) for rr in reply.answers if rr.rtype == wire.PTR]
        if names:
            print(json.dumps({"name": names[0].rstrip("."), "address": addr, "server": ns}))
            sys.exit(0)
if answered:
    why = "no PTR record for %%s at %%s" %% (", ".join(addresses), ", ".join(sorted(set(answered))))
    print(json.dumps({"none": why}))
else:
    print(json.dumps({"error": "; ".join(errors) or "no nameserver in /etc/resolv.conf"}))
"""


def outside_name_command(
    case: FromNode,
    timeout: float = DNS_TIMEOUT,
    resolv_conf: str = "/etc/resolv.conf",
    port: int = 53,
) -> str:
    """A node command asking the node's own resolvers (its /etc/resolv.conf) for the name of
    another node's address. Prints `{"name", "address", "server"}`, `{"none": why}` (they
    answer, knowing no such name) or `{"error": why}` (they do not answer)."""
    values = {"bundle": NODE_BUNDLE, "addresses": json.dumps(list(case.peer_addresses))}
    values.update(timeout=timeout, resolv_conf=resolv_conf, port=port)
    return _python(OUTSIDE_NAME % values)
