"""A stack's state on the machine that runs podplay: what was applied, and what is being applied.

Layout of one stack's directory (`.podplay/<stack>/` beside the program, or
`$PODPLAY_HOME/stacks/<stack>/` when that variable is set):

    plan.json     the plan last applied completely (the next plan is made stable against it)
    outputs.json  the outputs printed after that apply (exports, service addresses)
    applied.json  what the last converges applied to each node, part by part of site.yml
                  (`podplay.render.parts`: node → part → digest of its inputs), so the next
                  `up` runs only the parts whose inputs changed
    journal.json  present only while an apply is in flight, or after one was interrupted:
                  the plan being applied, the plan it started from, the last phase and
                  rollout stage reached
    lock          held (flock) by the `up` or `destroy` that is running; names its holder

Every write goes to a temporary file that is renamed over the old one (`podplay.files`), so a
crash leaves either the old or the new file, never half of one. An interrupted `up` leaves its
journal behind; the next `up` plans against the journal's plan (whatever it may have started
already keeps its names and addresses) and finishes the job: when the program is unchanged it
resumes the rollout at the stage it had reached, so old pods still go one at a time; when the
program changed, it plans against what the nodes may still run
(`podplay.plan.rollout.in_flight`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podplay.errors import EnvironmentProblem
from podplay.execute import children
from podplay.files import write_json_atomic

STATE_DIR_NAME = ".podplay"
APPLIED_PARTS = "applied.json"
LEFTOVER_WAIT = 15.0  # seconds a killed holder's ansible-playbook gets to stop (SIGTERM)


def stack_dir(program: Path, stack: str) -> Path:
    """Where the state of `stack` for `program` lives."""
    home = os.environ.get("PODPLAY_HOME")
    if home:
        return Path(home) / "stacks" / stack
    return program.resolve().parent / STATE_DIR_NAME / stack


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as err:
        raise EnvironmentProblem(
            f"state file {path} is not valid JSON ({err.msg} at line {err.lineno}); "
            "restore it from a backup or remove the stack's state directory to start afresh"
        ) from None


@dataclass(frozen=True)
class Journal:
    """An apply in flight (or interrupted): the plan it is applying and how far it got."""

    plan: dict[str, Any]
    phase: str
    started: float
    command: str
    previous: dict[str, Any] | None = None
    stage: int = 0


class StackState:
    """Reads and writes one stack's state files. Hold `lock()` around anything that writes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # ---- reading
    def applied_plan(self) -> dict[str, Any] | None:
        """The plan of the last complete apply, or None for a new stack."""
        return _read_json(self.directory / "plan.json")

    def outputs(self) -> dict[str, Any] | None:
        return _read_json(self.directory / "outputs.json")

    def applied_parts(self) -> dict[str, dict[str, str]]:
        """node → part → digest of what was last applied there (empty: nothing known)."""
        data = _read_json(self.directory / APPLIED_PARTS)
        nodes = data.get("nodes") if isinstance(data, dict) else None
        return {n: dict(parts) for n, parts in (nodes or {}).items() if isinstance(parts, dict)}

    def journal(self) -> Journal | None:
        """The interrupted or running apply, if any."""
        data = _read_json(self.directory / "journal.json")
        if data is None:
            return None
        return Journal(
            plan=data["plan"],
            phase=data.get("phase", "unknown"),
            started=data.get("started", 0.0),
            command=data.get("command", ""),
            previous=data.get("previous"),
            stage=int(data.get("stage", 0)),
        )

    # ---- writing (hold the lock)
    def begin(
        self,
        plan: dict[str, Any],
        command: str,
        previous: dict[str, Any] | None = None,
        stage: int = 0,
    ) -> None:
        """Record that an apply of `plan` (from `previous`, at rollout `stage`) starts now."""
        write_json_atomic(
            self.directory / "journal.json",
            {
                "plan": plan,
                "previous": previous,
                "phase": "started",
                "stage": stage,
                "started": time.time(),
                "command": command,
            },
        )

    def advance(self, phase: str, stage: int | None = None) -> None:
        """Record the phase (and rollout stage) the running apply has reached."""
        journal = self.journal()
        if journal is None:
            raise RuntimeError("advance() without begin()")
        write_json_atomic(
            self.directory / "journal.json",
            {
                "plan": journal.plan,
                "previous": journal.previous,
                "phase": phase,
                "stage": journal.stage if stage is None else stage,
                "started": journal.started,
                "command": journal.command,
            },
        )

    def record_parts(self, nodes: dict[str, dict[str, str]]) -> None:
        """What the nodes now run, part by part (written before a converge without the parts
        it is about to change, after it with their new digests)."""
        write_json_atomic(self.directory / APPLIED_PARTS, {"nodes": nodes})

    def commit(self, plan: dict[str, Any], outputs: dict[str, Any]) -> None:
        """The apply finished: its plan becomes the applied plan and the journal goes."""
        write_json_atomic(self.directory / "plan.json", plan)
        write_json_atomic(self.directory / "outputs.json", outputs)
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "journal.json").unlink()

    def forget(self) -> None:
        """After a destroy: nothing of this stack exists any more (the lock stays, held)."""
        for name in ("plan.json", "outputs.json", "journal.json", "last-up.json", APPLIED_PARTS):
            with contextlib.suppress(FileNotFoundError):
                (self.directory / name).unlink()
        for name in ("build", "verify"):  # rendered for a cluster that is gone
            shutil.rmtree(self.directory / name, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, command: str) -> Iterator[None]:
        """Hold the stack's lock; a second holder gets a message naming the first."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        held = False
        try:
            if not _take_flock(fd, path):
                holder = _describe_holder(path)
                raise EnvironmentProblem(
                    f"stack state {self.directory} is locked by {holder}; "
                    "wait for it to finish (or stop it) and run again"
                ) from None
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "command": command,
                "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            held = True
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            with children.hold_in_children(fd):  # a killed podplay's ansible keeps it held
                yield
        finally:
            if held:  # a refused attempt leaves the holder's record for the next one to read
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
            os.close(fd)  # closing releases the flock


def _take_flock(fd: int, path: Path) -> bool:
    """Take the lock at once; when its recorded holder is a podplay of this machine that is
    gone, its ansible-playbook (which inherited the lock) is being stopped: wait for that."""
    deadline = time.monotonic() + LEFTOVER_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if not _holder_is_gone(_read_holder(path)) or time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}
    return info if isinstance(info, dict) else {}


def _holder_is_gone(info: dict[str, Any]) -> bool:
    """The recorded holder ran on this machine and its process no longer exists."""
    pid = info.get("pid")
    if info.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _describe_holder(path: Path) -> str:
    info = _read_holder(path)
    if not info:
        return "another podplay process"
    gone = " (gone; the ansible-playbook it started still runs)" if _holder_is_gone(info) else ""
    return (
        f"`{info.get('command', 'podplay')}` (pid {info.get('pid', '?')}{gone} on "
        f"{info.get('host', '?')}, since {info.get('since', '?')})"
    )


def current_command() -> str:
    """The command line of this process, for journals and lock holders."""
    return " ".join(["podplay", *sys.argv[1:]])
