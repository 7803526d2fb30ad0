"""`podplay preview` / `up` / `verify` on programs whose cluster is a list of hosts: no Docker,
no SSH. What matters here: the exit status, the JSON, and that nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podplay import paths
from podplay.artifacts import engine
from podplay.cli.main import main
from podplay.control import ownership
from podplay.control.prepare import Timer, evaluate_program, prepare
from podplay.control.state import StackState, stack_dir
from podplay.errors import EnvironmentProblem

PROGRAM = """\
import podplay as pp

pp.Cluster("edge", nodes=[pp.Node("a", address="10.1.0.1"), pp.Node("b", address="10.1.0.2")])
web = pp.Deployment("web", replicas={replicas}, containers=[
    pp.Container("web", image="busybox", ports=[8080])])
pp.Service("web", selector=web, ports=[pp.ServicePort(80, target_port=8080)])
"""


@pytest.fixture(autouse=True)
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse() -> None:
        raise EnvironmentProblem("no Docker in unit tests")

    monkeypatch.setattr(engine, "client", refuse)
    monkeypatch.delenv("PODPLAY_HOME", raising=False)
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")  # cluster records


def _program(tmp_path: Path, replicas: int = 2) -> Path:
    path = tmp_path / "app.py"
    path.write_text(PROGRAM.format(replicas=replicas))
    return path


def _commit_current(path: Path) -> None:
    """Pretend an up applied the program as it is now."""
    stack = evaluate_program(str(path), Timer())
    state = StackState(stack_dir(path, "edge"))
    prep = prepare(str(path), stack, state, build=False)
    state.commit(prep.plan.model_dump(mode="json"), {})


def test_preview_json_lists_changes_and_touches_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _program(tmp_path)
    assert main(["preview", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stack"] == "edge"
    assert doc["summary"] == "6 to create, 0 to update, 0 to delete, 0 to replace"
    ops = {(c["op"], c["kind"]) for c in doc["changes"]}
    assert ops == {("+", "Node"), ("+", "Deployment"), ("+", "Service"), ("+", "Pod")}
    assert not (tmp_path / ".podplay").exists()


def test_preview_says_a_recreate_stops_every_old_pod_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app.py"
    recreate = PROGRAM.replace('ports=[8080])])', 'ports=[8080], env={{"V": "{v}"}})],\n'
                               '    strategy=pp.Recreate())')  # fmt: skip
    path.write_text(recreate.format(replicas=2, v="1"))
    _commit_current(path)
    path.write_text(recreate.format(replicas=2, v="2"))
    assert main(["preview", str(path)]) == 0
    line = (
        "~  Deployment default/web: recreate (2 pods stop, then 2 start; service default/web "
        "has no ready endpoint meanwhile), template.containers[0].env.V"
    )
    assert f"  {line}\n" in capsys.readouterr().out
    assert main(["preview", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (deployment,) = [c for c in doc["changes"] if c["kind"] == "Deployment"]
    assert deployment["rollout"] == line.split(": ", 1)[1].split("), ")[0] + ")"
    assert deployment["fields"] == ["template.containers[0].env.V"]


def test_expect_no_changes_fails_only_when_there_are_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _program(tmp_path)
    assert main(["preview", str(path), "--expect-no-changes"]) == 1
    assert "changes pending (6 to create" in capsys.readouterr().err
    _commit_current(path)
    assert main(["preview", str(path), "--expect-no-changes"]) == 0
    assert "Resources: no changes" in capsys.readouterr().out
    path.write_text(PROGRAM.format(replicas=4))
    assert main(["preview", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(c["op"], c["kind"]) for c in doc["changes"]] == [
        ("~", "Deployment"),
        ("+", "Pod"),
        ("+", "Pod"),
    ]


def test_an_interrupted_up_is_pending_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _program(tmp_path)
    _commit_current(path)
    state = StackState(stack_dir(path, "edge"))
    applied = state.applied_plan()
    assert applied is not None
    state.begin(applied, "podplay up", previous=applied)
    assert main(["preview", str(path), "--expect-no-changes"]) == 1
    assert "interrupted up to finish" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["up", "preview", "destroy", "verify"])
def test_bad_program_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "app.py"
    path.write_text(
        'import podplay as pp\npp.Cluster("edge", nodes=2)\n'
        'pp.Service("web", type="NodePort", selector={"app": "web"},\n'
        "           ports=[pp.ServicePort(80, node_port=80)])\n"
    )
    args = [command, str(path)] + (["-y"] if command in ("up", "destroy") else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "node_port 80 is outside 30000-32767" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == [path]


def test_verify_needs_an_applied_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _program(tmp_path)
    assert main(["verify", str(path)]) == 2
    assert "nothing applied to verify: run `podplay up" in capsys.readouterr().err


def test_infeasible_program_is_refused_before_images_are_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _program(tmp_path, replicas=500)  # more pods than two nodes hold
    # building an image would need the engine, which this test refuses (exit 1)
    assert main(["up", str(path), "-y"]) == 2
    err = capsys.readouterr().err
    assert 'Deployment "web": replica' in err and "cannot be placed" in err
    assert "Traceback" not in err
    state = StackState(stack_dir(path, "edge"))
    assert state.journal() is None and state.applied_plan() is None


def test_a_cluster_another_stack_runs_is_not_taken_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every converge makes the nodes run exactly its own pods: a second program (or --stack)
    on a cluster another stack applied to would replace that app, so it is refused."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _program(tmp_path / "a")
    _commit_current(first)
    ownership.claim("edge", stack_dir(first, "edge"), str(first))
    assert main(["preview", str(first)]) == 0  # its own stack: fine
    second = _program(tmp_path / "b")
    for args in (["preview", str(second)], ["up", str(second), "-y"], ["destroy", str(second)]):
        capsys.readouterr()
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert f"cluster edge runs stack edge of {first}" in err
        assert f"podplay destroy {first} --keep-cluster" in err
    assert main(["preview", str(first), "--stack", "other"]) == 2
    StackState(stack_dir(first, "edge")).forget()  # the first app destroyed: free again
    assert main(["preview", str(second)]) == 0


def test_describe_names_either_strategy() -> None:
    from podplay.cli.describe import _strategy

    assert _strategy({"max_surge": 1, "max_unavailable": 0}) == (
        "RollingUpdate max_surge=1 max_unavailable=0"
    )
    assert _strategy({"type": "Recreate"}) == (
        "Recreate (every old pod stops before any new one starts)"
    )
