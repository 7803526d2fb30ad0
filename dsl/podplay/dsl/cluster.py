"""`Cluster` and `Node`: where the pods run.

`Cluster("shop", nodes=3)` is a local cluster of node containers on this machine's Docker
engine; `nodes=[Node(...)]` or `inventory="hosts.yml"` are real hosts reached over SSH.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from podplay.dsl.base import Spec, bad
from podplay.dsl.diagnostics import show
from podplay.dsl.fields import Labels, Name, Port
from podplay.dsl.network import (
    node_subnet_count,
    parse_address,
    parse_network,
    pool_addresses,
    pool_overlaps,
)
from podplay.dsl.stack import current_stack
from podplay.node.contract import defaults

# A local cluster's name becomes its node containers' and Docker network's names, and the
# substrate allows at most this many node containers: the same rules as `podplay cluster
# create` (podplay.substrate.model; a unit test keeps the two equal), checked here so that a
# program is refused by compile and preview, not halfway through `up`.
LOCAL_NAME_RE = re.compile(r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")
LOCAL_MAX_NODES = 100
# The store (etcd) needs a majority of its members: an odd count, never more than the nodes.
CONTROL_PLANE_SIZES = (1, 3, 5)
NODE_GRACE_MAX = 3600.0  # seconds; beyond an hour a dead node's pods are as good as lost

# A login name as useradd allows it; the value reaches the inventory, so nothing else passes.
_USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")


class Node(Spec):
    """A real Linux host with a Docker engine, reached over SSH."""

    _positional = ("name", "address")

    name: Name
    address: StrictStr
    user: StrictStr = "root"
    port: Port = 22
    ssh_key: StrictStr | None = None
    labels: Labels = {}
    control_plane: StrictBool = False

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return str(parse_address(value))
        except ValueError as err:
            raise bad(f"{show(value)} {err}") from None

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not _USER_NAME.fullmatch(value):
            raise bad(
                f"{show(value)} must be a login name (letters, digits, '_', '.', '-', "
                "starting with a letter or '_'; at most 32)"
            )
        return value


def _nodes(value: Any) -> Any:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if not isinstance(item, Node):
                raise bad(f"[{i}] {show(item)} must be a pp.Node")
        return list(value)
    raise bad(f"{show(value)} must be a number of local nodes or a list of pp.Node")


def _grace(value: Any) -> Any:
    """Seconds, more than 0 and at most NODE_GRACE_MAX (an int or a float, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(f"{show(value)} must be a number of seconds")
    if not 0 < value <= NODE_GRACE_MAX:
        raise bad(f"{show(value)} must be more than 0 and at most {NODE_GRACE_MAX:g} seconds")
    return float(value)


def default_control_plane(node_count: int) -> int:
    """How many store members a cluster of `node_count` nodes gets unless told."""
    return 3 if node_count >= 3 else 1


def _cidr(field: str, value: str, longest: int, why: str) -> ipaddress.IPv4Network:
    """Parse one of the cluster's CIDR fields: a /8 up to a /`longest` network."""
    try:
        net = parse_network(value)
    except ValueError as err:
        raise bad(f"{field} {show(value)} {err}") from None
    if not 8 <= net.prefixlen <= longest:
        raise bad(f"{field} {show(value)} must be a /8 to /{longest} network ({why})")
    return net


class Cluster(Spec):
    """The program's one cluster: its nodes and address ranges."""

    _positional = ("name", "nodes")

    name: Name
    nodes: Annotated[int | list[Node] | None, BeforeValidator(_nodes)] = None
    inventory: StrictStr | None = None
    pod_cidr: StrictStr = defaults.POD_CIDR
    service_cidr: StrictStr = defaults.SERVICE_CIDR
    lb_pool: StrictStr | None = None
    control_plane: StrictInt | None = None
    node_grace: Annotated[float, BeforeValidator(_grace)] = defaults.NODE_GRACE

    @model_validator(mode="after")
    def _consistent(self) -> Cluster:
        if self.inventory is not None and self.nodes is not None:
            raise bad("give nodes or inventory, not both")
        if self.inventory is not None and not self.inventory.strip():
            raise bad("inventory must be a path to an Ansible inventory file")
        pod = _cidr("pod_cidr", self.pod_cidr, 23, "each node gets a /24 of it")
        svc = _cidr(
            "service_cidr",
            self.service_cidr,
            28,
            ".1 and .10 of it are reserved, .10 for cluster DNS",
        )
        if pod.overlaps(svc):
            raise bad(
                f"service_cidr {show(self.service_cidr)} overlaps pod_cidr {show(self.pod_cidr)}"
            )
        if self.lb_pool is not None:
            try:
                pool = pool_addresses(self.lb_pool)
            except ValueError as err:
                raise bad(f"lb_pool {show(self.lb_pool)} {err}") from None
            for field, net in (("pod_cidr", pod), ("service_cidr", svc)):
                if pool_overlaps(pool, net):
                    raise bad(f"lb_pool {show(self.lb_pool)} overlaps {field} {show(str(net))}")
        capacity = node_subnet_count(pod)
        if self.local and not LOCAL_NAME_RE.match(self.name):
            raise bad(
                f"name {show(self.name)} cannot name a local cluster: use 1 to 32 lowercase "
                'letters, digits and "-", starting with a letter and ending with a letter or '
                "digit (it names the node containers and their Docker network)"
            )
        if isinstance(self.nodes, int):
            if not 1 <= self.nodes <= capacity:
                raise bad(
                    f"nodes {self.nodes} is outside 1-{capacity} "
                    f"(pod_cidr {self.pod_cidr} holds {capacity} node /24s)"
                )
            if self.nodes > LOCAL_MAX_NODES:
                raise bad(
                    f"nodes {self.nodes} is more than a local cluster holds (at most "
                    f"{LOCAL_MAX_NODES} node containers); list real hosts with pp.Node instead"
                )
        elif isinstance(self.nodes, list):
            self._check_hosts(self.nodes, capacity, pod, svc)
        self._check_control_plane()
        return self

    def _check_control_plane(self) -> None:
        """1, 3 or 5 store members, never more than the nodes (an inventory's hosts are
        counted when the plan reads it); hosts marked `control_plane=True` must agree."""
        wanted = self.control_plane
        sizes = "1, 3 or 5 (the store needs a majority of its members)"
        if wanted is not None and wanted not in CONTROL_PLANE_SIZES:
            raise bad(f"control_plane {wanted} must be {sizes}")
        marked = (
            [n.name for n in self.nodes if n.control_plane] if isinstance(self.nodes, list) else []
        )
        hosts = f"{len(marked)} host{'s' if len(marked) != 1 else ''}"
        if marked and len(marked) not in CONTROL_PLANE_SIZES:
            raise bad(f"nodes mark {hosts} control_plane=True; mark {sizes}")
        if marked and wanted is not None and wanted != len(marked):
            raise bad(f"control_plane {wanted} but nodes mark {hosts} control_plane=True")
        count = self.node_count
        if wanted is not None and count is not None and wanted > count:
            raise bad(
                f"control_plane {wanted} is more than the cluster's {count} "
                f"node{'s' if count != 1 else ''}"
            )

    def _check_hosts(self, nodes: list[Node], capacity: int, pod: Any, svc: Any) -> None:
        if not nodes:
            raise bad("nodes must list at least one pp.Node")
        if len(nodes) > capacity:
            raise bad(f"nodes lists {len(nodes)} hosts; pod_cidr {self.pod_cidr} holds {capacity}")
        names: dict[str, int] = {}
        addresses: dict[str, int] = {}
        for i, node in enumerate(nodes):
            if node.name in names:
                raise bad(
                    f'nodes[{i}].name "{node.name}" is already used by nodes[{names[node.name]}]'
                )
            if node.address in addresses:
                raise bad(
                    f'nodes[{i}].address "{node.address}" is already used by '
                    f"nodes[{addresses[node.address]}]"
                )
            for field, net in (("pod_cidr", pod), ("service_cidr", svc)):
                if parse_address(node.address) in net:
                    raise bad(f'nodes[{i}].address "{node.address}" is inside {field} {net}')
            names[node.name] = i
            addresses[node.address] = i

    def _created(self) -> None:
        current_stack(self.describe(), self.location).add_cluster(self)

    @property
    def local(self) -> bool:
        """True for node containers on this machine (`nodes=N`), False for real hosts."""
        return self.inventory is None and not isinstance(self.nodes, list)

    @property
    def node_count(self) -> int | None:
        """How many nodes the program asks for (None when an inventory decides)."""
        if isinstance(self.nodes, list):
            return len(self.nodes)
        if self.inventory is not None:
            return None
        return 1 if self.nodes is None else self.nodes
