"""Run ansible-playbook and return what happened per host, machine-readably.

ansible-playbook runs as a subprocess with an environment podplay controls (our collection
on the path, SSH pipelining and ControlPersist, no fact gathering unless a play asks, enough
forks for every node). The human output streams as usual (or is kept when `quiet`); the
`podplay.cluster.stats_json` callback writes the per-host recap and the tasks that changed or
failed to a JSON file, which becomes a `PlaybookResult`. Callers assert on that result, never
on log text.

    result = run_playbook("site.yml", inventory, {"podplay_node_bundle": str(bundle)})
    result.raise_for_failure("configuring the nodes")   # EnvironmentProblem naming host+task
    assert result.changed == 0
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podplay import paths
from podplay.errors import EnvironmentProblem
from podplay.execute import children

STATS_ENV = "PODPLAY_STATS_FILE"
CALLBACK = "podplay.cluster.stats_json"
MITOGEN_ENV = "PODPLAY_MITOGEN"


@dataclass(frozen=True)
class HostStats:
    """One host's line of the play recap."""

    ok: int = 0
    changed: int = 0
    failures: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass(frozen=True)
class TaskEvent:
    """A task that changed something, failed, or could not reach its host."""

    status: str  # "changed" | "failed" | "unreachable" | "ignored"
    host: str
    task: str
    action: str = ""
    play: str | None = None
    msg: str | None = None


@dataclass(frozen=True)
class TaskRun:
    """One task result of a run, whatever its outcome: which roles and tasks ran."""

    status: str  # "ok" | "changed" | "skipped" | "failed" | "unreachable"
    host: str
    task: str
    role: str | None = None
    play: str | None = None
    action: str = ""

    @property
    def worked(self) -> bool:
        """It ran and did a role's work: not skipped, and not the argument check Ansible
        puts first in every role with `meta/argument_specs.yml` (tagged `always`, so it runs
        under any `--tags`; it checks variables on the controller and touches no host)."""
        return self.status != "skipped" and self.action not in SPEC_CHECKS


SPEC_CHECKS = frozenset({"validate_argument_spec", "ansible.builtin.validate_argument_spec"})


@dataclass(frozen=True)
class PlaybookResult:
    """What one ansible-playbook run did, per host."""

    rc: int
    hosts: dict[str, HostStats] = field(default_factory=dict)
    events: tuple[TaskEvent, ...] = ()
    duration: float = 0.0
    output_tail: str = ""
    tasks: tuple[TaskRun, ...] = ()

    @property
    def roles_ran(self) -> list[str]:
        """The roles with a task that did work (`TaskRun.worked`) on some host, in run order."""
        ran = (t.role for t in self.tasks if t.role and t.worked)
        return list(dict.fromkeys(ran))

    def tasks_ran(self, host: str | None = None) -> list[str]:
        """`role: task` of each task that did work (`TaskRun.worked`), on `host` or any, in
        run order."""
        ran = (
            f"{t.role or '-'}: {t.task}"
            for t in self.tasks
            if t.worked and (host is None or t.host == host)
        )
        return list(dict.fromkeys(ran))

    @property
    def ok(self) -> bool:
        """True when ansible-playbook succeeded and no host failed or was unreachable."""
        bad = any(s.failures or s.unreachable for s in self.hosts.values())
        return self.rc == 0 and not bad and bool(self.hosts)

    @property
    def changed(self) -> int:
        """Number of task results that reported a change, over all hosts."""
        return sum(s.changed for s in self.hosts.values())

    @property
    def changed_tasks(self) -> list[TaskEvent]:
        """The (host, task) pairs that reported changed, in run order."""
        return [e for e in self.events if e.status == "changed"]

    @property
    def failures(self) -> list[TaskEvent]:
        """The (host, task) pairs that failed or were unreachable."""
        return [e for e in self.events if e.status in ("failed", "unreachable")]

    def raise_for_failure(self, what: str) -> PlaybookResult:
        """Raise EnvironmentProblem with one readable sentence unless the run was ok."""
        if self.ok:
            return self
        if self.failures:
            first = self.failures[0]
            more = len(self.failures) - 1
            # the other hosts' own words too (a few): one node's may be the cause, the
            # others' its consequence (a rollout's new pod fails on one node, the rest wait
            # for it to be routed), and which host Ansible reports first is chance
            others = "; ".join(
                f"{e.host}: {(e.msg or 'no message').strip()}"
                for e in self.failures[1 : MORE_FAILURES_TOLD + 1]
            )
            extra = f" (and {more} more failure{'s' if more > 1 else ''}: {others})" if more else ""
            verb = "could not reach" if first.status == "unreachable" else "failed on"
            raise EnvironmentProblem(
                f"{what}: task '{first.task}' {verb} {first.host}: "
                f"{(first.msg or 'no message').strip()}{extra}"
            )
        tail = "\n".join(self.output_tail.strip().splitlines()[-10:])
        raise EnvironmentProblem(f"{what}: ansible-playbook exited with status {self.rc}\n{tail}")


