"""The automation API without Docker: preview of the example programs, typed errors with the
file, line and field, programs declared by a function, and the CLI's preview equal to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import podplay as pp
from podplay import paths, substrate
from podplay.artifacts import engine
from podplay.automation import (
    ChangeSummary,
    Event,
    InfeasiblePlan,
    NotApplied,
    PreviewResult,
    ProgramEvaluated,
    Stack,
    ValidationError,
)
from podplay.cli.main import main
from podplay.errors import EnvironmentProblem, UserInputError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

HOSTS = """\
import podplay as pp

pp.Cluster("edge", nodes=[pp.Node("a", address="10.1.0.1"), pp.Node("b", address="10.1.0.2")])
web = pp.Deployment("web", replicas=2, containers=[
    pp.Container("web", image="busybox", ports=[8080])]{extra})
pp.Service("web", selector=web, ports=[pp.ServicePort(80, target_port=8080)])
"""


@pytest.fixture(autouse=True)
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No engine, no local cluster exists, cluster records in a temporary home."""

    def refuse() -> None:
        raise EnvironmentProblem("no Docker in unit tests")

    monkeypatch.setattr(engine, "client", refuse)
    monkeypatch.setattr(substrate, "get_cluster", lambda name: None)
    monkeypatch.delenv("PODPLAY_HOME", raising=False)
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")


def _write(tmp_path: Path, text: str, name: str = "app.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_preview_of_the_hello_example(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "state"))  # nothing beside the example
    events: list[Event] = []
    result = Stack.from_program(EXAMPLES / "hello.py").preview(on_event=events.append)
    assert isinstance(result, PreviewResult)
    assert (result.stack, result.cluster) == ("hello", "hello")
    assert result.cluster_local and not result.cluster_exists
    ops = {(o.action, o.kind, o.name) for o in result.operations if o.kind != "Pod"}
    assert ops == {
        ("create", "Node", "node1"),
        ("create", "Node", "node2"),
        ("create", "Image", "hello"),
        ("create", "Deployment", "hello"),
        ("create", "Service", "hello"),
    }
    pods = [o for o in result.operations if o.kind == "Pod"]
    assert len(pods) == 2 and all(o.namespace == "default" for o in pods)
    assert result.summary == ChangeSummary(create=7, text=str(result.summary))
    assert str(result.summary) == "7 to create, 0 to update, 0 to delete, 0 to replace"
    assert result.changes_pending
    assert events == [ProgramEvaluated("hello", "hello", ())]
    assert not (tmp_path / "state").exists()


def test_cli_preview_json_is_the_api_preview(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, HOSTS.format(extra=""))
    api = Stack.from_program(path).preview()
    assert main(["preview", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (
        doc["summary"] == str(api.summary) == "6 to create, 0 to update, 0 to delete, 0 to replace"
    )
    assert [(c["op"], c["kind"], c["name"]) for c in doc["changes"]] == [
        (o.op, o.kind, o.name) for o in api.operations
    ]
    assert not (tmp_path / ".podplay").exists()


def test_validation_error_carries_file_line_and_field(tmp_path: Path) -> None:
    program = 'import podplay as pp\n\npp.Cluster("edge", nodes=2)\npp.ServicePort(port=0)\n'
    path = _write(tmp_path, program, "bad.py")
    with pytest.raises(ValidationError) as caught:
        Stack.from_program(path).preview()
    err = caught.value
    assert (err.file, err.line, err.field) == (str(path), 4, "port")
    assert err.subject == "ServicePort"
    assert err.exit_code == 2 and isinstance(err, UserInputError)
    assert str(err) == f"{path}:4: ServicePort: port 0 is outside 1-65535"
    assert not (tmp_path / ".podplay").exists()


def test_every_problem_of_a_program_is_listed_with_its_field(tmp_path: Path) -> None:
    program = HOSTS.format(extra=', replicas_max=1, revision_history="x"')
    with pytest.raises(ValidationError) as caught:
        Stack.from_program(_write(tmp_path, program)).up()
    fields = [(p.line, p.subject, p.field) for p in caught.value.diagnostics]
    assert fields == [
        (4, 'Deployment "web"', "replicas_max"),
        (4, 'Deployment "web"', "revision_history"),
    ]


def test_a_cross_resource_problem_names_its_field(tmp_path: Path) -> None:
    program = HOSTS.format(extra="") + (
        'np = dict(selector=web, type="NodePort")\n'
        'pp.Service("a", **np, ports=[pp.ServicePort(80, node_port=30001)])\n'
        'pp.Service("b", **np, ports=[pp.ServicePort(81, 82, node_port=30001)])\n'
    )
    with pytest.raises(ValidationError) as caught:
        Stack.from_program(_write(tmp_path, program)).preview()
    assert (caught.value.line, caught.value.field) == (9, "ports[0].node_port")
    assert caught.value.subject == 'Service "b"'


def test_a_plan_that_cannot_fit_is_infeasible_not_invalid(tmp_path: Path) -> None:
    program = HOSTS.format(extra=', node_selector={"disk": "ssd"}')
    with pytest.raises(InfeasiblePlan) as caught:
        Stack.from_program(_write(tmp_path, program)).preview()
    err = caught.value
    assert not isinstance(err, ValidationError)
    assert (err.line, err.subject, err.exit_code) == (4, 'Deployment "web"', 2)
    assert "cannot be placed" in str(err) and "matches no ready node" in str(err)


def _edge(replicas: int = 2) -> None:
    pp.Cluster("edge", nodes=[pp.Node("a", address="10.1.0.1")])
    web = pp.Deployment(
        "web", replicas=replicas, containers=[pp.Container("web", image="busybox", ports=[80])]
    )
    pp.Service("web", selector=web, type="NodePort", ports=[pp.ServicePort(80, node_port=30080)])
    pp.Service("nothing", selector={"app": "none"}, ports=[80])


def test_from_function_previews_what_the_function_declares(tmp_path: Path) -> None:
    events: list[Event] = []
    stack = Stack.from_function(_edge, name="inline", directory=tmp_path)
    result = stack.preview(on_event=events.append)
    assert (result.stack, result.program) == ("edge", str(tmp_path / "inline"))
    kinds = sorted(o.kind for o in result.operations)
    assert kinds == ["Deployment", "Node", "Pod", "Pod", "Service", "Service"]
    (evaluated,) = events
    assert isinstance(evaluated, ProgramEvaluated)
    assert "matches no Deployment" in evaluated.warnings[0]
    assert result.warnings == evaluated.warnings
    again = Stack.from_function(_edge, name="inline", directory=tmp_path, stack="other")
    assert again.preview().stack == "other"  # each operation runs the function afresh


def test_from_function_errors_point_at_the_function(tmp_path: Path) -> None:
    def bad() -> None:
        pp.Cluster("edge", nodes=[pp.Node("a", address="10.1.0.1")])
        pp.Deployment("web", replicas=-1, containers=[pp.Container("web", image="busybox")])

    line = bad.__code__.co_firstlineno + 2
    with pytest.raises(ValidationError) as caught:
        Stack.from_function(bad, name="inline", directory=tmp_path).preview()
    assert Path(caught.value.file or "").name == Path(__file__).name
    assert (caught.value.line, caught.value.field) == (line, "replicas")


def test_outputs_of_a_stack_never_brought_up(tmp_path: Path) -> None:
    with pytest.raises(NotApplied, match="stack edge has no outputs"):
        Stack.from_function(_edge, name="inline", directory=tmp_path).outputs()
