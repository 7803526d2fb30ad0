"""`podplay destroy` when the program no longer evaluates: it works from the stack's state
(as `pulumi destroy` does), says so in one line, and removes what the state describes.

No Docker, no SSH: the local substrate and ansible-playbook are fakes that record what they
were asked; the rendering into the stack's build directory is real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from podplay import paths, substrate
from podplay.artifacts import engine
from podplay.artifacts.images import BuiltImage
from podplay.cli.main import main
from podplay.control import destroy, nodeshell, ownership, workspace
from podplay.control.nodeshell import Answer
from podplay.control.prepare import Timer, evaluate_program, prepare
from podplay.control.state import StackState, stack_dir
from podplay.control.workspace import Workspace
from podplay.errors import EnvironmentProblem
from podplay.execute import HostStats, PlaybookResult
from podplay.render import RenderOptions

HOSTS = """\
import podplay as pp

pp.Cluster("edge", nodes=[pp.Node("a", address="10.1.0.1"), pp.Node("b", address="10.1.0.2")])
web = pp.Deployment("web", replicas={replicas}, containers=[
    pp.Container("web", image="busybox", ports=[8080])])
pp.Service("web", selector=web, ports=[pp.ServicePort(80, target_port=8080)])
"""

LOCAL = """\
import podplay as pp

pp.Cluster({name!r}, nodes=2)
pp.Deployment("web", replicas=2, containers=[pp.Container("web", image="busybox")])
"""

SYNTAX_ERROR = "pp.Deployment('web', replicas=2\n"  # a call never closed


class World:
    """What destroy did: playbooks run (with the inventory they ran on), clusters deleted."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, dict[str, Any]]] = []
        self.deleted: list[str] = []
        self.clusters: set[str] = set()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> World:
    w = World()

    def refuse() -> None:
        raise EnvironmentProblem("no Docker in unit tests")

    def run(self: Workspace, book: str, **_: Any) -> PlaybookResult:
        inventory = yaml.safe_load(self.inventory.read_text())
        w.runs.append((book, inventory))
        hosts = inventory["all"]["children"]["nodes"]["hosts"]
        return PlaybookResult(rc=0, hosts={h: HostStats(ok=1) for h in hosts})

    def delete(name: str) -> bool:
        w.deleted.append(name)
        return name in w.clusters

    monkeypatch.setattr(engine, "client", refuse)
    monkeypatch.delenv("PODPLAY_HOME", raising=False)
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")
    monkeypatch.setattr(substrate, "get_cluster", lambda name: None)
    monkeypatch.setattr(substrate, "delete_cluster", delete)
    monkeypatch.setattr(Workspace, "run", run)
    monkeypatch.setattr(destroy, "probe_cluster", lambda *a, **k: None)
    monkeypatch.setattr(destroy, "wait_no_pods", lambda *a, **k: None)
    monkeypatch.setattr(  # every node answers over SSH
        nodeshell, "run_on", lambda nodes, cmd, timeout=10: [Answer(n.name, 0, "") for n in nodes]
    )
    pause = BuiltImage("podplay/pause:1", "sha256:p", "/cache/p.tar")
    monkeypatch.setattr(destroy, "ensure_pause_image", lambda: pause)
    monkeypatch.setattr(
        workspace, "render_options", lambda *a, **k: RenderOptions(collections_path="/collections")
    )
    return w


def applied(program: Path, stack: str, *, journal_only: bool = False) -> StackState:
    """Pretend `up` applied the program as it is now (or was interrupted applying it)."""
    evaluated = evaluate_program(str(program), Timer())
    state = StackState(stack_dir(program, stack))
    prep = prepare(str(program), evaluated, state, build=False)
    data = prep.plan.model_dump(mode="json")
    if journal_only:
        state.begin(data, f"podplay up {program}")
    else:
        state.commit(data, {})
    ownership.claim(prep.target.name, state.directory, str(program))
    return state


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