MORE_FAILURES_TOLD = 3  # other hosts' failures quoted after the first one
COLLECTION_PREFIX = "podplay.cluster."  # a collection playbook's name: podplay.cluster.nodes


def playbooks_dir() -> Path:
    """The repository's playbooks/ directory (site.yml and the plays it imports)."""
    root = paths.repo_root()
    if root is None:
        raise EnvironmentProblem(
            "podplay's playbooks/ directory exists only in a source checkout; name a play of "
            "the collection instead (podplay.cluster.site, podplay.cluster.nodes, ...)"
        )
    return root / "playbooks"


def resolve_playbook(playbook: str | Path) -> Path:
    """The playbook file: a path; a play of the collection by name (`podplay.cluster.nodes`,
    found wherever the collection is: checkout or wheel); else a name in playbooks_dir()."""
    name = str(playbook)
    if name.startswith(COLLECTION_PREFIX) and "/" not in name:
        path = paths.collection_dir() / "playbooks" / f"{name.removeprefix(COLLECTION_PREFIX)}.yml"
        if not path.is_file():
            raise EnvironmentProblem(f"the collection has no playbook {name} ({path} is missing)")
        return path
    path = Path(playbook)
    if not path.is_absolute() and not path.exists():
        return playbooks_dir() / path
    return path


def ansible_playbook_bin() -> str:
    """ansible-playbook from the same environment as this Python, else from PATH."""
    candidate = Path(sys.executable).parent / "ansible-playbook"
    return str(candidate) if candidate.exists() else "ansible-playbook"


def mitogen_strategy_dir() -> Path | None:
    """The strategy plugins of Mitogen for Ansible, when it is installed."""
    try:
        import ansible_mitogen  # type: ignore[import-not-found]
    except ImportError:
        return None
    return Path(ansible_mitogen.__file__).resolve().parent / "plugins" / "strategy"


def ansible_env(
    *, forks: int = 20, stats_file: Path | None = None, color: bool = False, mitogen: bool = False
) -> dict[str, str]:
    """Environment variables for a fast, predictable ansible-playbook run."""
    env = {
        "ANSIBLE_COLLECTIONS_PATH": str(paths.collections_path()),
        "ANSIBLE_CALLBACKS_ENABLED": CALLBACK,
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": (
            "-o ControlMaster=auto -o ControlPersist=120s -o PreferredAuthentications=publickey"
        ),
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_SYSTEM_WARNINGS": "False",
        "ANSIBLE_NOCOLOR": "False" if color else "True",
        "ANSIBLE_FORCE_COLOR": "True" if color else "False",
        "ANSIBLE_PYTHONUNBUFFERED": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if stats_file is not None:
        env[STATS_ENV] = str(stats_file)
    strategies = mitogen_strategy_dir() if mitogen else None
    if strategies is not None:
        env["ANSIBLE_STRATEGY_PLUGINS"] = str(strategies)
        env["ANSIBLE_STRATEGY"] = "mitogen_linear"
    return env


def parse_stats(doc: Mapping[str, Any], rc: int, output_tail: str = "") -> PlaybookResult:
    """Turn the callback's JSON document into a PlaybookResult."""
    hosts = {name: HostStats(**counts) for name, counts in doc.get("hosts", {}).items()}
    events = tuple(
        TaskEvent(
            status=e["status"],
            host=e["host"],
            task=e["task"],
            action=e.get("action") or "",
            play=e.get("play"),
            msg=e.get("msg"),
        )
        for e in doc.get("events", [])
    )
    tasks = tuple(
        TaskRun(
            status=t["status"], host=t["host"], task=t["task"], role=t.get("role"),
            play=t.get("play"), action=t.get("action") or "",
        )
        for t in doc.get("tasks", [])
    )  # fmt: skip
    return PlaybookResult(
        rc=rc,
        hosts=hosts,
        events=events,
        duration=float(doc.get("duration", 0.0)),
        output_tail=output_tail,
        tasks=tasks,
    )


