"""The stack's build directory: the plan rendered as plain Ansible, and running it.

`up` renders each plan it converges to into `.podplay/<stack>/build/` (the same files
`podplay compile` writes: inventory, group/host vars, site.yml, plan.json, and two more
playbooks of the renderer's, `stage.yml` for draining before pods go and `teardown.yml`
for `destroy --keep-cluster`; while a rolling update runs, `rollout.yml`, all its stages in
one run) and runs ansible-playbook on them, so after an `up` the
directory holds readable Ansible for exactly what runs.

This module is the only one that writes that directory or runs a playbook from it; the
steps of `up` and `destroy` call `Workspace.converge` (write, then play) and `Workspace.play`.
A node that is down is left out of the runs (`Workspace.limit`, from `unreachable` and
`reachable_hosts`), so the others converge.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from podplay import paths
from podplay.artifacts import pki
from podplay.artifacts.bundle import ensure_bundle
from podplay.artifacts.images import BuiltImage
from podplay.control import nodeshell
from podplay.control.reporter import Reporter
from podplay.control.target import NotReady, Target
from podplay.errors import EnvironmentProblem
from podplay.execute import PlaybookResult, run_playbook
from podplay.files import write_tree
from podplay.plan import NodePlan, Plan
from podplay.render import ROLLOUT, ImageFile, RenderOptions, links, render, step_playbooks

NODE_BUNDLE_ENV = "PODPLAY_NODE_BUNDLE"
PLAYS_ENV = "PODPLAY_PLAYS_FILE"  # the stats_json callback lists the plays there as they start


def render_options(
    program: str, target: Target, pause: BuiltImage, archives: dict[str, str]
) -> RenderOptions:
    """Controller-side paths the roles need: collection, node bundle, token, certificates,
    image archives.

    `$PODPLAY_NODE_BUNDLE` names a bundle to ship instead of the one built from this code
    (tests pin one per session while the code around them changes)."""
    return RenderOptions(
        collections_path=str(paths.collections_path()),
        program=program,
        node_bundle=os.environ.get(NODE_BUNDLE_ENV) or str(ensure_bundle()),
        agent_token_file=target.token_file,
        pki_dir=target.pki_dir,
        pause_image=ImageFile(**pause.as_var()),
        image_archives=archives,
    )


def ensure_certificates(target: Target, desired: Plan) -> None:
    """The cluster CA and certificates the `control_plane` role installs (made once, node
    certificates re-issued when a node's address changed)."""
    nodes = [(n.name, n.address) for n in desired.nodes]
    pki.ensure_pki(Path(target.pki_dir), desired.cluster.name, nodes)


def unreachable(
    not_ready: Iterable[NotReady],
    nodes: Sequence[NodePlan],
    reporter: Reporter,
    *,
    ask_all: bool = False,
) -> dict[str, NotReady]:
    """The nodes Ansible cannot reach, each said in one line: NotReady ones known to be
    unreachable (a stopped container), and those asked over SSH that do not answer now (the
    other NotReady ones; every node when `ask_all`)."""
    down = {n.node: n for n in not_ready}
    known = {name for name, n in down.items() if n.unreachable}
    ask = [n for n in nodes if n.name not in known and (ask_all or n.name in down)]
    answers = nodeshell.run_on(ask, "true", timeout=8)
    skipped = {name: down[name] for name in known}
    for a in answers:
        if not a.ok:
            why = down[a.node].why if a.node in down else "it does not answer over SSH"
            said = (a.stderr.strip().splitlines() or ["ssh failed"])[-1]
            skipped[a.node] = NotReady(a.node, f"{why}; {said}", True)
    for n in nodes:
        if n.name in skipped:
            reporter.info(f"{skipped[n.name]}: left out of ansible-playbook and of every wait")
    return skipped


def reachable_hosts(nodes: Sequence[NodePlan], skipped: dict[str, NotReady]) -> list[str] | None:
    """The hosts to run playbooks on (`--limit`), None for all of them."""
    if not skipped:
        return None
    hosts = [n.name for n in nodes if n.name not in skipped]
    if not hosts:
        reasons = "; ".join(str(skipped[n.name]) for n in nodes if n.name in skipped)
        raise EnvironmentProblem(f"no node can be reached: {reasons}")
    return hosts


class Workspace:
    """Renders plans into one build directory and runs playbooks from it."""

    def __init__(self, directory: Path, options: RenderOptions) -> None:
        self.directory = directory
        self.options = options
        self.nodes = 0  # of the plan last written: every node gets a fork
        # the hosts playbooks run on (ansible-playbook --limit); None: every node. A node
        # that is down is left out, so the others converge (issue 10, item 8)
        self.limit: list[str] | None = None
        self.reporter = Reporter()  # told of every playbook run (`Reporter.playbook`)

    @classmethod
    def for_target(
        cls,
        directory: Path,
        program: str,
        target: Target,
        pause: BuiltImage,
        archives: dict[str, str],
    ) -> Workspace:
        """The build directory of a program applied to `target`, with images side-loaded
        from `archives` (image name → `docker save` file) and `pause` as the pod sandbox."""
        return cls(directory, render_options(program, target, pause, archives))

    @property
    def inventory(self) -> Path:
        return self.directory / "inventory.yml"

    def write(self, plan: Plan, rollout: str | None = None) -> None:
        """Render `plan` (and the step playbooks) into the directory, atomically per file;
        with `rollout`, the rollout playbook beside them (else an old one is removed: it
        would walk a finished rollout's stages again)."""
        self.nodes = len(plan.nodes)
        files = {**render(plan, self.options), **step_playbooks(plan)}
        if rollout is not None:
            files[ROLLOUT] = rollout
        write_tree(self.directory, files, links(self.options))
        if rollout is None:
            (self.directory / ROLLOUT).unlink(missing_ok=True)

    def run(
        self,
        playbook: str,
        *,
        verbose: bool = False,
        output: Callable[[str], None] | None = None,
        env: dict[str, str] | None = None,
        tags: Sequence[str] = (),
        hosts: Sequence[str] | None = None,
    ) -> PlaybookResult:
        """ansible-playbook on one of the directory's playbooks (output kept unless verbose):
        only the tasks tagged `tags` (all when empty), on `hosts` (default: `limit`)."""
        limit = hosts if hosts is not None else self.limit
        return run_playbook(
            self.directory / playbook,
            self.inventory,
            limit=",".join(limit) if limit is not None else None,
            forks=max(20, self.nodes),
            quiet=not verbose and output is None,
            output=output,
            env=env,
            tags=tags,
        )

    def play(
        self,
        playbook: str,
        output: Callable[[str], None] | None = None,
        *,
        tags: Sequence[str] = (),
        hosts: Sequence[str] | None = None,
    ) -> PlaybookResult:
        """Run `playbook`; EnvironmentProblem naming it, the host and the task unless it
        succeeded everywhere (`output`: a callback for each line, else the output is kept)."""
        result = self.run(playbook, output=output, tags=tags, hosts=hosts)
        self.reporter.playbook(playbook, result)
        return result.raise_for_failure(f"ansible-playbook {self.directory / playbook}")

    def converge(
        self,
        plan: Plan,
        playbook: str,
        output: Callable[[str], None] | None = None,
        *,
        tags: Sequence[str] = (),
        hosts: Sequence[str] | None = None,
    ) -> PlaybookResult:
        """The nodes to `plan`: render it here, then `play` the playbook (its `tags` parts
        on `hosts`, see `run`)."""
        self.write(plan)
        return self.play(playbook, output=output, tags=tags, hosts=hosts)

    def hosts(self, plan: Plan) -> list[str]:
        """The hosts playbooks run on: `limit`, else every node of `plan`."""
        return list(self.limit) if self.limit is not None else [n.name for n in plan.nodes]

    @property
    def plays_file(self) -> Path:
        """Where a rollout run lists its plays as they start (how far it got)."""
        return self.directory / ".rollout-plays"

    def converge_rollout(
        self, first: Plan, rollout: str, output: Callable[[str], None] | None = None
    ) -> PlaybookResult:
        """A rollout in one run: the directory's variables are its `first` stage's, beside
        them the rollout playbook; its result, failed or not. `plays_file` names the plays
        that started, even when the run is interrupted."""
        self.write(first, rollout)
        self.plays_file.unlink(missing_ok=True)
        result = self.run(ROLLOUT, output=output, env={PLAYS_ENV: str(self.plays_file)})
        self.reporter.playbook(ROLLOUT, result)
        return result

    def plays_started(self) -> list[str]:
        """The plays the last rollout run started, in order."""
        try:
            return self.plays_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
