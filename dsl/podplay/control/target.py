"""Where a program's cluster is and what it says about its nodes (the planner's facts).

Three kinds of cluster, one answer: a local cluster (`nodes=N`) is found by its Docker labels
and described by the inventory `cluster create` wrote; an inventory cluster by the user's
inventory file; a list of `pp.Node`s by the program itself. Reading only: nothing is made.

A node that is down does not stop the user: it is NotReady (`Target.not_ready`, the facts
say `ready=False`), so the planner places its pods on Ready nodes and Ansible leaves it out.
A local node is NotReady when its container is not running; any node when its lease is
gone from the cluster's store (`with_not_ready`, from `podplay.control.cluster_store`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from podplay import paths, substrate
from podplay.artifacts import pki
from podplay.dsl import Stack
from podplay.errors import EnvironmentProblem, UserInputError
from podplay.plan import ClusterFacts, NodeFacts
from podplay.plan.facts import facts_from_inventory


@dataclass(frozen=True)
class NotReady:
    """A node the plan goes around, and why. `unreachable`: known not to answer over SSH (a
    stopped container); otherwise `up` asks it before leaving it out of the Ansible run."""

    node: str
    why: str
    unreachable: bool = False
    container: str = ""

    def __str__(self) -> str:
        return f"{self.node} is NotReady ({self.why})"


@dataclass(frozen=True)
class Target:
    """The program's cluster as the world has it now."""

    name: str
    local: bool
    exists: bool
    node_count: int
    facts: ClusterFacts | None = None
    cluster_vars: dict[str, Any] = field(default_factory=dict)
    not_ready: tuple[NotReady, ...] = ()

    def with_not_ready(self, found: Iterable[NotReady], names: Iterable[str] = ()) -> Target:
        """The target with more nodes NotReady (facts `ready=False`). `names` are every node
        of the cluster, for a cluster whose facts the program holds (a `pp.Node` list)."""
        known = {n.node for n in self.not_ready}
        added = tuple(n for n in found if n.node not in known)
        if not added:
            return self
        down = known | {n.node for n in added}
        facts = self.facts or ClusterFacts(nodes=[NodeFacts(name=name) for name in names])
        nodes = [
            n.model_copy(update={"ready": False}) if n.name in down and n.ready else n
            for n in facts.nodes
        ]
        return replace(
            self,
            facts=facts.model_copy(update={"nodes": nodes}),
            not_ready=self.not_ready + added,
        )

    def not_ready_names(self) -> set[str]:
        return {n.node for n in self.not_ready}

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
    describe it; `count` is the number of nodes it would be created with. A node whose
    container is not running is NotReady."""
    found = substrate.get_cluster(name)
    if found is None:
        return Target(name, True, False, count)
    inventory = substrate.inventory_path(name)
    if not inventory.is_file():
        raise EnvironmentProblem(
            f"local cluster {name} exists but its inventory {inventory} is missing; "
            f"delete the cluster (podplay cluster delete {name}) and run again"
        )
    data = read_inventory(inventory)
    facts = facts_from_inventory(data, str(inventory))
    target = Target(name, True, True, len(found.nodes), facts, _cluster_vars(data))
    stopped = [
        NotReady(
            n.name, f"its container {n.container} is not running ({n.state})", True, n.container
        )
        for n in found.nodes
        if n.state != "running"
    ]
    return target.with_not_ready(stopped)


def check_some_ready(target: Target) -> None:
    """Planning needs one Ready node at least: else say which nodes are down, and how to
    start them."""
    if not target.exists or target.facts is None:
        return
    down = target.not_ready_names()
    if not down or any(n.name not in down for n in target.facts.nodes):
        return
    reasons = "; ".join(str(n) for n in target.not_ready)
    containers = [n.container for n in target.not_ready if n.container]
    fix = f"start them (docker start {' '.join(containers)})" if containers else "bring them back"
    if target.local:
        fix += f" or delete the cluster (podplay cluster delete {target.name})"
    raise EnvironmentProblem(f"no node of cluster {target.name} is ready: {reasons}; {fix}")
