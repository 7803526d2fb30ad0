"""What `podplay verify` checks, derived from the plan (pure: plan in, check cases out).

Every promise the plan makes becomes one case, so a failure names exactly what is wrong:

- each node: engine, agent and proxy running, the agent answering;
- each pod: its sandbox and containers running on the planned node, with the planned IP;
- each service on each node: its rules present in the node's NAT table, and its addresses
  (ClusterIP, the node's own NodePort, the LoadBalancer IP) accepting connections;
- each service on each node: cluster DNS answers its name (A -> ClusterIP, or the CNAME of
  an ExternalName service).

The commands the cases run on a node are built here too (`connect_command`,
`dns_command`), as plain `python3` using the node bundle's DNS codec: nodes need no `dig`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from podplay.node.contract import defaults
from podplay.plan import Plan, PodPlan, ServicePlan

NODE_BUNDLE = defaults.BUNDLE_PATH
A, CNAME = 1, 5


@dataclass(frozen=True)
class Target:
    """An address a service should accept connections on, as seen from one node."""

    what: str  # "ClusterIP", "NodePort", "LoadBalancer"
    address: str
    port: int


@dataclass(frozen=True)
class ServiceOnNode:
    """One service, checked from one node."""

    service: ServicePlan
    node: str
    node_address: str | None

    @property
    def id(self) -> str:
        return f"{self.service.namespace}/{self.service.name}@{self.node}"

    @property
    def has_endpoints(self) -> bool:
        return bool(self.service.endpoints)

    def targets(self) -> list[Target]:
        """Where the service must answer from this node."""
        s = self.service
        out = []
        if s.type == "ExternalName":
            return out
        for p in s.ports:
            if p.protocol != "TCP":
                continue
            if s.cluster_ip:
                out.append(Target("ClusterIP", s.cluster_ip, p.port))
            if s.type in ("NodePort", "LoadBalancer") and p.node_port and self.node_address:
                out.append(Target("NodePort", self.node_address, p.node_port))
            if s.type == "LoadBalancer" and s.load_balancer_ip:
                out.append(Target("LoadBalancer", s.load_balancer_ip, p.port))
        return out

    def rule_markers(self) -> list[str]:
        """Text each of which must appear in the node's `iptables-save -t nat`."""
        s = self.service
        out = []
        if s.cluster_ip:
            out.append(f"-d {s.cluster_ip}/32")
        for p in s.ports:
            if s.type in ("NodePort", "LoadBalancer") and p.node_port:
                out.append(f"--dport {p.node_port}")
        if s.type == "LoadBalancer" and s.load_balancer_ip:
            out.append(f"-d {s.load_balancer_ip}/32")
        return out

    def dns_name(self, domain: str) -> str:
        return f"{self.service.name}.{self.service.namespace}.svc.{domain}"

    def dns_expectation(self) -> tuple[int, str | None]:
        """(record type, expected answer) for the service's name."""
        if self.service.type == "ExternalName":
            return CNAME, self.service.external_name
        return A, self.service.cluster_ip


def nodes(plan: Plan) -> list[str]:
    return [n.name for n in plan.nodes]


def pods(plan: Plan) -> list[PodPlan]:
    return list(plan.pods)


def services_on_nodes(plan: Plan) -> list[ServiceOnNode]:
    """Every service from every node."""
    return [ServiceOnNode(s, n.name, n.address) for s in plan.services for n in plan.nodes]


def connect_command(targets: list[Target], timeout: float = 3.0) -> str:
    """A node command printing, per target, `ok`, `refused` or the error (one JSON list)."""
    pairs = [[t.address, t.port] for t in targets]
    script = (
        "import json, socket\n"
        "out = []\n"
        f"for host, port in {json.dumps(pairs)}:\n"
        "    try:\n"
        f"        socket.create_connection((host, port), {timeout}).close()\n"
        "        out.append('ok')\n"
        "    except ConnectionRefusedError:\n"
        "        out.append('refused')\n"
        "    except OSError as err:\n"
        "        out.append(str(err) or type(err).__name__)\n"
        "print(json.dumps(out))\n"
    )
    return _python(script)


def dns_command(name: str, qtype: int, server: str, timeout: float = 3.0, port: int = 53) -> str:
    """A node command asking cluster DNS; prints `{"rcode": n, "answers": [[type, text]]}`."""
    return _python(dns_script(name, qtype, server, timeout, port))


def dns_script(name: str, qtype: int, server: str, timeout: float = 3.0, port: int = 53) -> str:
    """The Python of `dns_command` (to run elsewhere, e.g. in a pod's network namespace)."""
    return (
        "import json, sys\n"
        f"sys.path.insert(0, {NODE_BUNDLE!r})\n"
        "from podplay.node.dns import server, wire\n"
        f"reply = wire.parse(server.exchange(wire.query(4242, {name!r}, {qtype}), {server!r}, "
        f"{port}, timeout={timeout}))\n"
        "print(json.dumps({'rcode': reply.rcode, "
        "'answers': [[rr.rtype, wire.rdata_text(rr)] for rr in reply.answers]}))\n"
    )


def pod_containers_command(pod: PodPlan) -> str:
    """A node command listing the pod's containers: `<container label> <state> <id>` lines."""
    return (
        "docker ps -a --no-trunc "
        f"--filter label=io.podplay.pod={pod.name} "
        f"--filter label=io.podplay.namespace={pod.namespace} "
        "--format '{{.Label \"io.podplay.container\"}} {{.State}} {{.ID}}'"
    )


def sandbox_ip_command(container_id: str) -> str:
    """A node command printing the IPv4 address of `eth0` in the sandbox's network namespace
    (the agent plugs it in itself, so the engine's record of the container has no address)."""
    return (
        f'pid=$(docker inspect -f "{{{{.State.Pid}}}}" {container_id}) && '
        'nsenter -t "$pid" -n ip -4 -o addr show dev eth0'
        " | awk '{split($4, a, \"/\"); print a[1]}'"
    )


def _python(script: str) -> str:
    return "python3 -c " + _quote(script)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
