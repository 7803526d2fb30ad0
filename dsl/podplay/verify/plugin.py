"""pytest plugin (entry point `podplay`): a podplay cluster and its nodes as fixtures.

Point it at a program (the stack `podplay up` applied) or at a build inventory:

    pytest tests/ --podplay-program app.py [--podplay-stack NAME]
    pytest tests/ --podplay-inventory .podplay/shop/build/inventory.yml
    (or $PODPLAY_PROGRAM / $PODPLAY_STACK)

Fixtures for a user's own testinfra tests:

- `podplay_cluster`: the cluster under test (`.plan`, `.nodes`, `.host(name)`, `.hosts`,
  `.outputs`, `.node_address(name)`, `.agents` for the agent API);
- `podplay_plan`: the applied `podplay.plan.Plan`;
- `podplay_hosts`: testinfra Host per node name;
- `podplay_node`: a testinfra Host; a test that asks for it runs once per node.

Without a program or inventory these fixtures skip the test. Loading the plugin has no side
effects and imports nothing heavy, since pytest loads it in every session.
"""

from __future__ import annotations

import os
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from podplay.plan import Plan

_CLUSTER_KEY = pytest.StashKey["PodplayCluster | None"]()
_ERROR_KEY = pytest.StashKey[str]()
PARAMETRIZED = {
    "podplay_node",
    "podplay_check_node",
    "podplay_check_pod",
    "podplay_check_service",
    "podplay_check_route",
    "podplay_check_from_node",
}


class PodplayCluster:
    """A cluster `podplay up` applied: its plan, its nodes reachable by testinfra over SSH."""

    def __init__(self, plan: Plan, inventory: Path, outputs: dict[str, Any] | None = None):
        self.plan = plan
        self.inventory = inventory
        self.outputs = outputs or {}
        self._hosts: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return self.plan.cluster.name

    @property
    def nodes(self) -> list[str]:
        return [n.name for n in self.plan.nodes]

    def node_address(self, node: str) -> str | None:
        return next((n.address for n in self.plan.nodes if n.name == node), None)

    def host(self, node: str) -> Any:
        """testinfra Host for a node (the build inventory's SSH settings)."""
        if node not in self._hosts:
            import testinfra

            bindir = str(Path(sys.executable).parent)  # ansible-inventory next to this Python
            if bindir not in os.environ.get("PATH", "").split(os.pathsep):
                os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
            self._hosts[node] = testinfra.get_host(
                f"ansible://{node}?ansible_inventory={self.inventory}"
            )
        return self._hosts[node]

    @property
    def hosts(self) -> dict[str, Any]:
        return {n: self.host(n) for n in self.nodes}

    @cached_property
    def agents(self) -> Any:
        """The node agents' API (`podplay.control.agent_client.ClusterAccess`)."""
        from podplay.control.agent_client import access_from_inventory

        return access_from_inventory(self.inventory, self.name)


def load_cluster(
    program: str | None, stack: str | None, inventory: str | None
) -> PodplayCluster | None:
    """The cluster a program's stack (or a build inventory) describes; None when not told."""
    from podplay.plan import Plan

    if inventory:
        inv = Path(inventory)
        plan_file = inv.parent / "plan.json"
        if not plan_file.is_file():
            raise FileNotFoundError(f"{plan_file} is missing (the build directory of an up)")
        return PodplayCluster(Plan.from_json(plan_file.read_text()), inv)
    if not program:
        return None
    from podplay.control.state import StackState, stack_dir
    from podplay.dsl import evaluate

    evaluated = evaluate(program)
    assert evaluated.cluster is not None
    state = StackState(stack_dir(Path(program), stack or evaluated.cluster.name))
    applied = state.applied_plan()
    if applied is None:
        raise FileNotFoundError(
            f"stack {state.directory.name} of {program} has no applied plan: run "
            f"`podplay up {program}` first"
        )
    plan = with_the_stores_moves(Plan.model_validate(applied))
    return PodplayCluster(plan, state.directory / "build" / "inventory.yml", state.outputs())


