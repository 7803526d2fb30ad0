"""`podplay destroy`: remove what a program made, then forget its stack.

A local cluster is deleted whole, whatever state its nodes are in. A kept one
(`--keep-cluster`) or real hosts stay: the build directory is rendered with nothing on the
cluster (`podplay.plan.rollout.empty_plan`) and `stage.yml` run, so every pod's manifest,
every service and DNS entry go; once the agents report no pod, `teardown.yml` stops the
agent and proxy and removes the proxy's chains.

A node that is down (a stopped container, a host that does not answer over SSH) does not
stop the others from being cleaned: the playbooks run on the nodes that answer, and the
stack's state is kept, so `destroy` run again once the node is back removes the rest.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from podplay import substrate
from podplay.artifacts.images import ensure_pause_image
from podplay.control import ownership
from podplay.control.inspect import applied_plan_path
from podplay.control.reporter import Reporter
from podplay.control.state import StackState
from podplay.control.target import NotReady, Target
from podplay.control.waiting import probe_cluster, wait_no_pods
from podplay.control.workspace import Workspace, reachable_hosts, unreachable
from podplay.execute import PlaybookResult
from podplay.plan import Plan
from podplay.plan.rollout import empty_plan


@dataclass
class DestroyResult:
    """What a destroy did."""

    cluster_deleted: bool = False
    pods_removed: bool = False
    playbooks: list[tuple[str, PlaybookResult]] = field(default_factory=list)
    skipped: dict[str, NotReady] = field(default_factory=dict)  # nodes not reached

    @property
    def complete(self) -> bool:
        """Everything was removed (no node was left out)."""
        return not self.skipped


def destroy(
    program: str,
    target: Target,
    state: StackState,
    described: Plan,
    *,
    keep_cluster: bool,
    reporter: Reporter | None = None,
    verbose: bool = False,
    timeout: float = 120.0,
) -> DestroyResult:
    """Remove what the program made: the local cluster, or (kept / real hosts) pods, routing
    and DNS entries, then the agent and proxy. Forget the stack's state. Hold the lock.

    `described` names the cluster's nodes and how to reach them: the program's plan
    (`prepare`), or the stack's recorded plan when the program no longer evaluates
    (`podplay.control.from_state`)."""
    reporter = reporter or Reporter()
    out = DestroyResult()
    if target.local and not keep_cluster:
        if target.exists or substrate.get_cluster(target.name) is not None:
            reporter.phase("cluster", f"deleting local cluster {target.name}")
        out.cluster_deleted = substrate.delete_cluster(target.name)
    elif target.exists:
        workspace = Workspace.for_target(
            state.directory / "build", program, target, ensure_pause_image(), {}
        )
        workspace.reporter = reporter
        out.skipped = unreachable(target.not_ready, described.nodes, reporter, ask_all=True)
        workspace.limit = reachable_hosts(described.nodes, out.skipped)
        state.record_parts({})  # what up applied goes: its next run converges everything
        out.playbooks = remove_app(workspace, target, described, reporter, verbose, timeout)
        out.pods_removed = True
        if not out.complete:  # kept: `destroy` again, once those nodes are back, ends the job
            return out
        with contextlib.suppress(FileNotFoundError):
            applied_plan_path(target.name).unlink()
        ownership.release(target.name, state.directory)
    state.forget()
    return out


def remove_app(
    workspace: Workspace,
    target: Target,
    described: Plan,
    reporter: Reporter,
    verbose: bool,
    timeout: float,
) -> list[tuple[str, PlaybookResult]]:
    """The nodes stay: their pods, services and DNS entries go, then the agent and proxy
    (on the nodes the workspace's playbooks run on)."""
    output = reporter.ansible_line if verbose else None
    reporter.phase("converge", "removing pods, services and DNS entries")
    emptied = workspace.converge(empty_plan(described), "stage.yml", output=output)
    probe = probe_cluster(workspace.inventory, target.name)
    if workspace.limit is not None:
        probe = probe.only(workspace.limit)
    wait_no_pods(probe, reporter, timeout)
    reporter.phase("converge", "stopping agent and proxy, removing PODPLAY chains")
    stopped = workspace.play("teardown.yml", output=output)
    return [("stage.yml", emptied), ("teardown.yml", stopped)]
