"""An apply under way (`up`'s state between its steps): where it starts, what it has run,
and what it returns. Kept apart from the steps (`podplay.control.up`) so each file holds
one concept."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from podplay.control.applied import AppliedParts
from podplay.control.prepare import Prepared
from podplay.control.reporter import Reporter
from podplay.control.target import NotReady, Target
from podplay.control.waiting import Probe, probe_cluster
from podplay.control.workspace import Workspace
from podplay.execute import PlaybookResult
from podplay.plan import Change, Plan
from podplay.render.parts import PARTS, STAGE_PARTS

WAIT_TIMEOUT = float(os.environ.get("PODPLAY_WAIT_TIMEOUT", "300"))
LAST_UP = "last-up.json"


@dataclass
class UpResult:
    """What an apply did."""

    plan: Plan
    changes: list[Change]
    outputs: dict[str, Any]
    playbooks: list[tuple[str, PlaybookResult]]
    timings: dict[str, float]
    created_cluster: bool = False
    resumed_stage: int | None = None
    stages: int = 1

    @property
    def changed(self) -> int:
        """Task results that changed something, over every playbook run."""
        return sum(r.changed for _, r in self.playbooks)


@dataclass(frozen=True)
class Start:
    """Where an apply starts: the plan it converges to, the plan the nodes run now (None:
    nothing of this stack yet), the rollout stage to begin at (resumed: the one an
    interrupted apply reached) and whether this apply created the cluster."""

    desired: Plan
    before: Plan | None
    stage: int = 0
    resumed: int | None = None
    created: bool = False


@dataclass
class Run:
    """An apply under way, once its cluster exists: what every later step reads and adds to."""

    prep: Prepared
    start: Start
    target: Target
    workspace: Workspace
    plans: list[Plan]
    reporter: Reporter
    verbose: bool = False
    wait_timeout: float = WAIT_TIMEOUT
    results: list[tuple[str, PlaybookResult]] = field(default_factory=list)
    skipped: dict[str, NotReady] = field(default_factory=dict)  # nodes Ansible leaves out
    full: bool = False  # every part of site.yml on every node (`up --full`)
    applied: AppliedParts | None = None  # what each node runs, part by part
    site_done: bool = False  # the first converge (site.yml, the parts that changed) ran
    _probe: Probe | None = None

    @property
    def desired(self) -> Plan:
        return self.start.desired

    def probe(self) -> Probe:
        """Live state of the cluster's agents and proxies (made when first needed): the
        agents of the plan's Ready nodes."""
        if self._probe is None:
            probe = probe_cluster(self.workspace.inventory, self.target.name)
            self._probe = probe.only(n.name for n in self.desired.ready_nodes())
        return self._probe

    def converge(
        self, plan: Plan, book: str, tags: Sequence[str] = (), hosts: Sequence[str] | None = None
    ) -> None:
        """The nodes to `plan` by one of the workspace's playbooks (its output streamed when
        verbose; `tags`, `hosts`: see `Workspace.run`); EnvironmentProblem when it fails.
        The parts it may change are forgotten first (a failed run leaves them unknown)."""
        if self.applied is not None:
            touched = STAGE_PARTS if book == "stage.yml" else (tags or PARTS)
            self.applied.forget(hosts or self.workspace.hosts(plan), touched)
        output = self.reporter.ansible_line if self.verbose else None
        result = self.workspace.converge(plan, book, output=output, tags=tags, hosts=hosts)
        self.results.append((book, result))

    def label(self, i: int) -> str:
        """`step 2/7` while a rollout has several stages, else nothing."""
        return f"step {i + 1}/{len(self.plans)}" if len(self.plans) > 1 else ""
