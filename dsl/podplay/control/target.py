"""Where a program's cluster is and what it says about its nodes (the planner's facts).

Three kinds of cluster, one answer: a local cluster (`nodes=N`) is found by its Docker labels
and described by the inventory `cluster create` wrote; an inventory cluster by the user's
inventory file; a list of `pp.Node`s by the program itself. Reading only: nothing is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from podplay import paths, substrate
from podplay.artifacts import pki
from podplay.dsl import Stack
from podplay.errors import EnvironmentProblem, UserInputError
from podplay.plan import ClusterFacts
from podplay.plan.facts import facts_from_inventory


@dataclass(frozen=True)
class Target:
    """The program's cluster as the world has it now."""

    name: str
    local: bool
    exists: bool
    node_count: int
    facts: ClusterFacts | None = None
    cluster_vars: dict[str, Any] = field(default_factory=dict)

    @property
    def token_file(self) -> str:
        """The agent API token on this machine (the agent role makes it when missing)."""
        given = self.cluster_vars.get("podplay_agent_token_file")
        return str(given or paths.cluster_dir(self.name) / "token")

    @property
    def pki_dir(self) -> str:
        """The cluster's certificates on this machine (`podplay.artifacts.pki`)."""
        given = self.cluster_vars.get("podplay_pki_dir")
        return str(given or pki.pki_dir(self.name))


def read_inventory(path: Path) -> Any:
    """An inventory file as data; a clear error when it cannot be read."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UserInputError(f"cannot read inventory {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise UserInputError(f"inventory {path} is not valid YAML: {err}") from None


def _cluster_vars(data: Any) -> dict[str, Any]:
    root = data.get("all", data) if isinstance(data, dict) else {}
    return dict(root.get("vars") or {}) if isinstance(root, dict) else {}


def find_target(stack: Stack) -> Target:
    """The program's cluster: does it exist, and its node facts when it does."""
    cluster = stack.cluster
    if cluster is None:  # evaluate() refuses such a program; be explicit anyway
        raise UserInputError(f"{stack.program}: the program declares no Cluster")
    if cluster.inventory is not None:
        path = (stack.base_dir / cluster.inventory).resolve()
        data = read_inventory(path)
        facts = facts_from_inventory(data, cluster.inventory)
        return Target(cluster.name, False, True, len(facts.nodes), facts, _cluster_vars(data))
    if not cluster.local:  # pp.Node list: the program is the inventory
        count = len(cluster.nodes) if isinstance(cluster.nodes, list) else 0
        return Target(cluster.name, False, True, count)
    return local_target(cluster.name, cluster.node_count or 1)


def local_target(name: str, count: int) -> Target:
    """A local cluster (`nodes=N`) as its Docker labels and `cluster create`'s inventory
    describe it; `count` is the number of nodes it would be created with."""
    found = substrate.get_cluster(name)
    if found is None:
        return Target(name, True, False, count)
    stopped = [n.name for n in found.nodes if n.state != "running"]
    if stopped:
        raise EnvironmentProblem(
            f"local cluster {name} exists but node(s) {', '.join(stopped)} are not "
            f"running; start them (docker start {found.nodes[0].container}) or delete the "
            f"cluster (podplay cluster delete {name})"
        )
    inventory = substrate.inventory_path(name)
    if not inventory.is_file():
        raise EnvironmentProblem(
            f"local cluster {name} exists but its inventory {inventory} is missing; "
            f"delete the cluster (podplay cluster delete {name}) and run again"
        )
    data = read_inventory(inventory)
    facts = facts_from_inventory(data, str(inventory))
    return Target(name, True, True, len(found.nodes), facts, _cluster_vars(data))