def run_playbook(
    playbook: str | Path,
    inventory: str | Path,
    extra_vars: Mapping[str, Any] | None = None,
    *,
    limit: str | None = None,
    check: bool = False,
    diff: bool = False,
    forks: int = 20,
    quiet: bool = False,
    output: Callable[[str], None] | None = None,
    tags: Sequence[str] = (),
    verbosity: int = 0,
    env: Mapping[str, str] | None = None,
    mitogen: bool | None = None,
) -> PlaybookResult:
    """Run one playbook and return its per-host result (never raises for a failed play).

    `playbook` is a path, a play of the collection (`podplay.cluster.nodes`) or a name
    inside the repository's playbooks/ directory (a checkout's); `inventory`
    a path or an ansible host list ("localhost,"). Output streams to stdout (or to `output`,
    a line callback) unless `quiet`; its last lines are kept in `output_tail` either way.
    Mitogen (strategy mitogen_linear: 2-3x faster here, see bench/bench_cluster.py) is used
    when it is installed, unless `mitogen=False` or env PODPLAY_MITOGEN=0.
    """
    path = resolve_playbook(playbook)
    if mitogen is None:
        mitogen = os.environ.get(MITOGEN_ENV, "1") != "0"
    options = {"limit": limit, "check": check, "diff": diff, "tags": tags, "verbosity": verbosity}
    with tempfile.TemporaryDirectory(prefix="podplay-ansible-") as tmp:
        stats_file = Path(tmp) / "stats.json"
        cmd = _command(path, inventory, _vars_file(Path(tmp), extra_vars), **options)
        color = not quiet and output is None and sys.stdout.isatty()
        full_env = {
            **os.environ,
            **ansible_env(forks=forks, stats_file=stats_file, color=color, mitogen=mitogen),
            **(env or {}),
        }
        started = time.monotonic()
        rc, tail = _stream(cmd, full_env, quiet, output)
        elapsed = time.monotonic() - started
        doc: dict[str, Any] = {}
        if stats_file.exists():
            doc = json.loads(stats_file.read_text())
        result = parse_stats(doc, rc, tail)
        return dataclasses.replace(result, duration=round(elapsed, 3))


def _vars_file(tmp: Path, extra_vars: Mapping[str, Any] | None) -> Path | None:
    """Extra variables as a JSON file (`-e @file`: any size, no shell quoting)."""
    if not extra_vars:
        return None
    path = tmp / "extra-vars.json"
    path.write_text(json.dumps(extra_vars))
    return path


def _command(
    path: Path,
    inventory: str | Path,
    vars_file: Path | None,
    *,
    limit: str | None,
    check: bool,
    diff: bool,
    tags: Sequence[str],
    verbosity: int,
) -> list[str]:
    """The ansible-playbook command line."""
    cmd = [ansible_playbook_bin(), "-i", str(inventory), str(path)]
    if vars_file is not None:
        cmd += ["-e", f"@{vars_file}"]
    if limit:
        cmd += ["--limit", limit]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if tags:
        cmd += ["--tags", ",".join(tags)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    return cmd


def _stream(
    cmd: list[str], env: Mapping[str, str], quiet: bool, output: Callable[[str], None] | None
) -> tuple[int, str]:
    """Run `cmd`, passing its output on (to stdout, to `output`, or nowhere when `quiet`);
    (exit status, its last 200 lines)."""
    tail: collections.deque[str] = collections.deque(maxlen=200)
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            text=True,
            bufsize=1,
            pass_fds=children.inherited_fds(),
            preexec_fn=children.die_with_parent(),
        )
    except FileNotFoundError:
        raise EnvironmentProblem(
            "ansible-playbook was not found; install podplay with its dependencies (`make setup`)"
        ) from None
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            tail.append(line)
            if quiet:
                continue
            if output is not None:
                output(line.rstrip("\n"))
            else:
                sys.stdout.write(line)
                sys.stdout.flush()
        rc = proc.wait()
    except BaseException:  # Ctrl-C or an error in `output`: never leave ansible running
        _stop(proc)
        raise
    return rc, "".join(tail)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Interrupt ansible-playbook as Ctrl-C would, then kill it if it does not end."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
