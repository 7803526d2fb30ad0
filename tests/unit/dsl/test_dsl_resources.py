"""The DSL's behaviour on valid programs: registration, defaults, locations, placeholders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import podplay as pp
from podplay.dsl import ProgramError, Unresolved, evaluate
from podplay.dsl.fields import cpu_millis, memory_bytes
from podplay.dsl.images import context_digest, local_images


def web(replicas: int = 1) -> pp.Deployment:
    return pp.Deployment(
        "web", replicas=replicas, containers=[pp.Container("web", "busybox", ports=[8080])]
    )


def test_resources_register_with_the_active_stack() -> None:
    with pp.Stack() as stack:
        cluster = pp.Cluster("dev", nodes=2)
        deployment = web(3)
        service = pp.Service("web", selector=deployment, ports=[80])
        pp.export("port", 80)
    assert stack.cluster is cluster
    assert stack.deployments == {("default", "web"): deployment}
    assert stack.services == {("default", "web"): service}
    assert stack.exports["port"].value == 80


def test_constructor_records_the_callers_file_and_line() -> None:
    with pp.Stack():
        line = sys._getframe().f_lineno + 1
        deployment = pp.Deployment("web", containers=[pp.Container("web", "busybox")])
    assert deployment.location is not None
    assert deployment.location.line == line
    assert deployment.location.file.endswith("test_dsl_resources.py")


def test_outside_a_stack_a_resource_says_how_to_run_the_program() -> None:
    with pytest.raises(ProgramError, match=r"no program is being evaluated; run this file"):
        pp.Cluster("dev")


def test_a_deployment_takes_recreate_as_its_strategy() -> None:
    with pp.Stack():
        deployment = pp.Deployment(
            "web", containers=[pp.Container("web", "busybox")], strategy=pp.Recreate()
        )
        default = pp.Deployment("api", containers=[pp.Container("api", "busybox")])
    assert isinstance(deployment.strategy, pp.Recreate)
    assert isinstance(default.strategy, pp.RollingUpdate)


def test_value_objects_need_no_stack() -> None:
    port = pp.ServicePort(80, 8080)
    assert (port.port, port.target_port, port.effective_target_port) == (80, 8080, 8080)
    assert pp.ServicePort(80).effective_target_port == 80


def test_defaults_follow_kubernetes() -> None:
    with pp.Stack():
        deployment = web()
        probe = pp.HttpProbe("/healthz", 8080)
    assert deployment.labels == {"app": "web"}
    assert deployment.strategy.max_surge == 1 and deployment.strategy.max_unavailable == 0
    assert deployment.namespace == "default" and deployment.restart_policy == "Always"
    assert (probe.period, probe.timeout, probe.failure_threshold, probe.initial_delay) == (
        10,
        1,
        3,
        0,
    )


def test_a_service_selecting_a_deployment_takes_its_labels() -> None:
    with pp.Stack():
        deployment = pp.Deployment(
            "api", labels={"tier": "back"}, containers=[pp.Container("api", "busybox")]
        )
        service = pp.Service("api", selector=deployment, ports=[80])
    assert service.selector == {"tier": "back"}


def test_resources_are_frozen() -> None:
    with pp.Stack():
        deployment = web()
    with pytest.raises(Exception, match="frozen"):
        deployment.replicas = 5  # type: ignore[misc]


def test_unresolved_values_say_what_to_do() -> None:
    with pp.Stack():
        pp.Cluster("dev")
        service = pp.Service("web", selector={"app": "web"}, type="NodePort", ports=[80])
    ip = service.cluster_ip
    assert isinstance(ip, Unresolved)
    text = str(ip)
    assert text == repr(ip)
    assert "0x" not in text
    assert 'pp.export("name", value)' in text
    assert "web.default.svc.cluster.local" in text
    assert service.node_port().key == ("default", "web", "node_port", 80)
    with pytest.raises(ProgramError, match="cannot be formatted into a string"):
        f"{ip}"
    with pytest.raises(ProgramError, match="has no port 81"):
        service.node_port(81)
    with pytest.raises(ProgramError, match='type "NodePort" has no external_ip'):
        service.external_ip  # noqa: B018


def test_env_accepts_numbers_and_planner_values() -> None:
    with pp.Stack():
        pp.Cluster("dev")
        service = pp.Service("db", selector={"app": "db"}, ports=[5432])
        container = pp.Container("web", "busybox", env={"PORT": 8080, "DB": service.cluster_ip})
    assert container.env["PORT"] == "8080"
    assert isinstance(container.env["DB"], Unresolved)


@pytest.mark.parametrize(
    ("text", "millis"), [("250m", 250), ("0.5", 500), (2, 2000), (0.25, 250), ("1", 1000)]
)
def test_cpu_quantities(text: str | int | float, millis: int) -> None:
    assert cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("text", "size"),
    [("64Mi", 64 * 2**20), ("1Gi", 2**30), ("500M", 500 * 10**6), (1024, 1024), ("1k", 1000)],
)
def test_memory_quantities(text: str | int, size: int) -> None:
    assert memory_bytes(text) == size


@pytest.mark.parametrize("bad", ["0m", "0.0001", "1.5m", "-1", True, "1Ki"])
def test_bad_cpu_quantities(bad: object) -> None:
    with pytest.raises(ValueError):
        cpu_millis(bad)  # type: ignore[arg-type]


def test_evaluate_runs_a_program_that_imports_its_own_module(tmp_path: Path) -> None:
    (tmp_path / "common.py").write_text("REPLICAS = 4\n")
    (tmp_path / "app.py").write_text(
        "import podplay as pp\nfrom common import REPLICAS\n"
        'pp.Cluster("dev")\n'
        'pp.Deployment("web", replicas=REPLICAS, containers=[pp.Container("w", "busybox")])\n'
    )
    before = list(sys.path)
    stack = evaluate(tmp_path / "app.py", display="app.py")
    sys.modules.pop("common", None)
    assert stack.deployments[("default", "web")].replicas == 4
    assert sys.path == before


def test_an_exception_in_a_helper_module_is_trimmed_to_the_users_files(tmp_path: Path) -> None:
    (tmp_path / "helper2.py").write_text(
        "import json\n\n\ndef load():\n    return json.loads('{')\n"
    )
    (tmp_path / "app.py").write_text("import helper2\n\nhelper2.load()\n")
    with pytest.raises(Exception) as caught:
        evaluate(tmp_path / "app.py", display="app.py")
    sys.modules.pop("helper2", None)
    text = str(caught.value)
    assert getattr(caught.value, "exit_code", None) == 2
    assert text.startswith(
        f"{tmp_path / 'helper2.py'}:5: the program raised json.decoder.JSONDecodeError"
    )
    assert 'File "app.py", line 3, in <module>' in text
    assert "json/decoder.py" not in text and "podplay/dsl" not in text


def test_a_selector_matching_nothing_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        'import podplay as pp\npp.Cluster("dev")\n'
        'pp.Service("db", selector={"app": "db"}, ports=[1])\n'
    )
    stack = evaluate(tmp_path / "app.py", display="app.py")
    assert [str(w) for w in stack.warnings] == [
        'app.py:3: Service "db": selector {"app": "db"} matches no Deployment in namespace '
        '"default"; the service will have no endpoints'
    ]


def test_context_digest_follows_content_and_names(tmp_path: Path) -> None:
    context = tmp_path / "web"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "index.html").write_text("hello\n")
    first = context_digest(context)
    assert context_digest(context) == first
    (context / "index.html").write_text("hello!\n")
    assert context_digest(context) != first
    assert context_digest(context, "Other.Dockerfile") != context_digest(context)


def test_local_images_name_images_by_context_digest(tmp_path: Path) -> None:
    (tmp_path / "images" / "web").mkdir(parents=True)
    (tmp_path / "images" / "web" / "Dockerfile").write_text("FROM scratch\n")
    with pp.Stack(base_dir=tmp_path) as stack:
        pp.Image("web", context="images/web")
    refs = local_images(stack)
    digest = context_digest(tmp_path / "images" / "web")
    assert refs["web"].ref == f"podplay/web:{digest[:12]}"
    assert refs["web"].id is None
