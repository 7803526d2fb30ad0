"""`inventory.yml`: the nodes as group `nodes`, with how Ansible reaches each of them.

The store's members (`Plan.control_plane()`) also form group `control_plane`, a child of
`nodes`: the roles that run only there target it, and the `control_plane` role reads the
members from it.

Connection details come from the plan's nodes (a program's `pp.Node`s, a user inventory,
or the inventory `podplay cluster create` wrote). A local cluster compiled before it exists
has none yet: its hosts are listed bare, which still parses and syntax-checks.
"""

from __future__ import annotations

from typing import Any

from podplay.plan import Plan
from podplay.plan.facts import CONTROL_PLANE_GROUP
from podplay.render.yamltext import dump

NODE_GROUP = "nodes"  # the same group the substrate's inventory uses


def inventory_data(plan: Plan) -> dict[str, Any]:
    """The inventory as data: group `nodes` with each node's connection variables, and its
    child `control_plane` (the inventory plugin `podplay.cluster.podplay` builds from this too)."""
    hosts: dict[str, Any] = {n.name: dict(n.connection) for n in plan.nodes}
    members: dict[str, Any] = {n.name: {} for n in plan.control_plane()}
    group: dict[str, Any] = {"hosts": hosts}
    if members:
        group["children"] = {CONTROL_PLANE_GROUP: {"hosts": members}}
    return {"all": {"children": {NODE_GROUP: group}}}


def inventory(plan: Plan, program: str | None) -> str:
    """The inventory text."""
    header = [
        f'Nodes of cluster "{plan.cluster.name}", written by podplay compile{_from(program)}.'
    ]
    if any(not n.connection for n in plan.nodes):
        header.append(
            "Hosts without connection details: the local cluster does not exist yet; run "
            f"`podplay cluster create {plan.cluster.name}` and compile again."
        )
    return dump(inventory_data(plan), "\n".join(header), literal=True)


def _from(program: str | None) -> str:
    return f" from {program}" if program else ""
