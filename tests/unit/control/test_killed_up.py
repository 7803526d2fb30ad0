"""A podplay killed with SIGKILL leaves no ansible-playbook running, and the stack lock stays
held while any of them still runs (issue 12, item 4). Real processes, a real ansible-playbook
on localhost; Linux only (/proc, prctl)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podplay.control import state as state_module
from podplay.control.state import StackState
from podplay.errors import EnvironmentProblem
from podplay.execute.ansible import mitogen_strategy_dir

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux (/proc)")

PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: a long converge
      ansible.builtin.command: {task}
"""

# The podplay stand-in: holds the stack lock and runs the play, as `podplay up` does.
PARENT = """\
import sys
from podplay.control.state import StackState
from podplay.execute import children, run_playbook
if sys.argv[3] == "no-pdeathsig":
    children.die_with_parent = lambda: None  # as on a platform without prctl
with StackState(__import__("pathlib").Path(sys.argv[1])).lock("podplay up test"):
    run_playbook(sys.argv[2] + "/play.yml", sys.argv[2] + "/hosts", quiet=True,
                 mitogen=sys.argv[4] == "mitogen")
"""


def processes_naming(token: str) -> list[int]:
    """PIDs of live processes whose command line contains `token` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if token in cmdline and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(int(entry.name))
    return found


def orphaned(pids: list[int]) -> list[int]:
    """Those of `pids` re-parented to init: the ansible-playbook itself, not its workers."""

    def parent(pid: int) -> str:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]

    return [p for p in pids if parent(p) == "1"]


def wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def task() -> Iterator[str]:
    """The play's one task: a sleep no other test runs; whatever is left of it is killed."""
    command = f"sleep 120.{random.randrange(10**6):06d}"
    yield command
    for pid in processes_naming(command):  # mitogen's local context leaves it (not a node's)
        os.kill(pid, signal.SIGKILL)


def start_killed_up(tmp_path: Path, task: str, mode: str, mitogen: bool) -> tuple[Path, str]:
    """Run the stand-in until its ansible-playbook runs the play, then SIGKILL it."""
    (tmp_path / "play.yml").write_text(PLAY.format(task=task))
    (tmp_path / "hosts").write_text(
        f"[all:vars]\nansible_python_interpreter={sys.executable}\n"
        "[all]\na ansible_connection=local\n"
    )
    (tmp_path / "parent.py").write_text(textwrap.dedent(PARENT))
    stack = tmp_path / "stack"
    parent = subprocess.Popen(
        [sys.executable, str(tmp_path / "parent.py"), str(stack), str(tmp_path), mode,
         "mitogen" if mitogen else "plain"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    token = str(tmp_path / "play.yml")
    assert wait_for(lambda: processes_naming(task) and processes_naming(token), 60)
    time.sleep(3)  # ansible-playbook is quiet now: nothing it writes breaks on the lost pipe
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    return stack, token


@pytest.mark.parametrize("mitogen", [False, True], ids=["plain", "mitogen"])
def test_sigkill_of_podplay_stops_its_ansible_playbook_and_frees_the_lock(
    tmp_path: Path, task: str, mitogen: bool
) -> None:
    if mitogen and mitogen_strategy_dir() is None:
        pytest.skip("mitogen is not installed")
    stack, token = start_killed_up(tmp_path, task, "pdeathsig", mitogen)
    assert wait_for(lambda: not processes_naming(token), 5), "ansible-playbook outlived podplay"
    if not mitogen:  # a worker's session (the task with it) ends with it
        assert wait_for(lambda: not processes_naming(task), 5), "its task outlived it"
    with StackState(stack).lock("podplay up again"):  # the next `up` takes the lock at once
        pass


def test_a_leftover_ansible_playbook_keeps_the_stack_locked(
    tmp_path: Path, task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, token = start_killed_up(tmp_path, task, "no-pdeathsig", False)
    leftovers = orphaned(processes_naming(token))
    assert leftovers, "without prctl the child lives on (the guard under test is the lock)"
    monkeypatch.setattr(state_module, "LEFTOVER_WAIT", 0.5)
    try:
        with pytest.raises(EnvironmentProblem, match="gone; the ansible-playbook it started"):  # noqa: SIM117
            with StackState(stack).lock("podplay up again"):
                pass
    finally:
        for pid in leftovers:
            os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not processes_naming(token), 10)
    assert wait_for(lambda: not processes_naming(task), 5)
    # the product's wait for a gone holder's leftovers (a worker may still be closing its
    # copy of the lock's descriptor as the last one exits)
    monkeypatch.setattr(state_module, "LEFTOVER_WAIT", 15.0)
    with StackState(stack).lock("podplay up again"):
        pass


def test_the_lock_waits_for_a_gone_holders_leftovers_to_stop(
    tmp_path: Path, task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, token = start_killed_up(tmp_path, task, "no-pdeathsig", False)
    leftovers = orphaned(processes_naming(token))
    assert leftovers
    monkeypatch.setattr(state_module, "LEFTOVER_WAIT", 20.0)
    killer = subprocess.Popen(  # the leftovers stop 1 s from now, while the lock waits
        ["sh", "-c", f"sleep 1; kill -TERM {' '.join(map(str, leftovers))}"]
    )
    started = time.monotonic()
    with StackState(stack).lock("podplay up again"):
        waited = time.monotonic() - started
    killer.wait()
    assert 0.8 < waited < 15
    assert not processes_naming(token)
    assert wait_for(lambda: not processes_naming(task), 5)