def test_a_program_with_a_syntax_error_is_destroyed_from_its_state(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "app.py"
    program.write_text(HOSTS.format(replicas=2))
    state = applied(program, "edge")
    program.write_text(HOSTS.format(replicas=2) + SYNTAX_ERROR)

    assert main(["destroy", str(program), "-y"]) == 0
    out, err = capsys.readouterr()
    [line] = warnings(err)
    assert line.startswith(f"warning: {program} does not evaluate ({program}:7: syntax error")
    assert line.endswith(
        f"destroying what stack edge's state describes ({state.directory}/plan.json)"
    )
    # the hosts the state names were emptied, then the agent and proxy stopped
    assert [book for book, _ in world.runs] == ["stage.yml", "teardown.yml"]
    hosts = world.runs[0][1]["all"]["children"]["nodes"]["hosts"]
    assert {h: v["ansible_host"] for h, v in hosts.items()} == {"a": "10.1.0.1", "b": "10.1.0.2"}
    assert "removed from cluster edge (nodes kept); stack edge forgotten" in out
    assert state.applied_plan() is None and not (state.directory / "build").exists()
    assert ownership.owner("edge") is None  # the cluster is free for another stack


@pytest.mark.parametrize("journal_only", [False, True], ids=["applied", "interrupted"])
def test_a_deleted_program_s_local_cluster_is_deleted_from_its_state(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], journal_only: bool
) -> None:
    program = tmp_path / "app.py"
    program.write_text(LOCAL.format(name="shop"))
    state = applied(program, "shop", journal_only=journal_only)
    world.clusters.add("shop")
    program.unlink()

    assert main(["destroy", str(program), "-y"]) == 0
    out, err = capsys.readouterr()
    source = "journal.json" if journal_only else "plan.json"
    [line] = warnings(err)
    assert f"{program} does not evaluate (cannot read program {program}: No such file" in line
    assert line.endswith(f"({state.directory / source})")
    assert world.deleted == ["shop"] and world.runs == []
    assert "Destroyed: local cluster shop deleted, stack shop forgotten." in out
    assert state.journal() is None and state.applied_plan() is None


def test_a_program_that_no_longer_plans_is_destroyed_from_its_state(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "app.py"
    program.write_text(HOSTS.format(replicas=2))
    applied(program, "edge")
    program.write_text(HOSTS.format(replicas=500))  # more pods than two hosts hold

    assert main(["destroy", str(program), "-y"]) == 0
    [line] = warnings(capsys.readouterr().err)
    assert f'{program} cannot be planned ({program}:4: Deployment "web": replica' in line
    assert [book for book, _ in world.runs] == ["stage.yml", "teardown.yml"]


def test_several_stacks_need_stack_and_it_picks_one(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "app.py"
    program.write_text(LOCAL.format(name="one"))
    one = applied(program, "one")
    program.write_text(LOCAL.format(name="two"))
    two = applied(program, "two")
    world.clusters |= {"one", "two"}
    bad = 'import podplay as pp\npp.Cluster("one", nodes=2, pod_cidr="10.0.0.0/33")\n'
    program.write_text(bad)

    assert main(["destroy", str(program), "-y"]) == 2
    err = capsys.readouterr().err
    assert f"{program} does not evaluate ({program}:2:" in err
    assert f"{tmp_path / '.podplay'} holds several stacks (one, two)" in err
    assert "name the one to destroy with --stack" in err and "Traceback" not in err
    assert world.deleted == [] and one.applied_plan() and two.applied_plan()

    assert main(["destroy", str(program), "-y", "--stack", "two"]) == 0
    assert world.deleted == ["two"]
    assert one.applied_plan() is not None and two.applied_plan() is None


def test_without_state_the_program_error_stands(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "app.py"
    assert main(["destroy", str(program), "-y"]) == 2
    assert (
        capsys.readouterr().err
        == f"error: cannot read program {program}: No such file or directory\n"
    )
    program.write_text(LOCAL.format(name="shop") + SYNTAX_ERROR)
    assert main(["destroy", str(program), "-y", "--stack", "shop"]) == 2
    assert "syntax error" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [program] and world.deleted == []


def test_a_stack_another_program_applied_is_not_taken_for_this_one(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Programs side by side share `.podplay/`: a broken program must not destroy the stack
    the cluster records as its neighbour's."""
    other = tmp_path / "other.py"
    other.write_text(LOCAL.format(name="shop"))
    state = applied(other, "shop")
    program = tmp_path / "app.py"
    program.write_text(SYNTAX_ERROR)
    assert main(["destroy", str(program), "-y"]) == 2
    assert "syntax error" in capsys.readouterr().err
    assert world.deleted == [] and state.applied_plan() is not None


def test_a_program_that_evaluates_is_destroyed_as_it_says_without_a_warning(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "app.py"
    program.write_text(HOSTS.format(replicas=2))
    state = applied(program, "edge")
    assert main(["destroy", str(program), "-y"]) == 0
    assert warnings(capsys.readouterr().err) == []
    assert [book for book, _ in world.runs] == ["stage.yml", "teardown.yml"]
    assert state.applied_plan() is None
