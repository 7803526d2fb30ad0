"""The stack state store: atomic files, the journal that survives an interrupted apply, the lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podplay.control.state import StackState, stack_dir
from podplay.errors import EnvironmentProblem
from podplay.files import atomic_output, write_atomic, write_json_atomic

PLAN_A = {"pods": ["web-1"]}
PLAN_B = {"pods": ["web-1", "web-2"]}


def test_new_stack_has_no_plan(tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    assert state.applied_plan() is None
    assert state.journal() is None


def test_commit_makes_plan_applied_and_drops_journal(tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    with state.lock("podplay up"):
        state.begin(PLAN_A, "podplay up")
        assert state.journal().plan == PLAN_A
        state.advance("converge")
        assert state.journal().phase == "converge"
        state.commit(PLAN_A, {"web_port": 30080})
    assert state.applied_plan() == PLAN_A
    assert state.outputs() == {"web_port": 30080}
    assert state.journal() is None


def test_interrupted_apply_leaves_its_plan_beside_the_applied_one(tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    state.commit(PLAN_A, {})
    state.begin(PLAN_B, "podplay up", previous=PLAN_A)  # ... and then Ctrl-C
    again = StackState(tmp_path / "s")
    assert again.applied_plan() == PLAN_A
    assert again.journal().plan == PLAN_B  # `up` plans against it (control.up.prepare)
    assert again.journal().previous == PLAN_A
    assert again.journal().command == "podplay up"


def test_second_holder_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    other = StackState(tmp_path / "s")
    with state.lock("podplay up app.py"), pytest.raises(EnvironmentProblem) as err:  # noqa: SIM117
        with other.lock("x"):
            pass
    assert "podplay up app.py" in str(err.value)
    assert "pid" in str(err.value)
    with StackState(tmp_path / "s").lock("podplay up"):  # released after the first holder
        pass


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "d" / "x.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]
    assert target.stat().st_mode & 0o777 == 0o600  # a plan holds the program's env values


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "archive.tar"
    write_atomic(target, b"old")
    with pytest.raises(RuntimeError), atomic_output(target) as out:
        out.write(b"half of the new")
        raise RuntimeError("docker save broke")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["archive.tar"]


def test_write_atomic_writes_text_as_utf8_with_the_mode_asked(tmp_path: Path) -> None:
    target = tmp_path / "bundle.pyz"
    write_atomic(target, "é", mode=0o755)
    assert target.read_bytes() == "é".encode()
    assert target.stat().st_mode & 0o100  # executable by its owner, through the umask


def test_corrupt_state_is_reported_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "plan.json").write_text("{not json")
    with pytest.raises(EnvironmentProblem, match="not valid JSON"):
        StackState(tmp_path / "s").applied_plan()


def test_stack_dir_is_beside_the_program_unless_home_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PODPLAY_HOME", raising=False)
    program = tmp_path / "app.py"
    assert stack_dir(program, "dev") == tmp_path / ".podplay" / "dev"
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    assert stack_dir(program, "dev") == tmp_path / "home" / "stacks" / "dev"


def test_applied_parts_are_recorded_read_back_and_forgotten_with_the_stack(tmp_path) -> None:
    state = StackState(tmp_path / "s")
    assert state.applied_parts() == {}
    state.directory.mkdir(parents=True)
    state.record_parts({"node1": {"pods": "d1", "network": "d2"}})
    assert state.applied_parts() == {"node1": {"pods": "d1", "network": "d2"}}
    state.forget()
    assert state.applied_parts() == {}


def test_a_refused_lock_leaves_the_holders_record(tmp_path: Path) -> None:
    """The next attempt reads who holds the lock (and whether that podplay is gone)."""
    state = StackState(tmp_path / "stack")
    with state.lock("podplay up first"):
        with pytest.raises(EnvironmentProblem, match="locked by"):  # noqa: SIM117
            with state.lock("podplay up second"):
                pass
        assert "podplay up first" in (tmp_path / "stack" / "lock").read_text()
