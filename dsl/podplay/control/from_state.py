"""A stack as its state describes it, for when its program no longer can.

`podplay destroy` works like `pulumi destroy`: when the program does not evaluate (a syntax
or validation error, the file deleted) or cannot be planned, what to remove comes from the
stack's state instead: the plan last applied (`.podplay/<stack>/plan.json`), or the plan an
interrupted `up` was applying (its journal), which name the cluster, say whether it is
local, and list its nodes with how Ansible reaches them.

Without the program the stack's name is unknown: `--stack` names it, or it is the only stack
with state beside the program (stacks that the cluster records as another program's are
left out); several ask for `--stack`, none leave the program's own error standing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from podplay import substrate
from podplay.control import ownership
from podplay.control.state import StackState, stack_dir
from podplay.control.target import Target, local_target
from podplay.dsl import Stack, local_images
from podplay.errors import EnvironmentProblem, UserInputError
from podplay.plan import ClusterFacts, NodeFacts, Plan, plan

STATE_FILES = ("plan.json", "journal.json")


@dataclass(frozen=True)
class Recorded:
    """What a stack's state says is out there: the cluster and the plan applied to it."""

    target: Target
    plan: Plan
    source: Path  # the state file it was read from


def has_state(directory: Path) -> bool:
    """The directory holds a stack that was applied, or is being applied."""
    return any((directory / name).is_file() for name in STATE_FILES)


def first_line(err: Exception) -> str:
    """A program's error in one line: its first (file:line and what is wrong), and how many
    more problems the program has."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    diagnostics = len(getattr(err, "diagnostics", ()))
    more = f" (and {diagnostics - 1} more)" if diagnostics > 1 else ""
    return lines[0] + more


def find_stack(program: Path, name: str | None, problem: UserInputError) -> StackState:
    """The stack to destroy for `program`, which does not evaluate (`problem` says why).

    With no state to go by, `problem` itself is raised: the program's error stays the
    message (exit 2), as it was before state could stand in for the program."""
    if name is not None:
        state = StackState(stack_dir(program, name))
        if not has_state(state.directory):
            raise problem
        return state
    root = stack_dir(program, "stack").parent
    try:
        found = sorted(d for d in root.iterdir() if d.is_dir() and has_state(d))
    except OSError:
        found = []
    here = program.resolve()
    mine = [d for d in found if _recorded_program(d) in (None, here)]
    if not mine:
        raise problem
    if len(mine) > 1:
        names = ", ".join(d.name for d in mine)
        raise UserInputError(
            f"{program} does not evaluate ({first_line(problem)}) and {root} holds several "
            f"stacks ({names}): name the one to destroy with --stack"
        )
    return StackState(mine[0])


def _recorded_program(directory: Path) -> Path | None:
    """The program the cluster's owner record names for this stack (None: not recorded)."""
    for name in STATE_FILES:
        try:
            data = json.loads((directory / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        plan = data.get("plan", data) if name == "journal.json" else data
        cluster = (plan.get("cluster") or {}).get("name") if isinstance(plan, dict) else None
        if not isinstance(cluster, str):
            continue
        record = ownership.owner(cluster)
        if record and Path(str(record["state"])) == directory.resolve():
            return Path(str(record.get("program") or "")).resolve()
        return None
    return None


def recorded(state: StackState, program: str, *, keep_cluster: bool) -> Recorded:
    """The cluster and plan the stack's state describes (an interrupted apply's plan first:
    it may have reached further than the last complete one)."""
    journal = state.journal()
    sources = [
        (state.directory / "journal.json", journal.plan if journal else None),
        (state.directory / "plan.json", state.applied_plan()),
    ]
    for source, data in sources:
        if data is None:
            continue
        try:
            applied = Plan.model_validate(data)
        except ValidationError:
            continue
        target = _target(applied, state, keep_cluster)
        if target.exists:  # one cluster, one stack: another stack's cluster is not ours
            ownership.check(target.name, state.directory, program)
        return Recorded(target, _with_facts(applied, target.facts), source)
    raise EnvironmentProblem(
        f"the state in {state.directory} was written by another podplay version and does not "
        "say what to destroy: fix the program and run destroy again, or remove the cluster "
        "by hand (`podplay cluster delete NAME` for a local one)"
    )


def local_cluster(program: str, stack: Stack, state: StackState) -> Recorded:
    """A local cluster the program names, to be deleted whole: nothing of its nodes is
    needed (they may all be stopped), only that no other stack runs on it."""
    cluster = stack.cluster
    assert cluster is not None and cluster.local
    count = cluster.node_count or 1
    exists = substrate.get_cluster(cluster.name) is not None
    if exists:
        ownership.check(cluster.name, state.directory, program)
    described = plan(stack, None, None, local_images(stack))
    return Recorded(Target(cluster.name, True, exists, count), described, Path(program))


def _target(applied: Plan, state: StackState, keep_cluster: bool) -> Target:
    cluster = applied.cluster
    count = len(applied.nodes)
    if cluster.local:
        if keep_cluster:  # its nodes are worked on: they must run, reachable as made
            return local_target(cluster.name, count)
        return Target(cluster.name, True, substrate.get_cluster(cluster.name) is not None, count)
    facts = ClusterFacts(
        nodes=[
            NodeFacts(
                name=n.name,
                address=n.address,
                pod_cidr=n.pod_cidr,
                capacity=n.capacity,
                labels=n.labels,
                ready=n.ready,
                connection=n.connection,
            )
            for n in applied.nodes
        ],
        lb_pool=cluster.lb_pool,
    )
    return Target(cluster.name, False, True, count, facts, _token_var(state))


def _token_var(state: StackState) -> dict[str, Any]:
    """The agent token file the last apply rendered (a user inventory may name its own)."""
    path = state.directory / "build" / "group_vars" / "all.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    token = data.get("podplay_agent_token_file") if isinstance(data, dict) else None
    return {"podplay_agent_token_file": token} if token else {}


def _with_facts(applied: Plan, facts: ClusterFacts | None) -> Plan:
    """The plan's nodes reached as the cluster says now (a local cluster's inventory)."""
    if facts is None:
        return applied
    now = {n.name: n for n in facts.nodes}
    nodes = [
        n.model_copy(update={"address": now[n.name].address, "connection": now[n.name].connection})
        if n.name in now
        else n
        for n in applied.nodes
    ]
    return applied.model_copy(update={"nodes": nodes})
