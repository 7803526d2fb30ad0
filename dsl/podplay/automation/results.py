"""What the automation API returns: frozen dataclasses, built from the engine's own results.

`PreviewResult` (what `up` would change), `UpResult` (what it did), `DestroyResult`,
`Outputs` (the stack's exports and how to reach each service), and the parts they share:
`ResourceOperation` (one resource's change), `ChangeSummary` (counts per operation) and
`PlaybookRun` (one ansible-playbook run's per-host stats). Each prints as the CLI prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podplay.control.outputs import format_outputs
from podplay.control.target import NotReady
from podplay.execute import HostStats, PlaybookResult, TaskEvent
from podplay.plan import Change
from podplay.plan.diff import summary
from podplay.plan.refresh import Move

ACTIONS = {"+": "create", "~": "update", "-": "delete", "+-": "replace"}


@dataclass(frozen=True)
class ResourceOperation:
    """One resource's change: `op` is `+` create, `~` update, `-` delete, `+-` replace;
    `fields` the changed fields of an update; `rollout` how pods are replaced when it is not
    one at a time."""

    op: str
    kind: str
    name: str
    namespace: str | None = None
    fields: tuple[str, ...] = ()
    replaces: str | None = None
    rollout: str | None = None

    @classmethod
    def of(cls, c: Change) -> ResourceOperation:
        return cls(c.op, c.kind, c.name, c.namespace, tuple(c.fields), c.replaces, c.rollout)

    @property
    def action(self) -> str:
        """`create`, `update`, `delete` or `replace`."""
        return ACTIONS[self.op]

    def change(self) -> Change:
        """The planner's form of this change (what preview's text is made from)."""
        return Change(
            self.op,  # type: ignore[arg-type]
            self.kind,
            self.name,
            self.namespace,
            list(self.fields),
            self.replaces,
            self.rollout,
        )

    def __str__(self) -> str:
        return str(self.change())


@dataclass(frozen=True)
class ChangeSummary:
    """How many resources each operation touches; prints as `1 to create, 0 to update, ...`."""

    create: int = 0
    update: int = 0
    delete: int = 0
    replace: int = 0
    text: str = "no changes"

    @classmethod
    def of(cls, operations: tuple[ResourceOperation, ...]) -> ChangeSummary:
        counts = {a: sum(1 for o in operations if o.action == a) for a in ACTIONS.values()}
        return cls(**counts, text=summary([o.change() for o in operations]))

    @property
    def total(self) -> int:
        return self.create + self.update + self.delete + self.replace

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class PlaybookRun:
    """One ansible-playbook run: its play recap per host, and the tasks that changed
    something or failed."""

    playbook: str
    ok: bool
    rc: int
    changed: int
    duration: float
    hosts: Mapping[str, HostStats]
    changed_tasks: tuple[TaskEvent, ...] = ()
    failures: tuple[TaskEvent, ...] = ()

    @classmethod
    def of(cls, playbook: str, r: PlaybookResult) -> PlaybookRun:
        return cls(
            playbook=playbook,
            ok=r.ok,
            rc=r.rc,
            changed=r.changed,
            duration=r.duration,
            hosts=dict(r.hosts),
            changed_tasks=tuple(r.changed_tasks),
            failures=tuple(r.failures),
        )


@dataclass(frozen=True)
class ServicePortOutput:
    port: int
    target_port: int | str | None
    node_port: int | None


@dataclass(frozen=True)
class ServiceOutput:
    """A service and the ways to reach it (`reach`: addresses and URLs, as `up` prints)."""

    namespace: str
    name: str
    type: str
    cluster_ip: str | None
    ports: tuple[ServicePortOutput, ...]
    load_balancer_ip: str | None
    external_name: str | None
    reach: tuple[str, ...]


@dataclass(frozen=True)
class Outputs:
    """The stack's outputs: `exports` (`pp.export`), the nodes' addresses and every service
    with how to reach it. `data` is the JSON form (the stack's `outputs.json`)."""

    cluster: str
    nodes: Mapping[str, str | None]
    exports: Mapping[str, Any]
    services: tuple[ServiceOutput, ...]
    data: Mapping[str, Any]

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Outputs:
        services = tuple(
            ServiceOutput(
                namespace=s["namespace"],
                name=s["name"],
                type=s["type"],
                cluster_ip=s.get("cluster_ip"),
                ports=tuple(ServicePortOutput(**p) for p in s.get("ports") or ()),
                load_balancer_ip=s.get("load_balancer_ip"),
                external_name=s.get("external_name"),
                reach=tuple(s.get("reach") or ()),
            )
            for s in data.get("services") or ()
        )
        nodes = {n["name"]: n.get("address") for n in data.get("nodes") or ()}
        exports = dict(data.get("exports") or {})
        return cls(str(data.get("cluster", "")), nodes, exports, services, dict(data))

    def __str__(self) -> str:
        """The block `podplay up` prints at its end."""
        return format_outputs(dict(self.data))


@dataclass(frozen=True)
class PreviewResult:
    """What `up` would change, decided against the stack's state; nothing touched.

    `moves`: pods the cluster's controller moved since the last `up` (read from its store);
    `not_ready`: nodes planned around; `interrupted`: an earlier `up` did not finish (its
    `journal_phase`), so `up` converges even without changes; `not_known_yet`: values only
    known once the cluster exists."""

    stack: str
    program: str
    cluster: str
    cluster_exists: bool
    cluster_local: bool
    operations: tuple[ResourceOperation, ...]
    summary: ChangeSummary
    interrupted: bool = False
    journal_phase: str | None = None
    not_known_yet: tuple[str, ...] = ()
    moves: tuple[Move, ...] = ()
    not_ready: tuple[NotReady, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def changes_pending(self) -> bool:
        """`up` has something to do: changes, or an interrupted `up` to finish."""
        return bool(self.operations) or self.interrupted


@dataclass(frozen=True)
class UpResult:
    """What `up` did: the operations applied, every playbook run, the outputs."""

    stack: str
    preview: PreviewResult
    outputs: Outputs
    playbooks: tuple[PlaybookRun, ...]
    pods: int
    stages: int
    created_cluster: bool
    resumed_stage: int | None
    timings: Mapping[str, float]
    seconds: float
    build_directory: Path

    @property
    def operations(self) -> tuple[ResourceOperation, ...]:
        return self.preview.operations

    @property
    def summary(self) -> ChangeSummary:
        return self.preview.summary

    @property
    def changed(self) -> int:
        """Task results that changed something, over every playbook run."""
        return sum(p.changed for p in self.playbooks)


@dataclass(frozen=True)
class DestroyResult:
    """What `destroy` removed: the local cluster whole, or (nodes kept) the app from the
    nodes it reached. `skipped` nodes could not be reached; then the stack is kept."""

    stack: str
    cluster: str
    cluster_local: bool
    keep_cluster: bool
    cluster_deleted: bool
    pods_removed: bool
    skipped: tuple[NotReady, ...]
    playbooks: tuple[PlaybookRun, ...]
    source: str = "program"  # or the state file destroyed from, when the program cannot be

    @property
    def complete(self) -> bool:
        """Everything was removed and the stack forgotten."""
        return not self.skipped
