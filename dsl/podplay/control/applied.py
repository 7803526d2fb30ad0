"""What each node runs, part by part of site.yml: the effectful side of `podplay.render.parts`.

`up` asks `AppliedParts.scope` which parts its first converge must run (pure:
`converge_scope`, from the digests of the plan's inputs and the ones recorded in the stack's
`applied.json`). Around every ansible-playbook run, `forget` drops the recorded digests of
the parts it may change (so a run that fails, or is interrupted, leaves them unknown: the next
`up` runs them again) and `record` writes the new ones once it succeeded.

The digests hash the controller files the roles ship or read (node bundle, agent token,
certificates), the collection's own source, and, for a local cluster, each node container's
id: a recreated node has no recorded digest that matches, so everything runs there.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

from podplay import paths, substrate
from podplay.control.state import StackState
from podplay.control.target import Target
from podplay.plan import Plan
from podplay.render import RenderOptions
from podplay.render.parts import (
    STAGE_PARTS,
    ControllerFiles,
    Scope,
    converge_scope,
    part_digests,
)


def file_digest(path: str | Path | None) -> str:
    """sha256 of a file's content, "" when there is none."""
    if not path:
        return ""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return ""


@functools.lru_cache(maxsize=1)
def collection_digest() -> str:
    """One digest of the collection's roles, plugins and playbooks (a new podplay version
    may change what any role does)."""
    root = paths.collection_dir()
    digest = hashlib.sha256()
    found = (p for part in ("roles", "plugins", "playbooks") for p in (root / part).rglob("*"))
    for path in sorted(found):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def controller_files(options: RenderOptions, target: Target, plan: Plan) -> ControllerFiles:
    """Digests of what the roles read on this machine, and the nodes' machine identities."""
    pki = Path(options.pki_dir) if options.pki_dir else None
    files = {
        "bundle": file_digest(options.node_bundle),
        "token": file_digest(options.agent_token_file),
    }
    if pki is not None:
        files["pki/ca.crt"] = file_digest(pki / "ca.crt")
        for n in plan.nodes:
            for ext in ("crt", "key"):
                files[f"pki/nodes/{n.name}.{ext}"] = file_digest(pki / "nodes" / f"{n.name}.{ext}")
    machines = substrate.machine_ids(target.name) if target.local and target.exists else {}
    return ControllerFiles(digests=files, collection=collection_digest(), nodes=machines)


class AppliedParts:
    """The stack's record of what each node runs, part by part, read once and kept current."""

    def __init__(self, state: StackState, options: RenderOptions, target: Target) -> None:
        self.state = state
        self.options = options
        self.target = target
        self.nodes = state.applied_parts()

    @classmethod
    def of(
        cls,
        state: StackState,
        options: RenderOptions,
        target: Target,
        *,
        created: bool = False,
        moved: bool = False,
    ) -> AppliedParts:
        """What the stack's state says each node runs, part by part; nothing is known of a
        cluster this apply `created`, and the pods and routing of a cluster whose controller
        `moved` pods are not what was applied."""
        applied = cls(state, options, target)
        if created:
            applied.nodes = {}
        elif moved:
            for parts in applied.nodes.values():
                for part in STAGE_PARTS:
                    parts.pop(part, None)
        return applied

    def digests(self, plan: Plan) -> dict[str, dict[str, str]]:
        """The digests of `plan`'s parts, per node, with the controller files as they are now."""
        files = controller_files(self.options, self.target, plan)
        return part_digests(plan, self.options, files)

    def scope(self, plan: Plan, hosts: list[str], *, full: bool = False) -> Scope:
        """The parts (and hosts) a converge to `plan` must run."""
        return converge_scope(self.digests(plan), self.nodes, hosts, full=full)

    def forget(self, hosts: Iterable[str], parts: Iterable[str]) -> None:
        """Before a run that may change `parts` on `hosts`: their digests are unknown now."""
        parts = set(parts)
        changed = False
        for host in hosts:
            recorded = self.nodes.get(host, {})
            for part in parts & set(recorded):
                del recorded[part]
                changed = True
        if changed:
            self.state.record_parts(self.nodes)

    def record(self, plan: Plan, hosts: Iterable[str], parts: Iterable[str] | None = None) -> None:
        """After a run that brought `parts` (default: all) on `hosts` to `plan`."""
        digests = self.digests(plan)
        wanted = None if parts is None else set(parts)
        for host in hosts:
            now = digests.get(host, {})
            self.nodes.setdefault(host, {}).update(
                {p: d for p, d in now.items() if wanted is None or p in wanted}
            )
        self.state.record_parts(self.nodes)
