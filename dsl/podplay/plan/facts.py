"""Node facts from an Ansible inventory (pure: the caller reads and parses the file).

Two inventories feed the planner the same way: a user's inventory of real hosts
(`Cluster(inventory="hosts.yml")`) and the one `podplay cluster create` writes for a local
cluster (which adds `podplay_node_address`, `podplay_node_pod_cidr` and `podplay_lb_pool`).
Every `ansible_*` variable a host ends up with is kept as its connection details; hosts in
a group `control_plane` are the store's members.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from podplay.errors import UserInputError
from podplay.plan.model import ClusterFacts, NodeFacts

CONTROL_PLANE_GROUP = "control_plane"  # the store's members (children of group `nodes`)


def _hosts(
    group: dict[str, Any], inherited: dict[str, Any], out: dict[str, dict[str, Any]]
) -> None:
    if not isinstance(group, dict):
        return
    scope = {**inherited, **(group.get("vars") or {})}
    for name, host_vars in (group.get("hosts") or {}).items():
        out.setdefault(str(name), {}).update({**scope, **(host_vars or {})})
    for child in (group.get("children") or {}).values():
        _hosts(child or {}, scope, out)


def _group_hosts(group: Any, wanted: str, inside: bool = False) -> set[str]:
    """Hosts of group `wanted` (and of its children), wherever it sits in the tree."""
    if not isinstance(group, dict):
        return set()
    found: set[str] = set()
    if inside:
        found |= {str(name) for name in (group.get("hosts") or {})}
    for name, child in (group.get("children") or {}).items():
        found |= _group_hosts(child or {}, wanted, inside or name == wanted)
    return found


def _address(name: str, values: dict[str, Any], source: str) -> str | None:
    address = values.get("podplay_node_address") or values.get("ansible_host") or name
    try:
        return str(IPv4Address(str(address)))
    except ValueError:
        raise UserInputError(
            f'inventory {source}: host "{name}" needs an IPv4 address for routes and node '
            f'ports; set podplay_node_address ("{address}" is a name)'
        ) from None


def _pool(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    addresses = [IPv4Address(str(v)) for v in value]
    if not addresses:
        return None
    first, last = min(addresses), max(addresses)
    if int(last) - int(first) + 1 != len(set(addresses)):
        raise UserInputError("podplay_lb_pool must be a contiguous range of addresses")
    return f"{first}-{last}"


def facts_from_inventory(data: Any, source: str = "inventory") -> ClusterFacts:
    """Hosts (in inventory order) with address, pod CIDR, labels and connection variables."""
    if not isinstance(data, dict) or not isinstance(data.get("all", data), dict):
        raise UserInputError(f"inventory {source} is not a YAML inventory (a mapping under all:)")
    root = data.get("all", data)
    hosts: dict[str, dict[str, Any]] = {}
    _hosts(root, {}, hosts)
    if not hosts:
        raise UserInputError(f"inventory {source} lists no hosts")
    members = _group_hosts(root, CONTROL_PLANE_GROUP)
    nodes = []
    for name, values in hosts.items():
        labels = values.get("podplay_node_labels") or {}
        nodes.append(
            NodeFacts(
                name=name,
                address=_address(name, values, source),
                pod_cidr=values.get("podplay_node_pod_cidr"),
                labels={str(k): str(v) for k, v in labels.items()},
                connection={
                    k: v
                    for k, v in sorted(values.items())
                    if k.startswith("ansible_") and isinstance(v, str | int | bool)
                },
                control_plane=name in members,
            )
        )
    return ClusterFacts(nodes=nodes, lb_pool=_pool((root.get("vars") or {}).get("podplay_lb_pool")))