def with_the_stores_moves(plan: Any) -> Any:
    """The applied plan with the controller's moves written in (as `up`'s refresh does): a
    pod the control plane moved off a dead node is checked where it runs now. A store that
    does not answer leaves the plan as applied (a warning says so)."""
    import warnings

    from podplay.artifacts import pki
    from podplay.control.cluster_store import StoreUnavailable, access_for_plan, read_view
    from podplay.plan.refresh import apply_moves

    access = access_for_plan(plan, pki.pki_dir(plan.cluster.name))
    if access is None:
        return plan
    try:
        view = read_view(access)
    except StoreUnavailable as err:
        warnings.warn(f"{err}: checking the pods where the last up put them", stacklevel=2)
        return plan
    return apply_moves(plan, view.bindings.values(), view.cursors).plan


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("podplay", "podplay cluster under test")
    group.addoption(
        "--podplay-program",
        default=os.environ.get("PODPLAY_PROGRAM"),
        help="A podplay program whose applied stack is the cluster under test.",
    )
    group.addoption(
        "--podplay-stack",
        default=os.environ.get("PODPLAY_STACK"),
        help="The program's stack (default: its cluster name).",
    )
    group.addoption(
        "--podplay-inventory",
        default=None,
        help="A build inventory (.podplay/<stack>/build/inventory.yml) instead of a program.",
    )


def _cluster(config: pytest.Config) -> PodplayCluster | None:
    if _CLUSTER_KEY not in config.stash:
        try:
            config.stash[_CLUSTER_KEY] = load_cluster(
                config.getoption("podplay_program"),
                config.getoption("podplay_stack"),
                config.getoption("podplay_inventory"),
            )
        except Exception as err:  # shown by the fixtures, never at plugin load
            config.stash[_CLUSTER_KEY] = None
            config.stash[_ERROR_KEY] = f"{type(err).__name__}: {err}"
    return config.stash[_CLUSTER_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`podplay_node` and the built-in checks' cases run once per node/pod/service."""
    names = set(metafunc.fixturenames) & PARAMETRIZED
    if not names:
        return
    cluster = _cluster(metafunc.config)
    from podplay.verify import checks

    plan = cluster.plan if cluster else None
    if "podplay_node" in names:
        nodes = checks.nodes(plan) if plan else []
        metafunc.parametrize("podplay_node", nodes, indirect=True, ids=nodes)
    if "podplay_check_node" in names:
        nodes = checks.nodes(plan) if plan else []
        metafunc.parametrize("podplay_check_node", nodes, ids=nodes)
    if "podplay_check_pod" in names:
        pods = checks.pods(plan) if plan else []
        metafunc.parametrize(
            "podplay_check_pod", pods, ids=[f"{p.namespace}/{p.name}@{p.node}" for p in pods]
        )
    if "podplay_check_from_node" in names:
        from podplay.verify import network_checks

        cases = network_checks.from_nodes(plan) if plan else []
        metafunc.parametrize("podplay_check_from_node", cases, ids=[c.id for c in cases])
    for name, routed in (("podplay_check_service", False), ("podplay_check_route", True)):
        if name in names:
            cases = checks.services_on_nodes(plan) if plan else []
            if routed:
                cases = [c for c in cases if c.targets()]
            metafunc.parametrize(name, cases, ids=[c.id for c in cases])


@pytest.fixture(scope="session")
def podplay_cluster(request: pytest.FixtureRequest) -> PodplayCluster:
    """The cluster under test; skips the test when none was named."""
    cluster = _cluster(request.config)
    if cluster is None:
        error = request.config.stash.get(_ERROR_KEY, "")
        if error:
            pytest.fail(f"podplay cluster under test: {error}", pytrace=False)
        pytest.skip("no podplay cluster: pass --podplay-program PROGRAM (or PODPLAY_PROGRAM)")
    return cluster


@pytest.fixture(scope="session")
def podplay_plan(podplay_cluster: PodplayCluster) -> Plan:
    return podplay_cluster.plan


@pytest.fixture(scope="session")
def podplay_hosts(podplay_cluster: PodplayCluster) -> dict[str, Any]:
    return podplay_cluster.hosts


@pytest.fixture
def podplay_node(request: pytest.FixtureRequest, podplay_cluster: PodplayCluster) -> Any:
    """A testinfra Host; the test runs once per node of the cluster."""
    return podplay_cluster.host(request.param)
