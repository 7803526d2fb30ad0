"""Kubernetes manifests map to the DSL objects a Python program would declare, and plan.

The Kubernetes documentation's nginx Deployment and Service (ClusterIP and NodePort), the
two-tier example (examples/k8s), and what `kubectl get -o yaml` prints; no Docker.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

import podplay as pp
from podplay.dsl import Location, ProgramError, evaluate, local_images
from podplay.dsl.network import SERVICE_RESERVED_OFFSETS
from podplay.dsl.validate import validate
from podplay.plan import plan
from podplay.plan.addresses import RESERVED_OFFSETS
from podplay.plan.model import PortPlan

HERE = Path(__file__).parent / "kubernetes"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "k8s"


def manifest(tmp_path: Path, *fixtures: str, file: str = "nginx.yaml") -> Path:
    """The fixtures as one multi-document manifest."""
    path = tmp_path / file
    path.write_text("\n---\n".join((HERE / f).read_text() for f in fixtures))
    return path


def same(actual: Any, expected: Any) -> None:
    """DSL objects compare by their fields (their locations differ by construction)."""
    assert actual.model_dump() == expected.model_dump()


def nginx_expected(service_type: str = "ClusterIP", node_port: int | None = None) -> tuple:
    with pp.Stack():
        image = pp.Image("nginx-1-14-2", ref="nginx:1.14.2")
        deployment = pp.Deployment(
            "nginx-deployment",
            replicas=3,
            labels={"app": "nginx"},
            containers=[pp.Container("nginx", image=image, ports=[80])],
            strategy=pp.RollingUpdate(max_surge=1, max_unavailable=0),
        )
        service = pp.Service(
            "nginx-service",
            type=service_type,
            selector={"app": "nginx"},
            ports=[pp.ServicePort(80, target_port=80, node_port=node_port)],
        )
    return image, deployment, service


def test_the_docs_nginx_deployment_and_service(tmp_path: Path) -> None:
    path = manifest(tmp_path, "nginx-deployment.yaml", "nginx-service.yaml")
    stack = evaluate(path)

    image, deployment, service = nginx_expected()
    assert stack.cluster is not None
    assert (stack.cluster.name, stack.cluster.nodes, stack.cluster.local) == ("nginx", 3, True)
    assert list(stack.images) == ["nginx-1-14-2"]
    same(stack.images["nginx-1-14-2"], image)
    same(stack.deployments[("default", "nginx-deployment")], deployment)
    same(stack.services[("default", "nginx-service")], service)
    # located where the manifest names them
    assert stack.deployments[("default", "nginx-deployment")].location == Location(str(path), 5)
    assert stack.services[("default", "nginx-service")].location == Location(str(path), 30)

    result = plan(stack, None, None, local_images(stack))
    assert [(i.name, i.ref) for i in result.images] == [("nginx-1-14-2", "nginx:1.14.2")]
    assert sorted(p.node for p in result.pods) == ["node1", "node2", "node3"]
    assert {p.manifest["containers"][0]["image"] for p in result.pods} == {"nginx:1.14.2"}
    (svc,) = result.services
    assert svc.type == "ClusterIP" and svc.cluster_ip is not None
    assert svc.ports == [
        PortPlan(name=None, port=80, target_port=80, node_port=None, protocol="TCP")
    ]
    assert sorted(e.pod for e in svc.endpoints) == sorted(p.name for p in result.pods)


def test_the_docs_nodeport_variant(tmp_path: Path) -> None:
    stack = evaluate(manifest(tmp_path, "nginx-deployment.yaml", "nginx-service-nodeport.yaml"))

    _, _, service = nginx_expected("NodePort", 30007)
    same(stack.services[("default", "nginx-service")], service)
    (svc,) = plan(stack, None, None, local_images(stack)).services
    assert svc.type == "NodePort"
    assert [(p.port, p.target_port, p.node_port) for p in svc.ports] == [(80, 80, 30007)]
    assert len(svc.endpoints) == 3


def test_the_two_tier_example_maps_and_plans() -> None:
    stack = evaluate(EXAMPLE / "app.py")

    backend = stack.deployments[("default", "backend")]
    frontend = stack.deployments[("default", "frontend")]
    assert (backend.replicas, backend.labels) == (2, {"app": "backend", "tier": "api"})
    (b,) = backend.containers
    assert b.image is stack.images["shop-backend"]  # the program's pp.Image, by name
    assert b.ports == [8080]
    same(b.readiness, pp.HttpProbe("/healthz", 8080, period=2))  # port "http" resolved
    assert (b.resources.cpu, b.resources.memory) == ("100m", "32Mi")  # the limits
    (f,) = frontend.containers
    assert f.image is stack.images["shop-frontend"]
    assert f.env == {"BACKEND_HOST": "backend", "BACKEND_PORT": "80"}
    same(f.liveness, pp.TcpProbe(8080, period=5, initial_delay=2))
    assert (frontend.replicas, frontend.termination_grace_period) == (3, 10)
    assert (frontend.strategy.max_surge, frontend.strategy.max_unavailable) == (1, 0)

    with pp.Stack():
        backend_svc = pp.Service(
            "backend", selector={"app": "backend"}, ports=[pp.ServicePort(80, 8080, name="http")]
        )
        frontend_svc = pp.Service(
            "frontend",
            type="NodePort",
            selector={"app": "frontend"},
            ports=[pp.ServicePort(80, 8080, node_port=30090, name="http")],
        )
    same(stack.services[("default", "backend")], backend_svc)
    same(stack.services[("default", "frontend")], frontend_svc)
    assert set(stack.exports) == {"frontend_node_port", "backend_dns"}

    refs = local_images(stack)
    result = plan(stack, None, None, refs)
    assert sorted(i.ref for i in result.images) == sorted(r.ref for r in refs.values())
    assert len(result.pods) == 5
    by_name = {s.name: s for s in result.services}
    assert [(p.port, p.target_port) for p in by_name["backend"].ports] == [(80, 8080)]
    assert [p.node_port for p in by_name["frontend"].ports] == [30090]
    assert len(by_name["backend"].endpoints) == 2 and len(by_name["frontend"].endpoints) == 3
    pods = [p for p in result.pods if p.deployment == "frontend"]
    assert pods[0].manifest["containers"][0]["resources"] == {
        "cpu_millis": 100,
        "memory_bytes": 32 * 2**20,
    }


def test_the_example_manifest_on_its_own_names_engine_images(tmp_path: Path) -> None:
    """Without app.py the images are the local engine's, checked when images are looked up."""
    copy = tmp_path / "app.yaml"
    shutil.copy(EXAMPLE / "app.yaml", copy)
    stack = evaluate(copy)

    assert stack.cluster is not None and stack.cluster.name == "app"
    image = stack.images["shop-backend"]
    assert (image.ref, image.context) == ("shop-backend", None)
    assert image.used_by == ('Deployment "backend"', "spec.template.spec.containers[0].image")
    assert image.location == Location(str(copy), 26)
    assert local_images(stack)["shop-frontend"].ref == "shop-frontend"


def test_what_kubectl_get_prints(tmp_path: Path) -> None:
    """A List with status, bookkeeping and defaults; `$(VAR)` expanded as the kubelet does."""
    stack = evaluate(manifest(tmp_path, "kubectl-get.yaml"))

    web = stack.deployments[("default", "web")]
    (c,) = web.containers
    assert c.command == ["sh", "-c", "httpd -f -p 8080 -h /www"]
    assert c.env == {"PORT": "8080", "GREETING": "port 8080, not $(PORT)"}
    assert c.resources is None and web.termination_grace_period == 30
    assert (web.replicas, web.strategy.max_surge, web.strategy.max_unavailable) == (4, 1, 1)
    svc = stack.services[("default", "web")]
    assert (svc.static_cluster_ip, svc.session_affinity, svc.affinity_timeout) == (
        "10.96.0.50",
        "ClientIP",
        600,
    )
    (planned,) = plan(stack, None, None, local_images(stack)).services
    assert planned.cluster_ip == "10.96.0.50"


def deployment_yaml(replicas: int, strategy: str = "") -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web}}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: web}}}}
        {textwrap.indent(strategy, "  ")}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              containers: [{{name: web, image: "busybox:1.36"}}]
        """
    )


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (3, None, None, (1, 0)),  # 25% / 25%: up 0.75 → 1, down 0.75 → 0
        (10, None, None, (3, 2)),
        (10, "50%", "10%", (5, 1)),
        (5, 2, "20%", (2, 1)),
        (0, None, None, (0, 1)),  # both round to 0: Kubernetes allows one unavailable
        (4, 0, 1, (0, 1)),
    ],
)
def test_rolling_update_percentages(
    tmp_path: Path, replicas: int, surge: Any, unavailable: Any, expected: tuple[int, int]
) -> None:
    limits = {k: v for k, v in (("maxSurge", surge), ("maxUnavailable", unavailable)) if v}
    strategy = ""
    if limits or surge == 0:
        given = ", ".join(f"{k}: {v!r}".replace("'", '"') for k, v in limits.items())
        if surge == 0:
            given = f"maxSurge: 0, {given}"
        strategy = f"strategy: {{rollingUpdate: {{{given}}}}}"
    path = tmp_path / "app.yaml"
    path.write_text(deployment_yaml(replicas, strategy))
    web = evaluate(path).deployments[("default", "web")]
    assert (web.strategy.max_surge, web.strategy.max_unavailable) == expected


def test_recreate_is_pp_recreate_and_plans_stop_all_then_start_all(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(deployment_yaml(3, "strategy: {type: Recreate}"))
    web = evaluate(path).deployments[("default", "web")]
    assert isinstance(web.strategy, pp.Recreate)
    first = plan(evaluate(path), None, None, local_images(evaluate(path)))
    assert first.deployments[0].strategy.model_dump() == {"type": "Recreate"}
    path.write_text(deployment_yaml(3, "strategy: {type: Recreate}").replace("1.36", "1.37"))
    second = plan(evaluate(path), first, None, local_images(evaluate(path)))
    assert [(s.action, len(s.pods)) for s in second.rollout] == [("delete", 3), ("create", 3)]


def test_a_cluster_document_names_the_cluster(tmp_path: Path) -> None:
    path = tmp_path / "anything.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            apiVersion: podplay.io/v1
            kind: Cluster
            metadata: {name: shop}
            spec: {nodes: 2, serviceCIDR: 10.100.0.0/16, lbPool: 192.0.2.240/29}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              type: LoadBalancer
              clusterIP: 10.100.0.7
              loadBalancerIP: 192.0.2.242
              selector: {app: web}
              ports: [{port: 80}]
            """
        )
        + "---\n"
        + deployment_yaml(2)
    )
    stack = evaluate(path)
    cluster = stack.cluster
    assert cluster is not None
    assert (cluster.name, cluster.nodes, cluster.service_cidr, cluster.lb_pool) == (
        "shop",
        2,
        "10.100.0.0/16",
        "192.0.2.240/29",
    )
    assert cluster.location == Location(str(path), 1)
    (svc,) = plan(stack, None, None, local_images(stack)).services
    assert (svc.cluster_ip, svc.load_balancer_ip) == ("10.100.0.7", "192.0.2.242")


def test_a_cluster_ip_outside_the_service_cidr_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        deployment_yaml(1)
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        + "spec:\n  clusterIP: 10.0.0.5\n  selector: {app: web}\n  ports: [{port: 80}]\n"
    )
    with pytest.raises(ProgramError) as err:
        evaluate(path)
    assert str(err.value) == (
        f'{path}:17: Service "web": spec.clusterIP "10.0.0.5" is outside the cluster\'s '
        "service_cidr 10.96.0.0/16"
    )


def test_the_file_name_must_make_a_cluster_name(tmp_path: Path) -> None:
    path = tmp_path / "My_App.yaml"
    path.write_text(deployment_yaml(1))
    with pytest.raises(ProgramError) as err:
        evaluate(path)
    assert str(err.value) == (
        f'{path}: Cluster "My_App": name "My_App" (from the file name) cannot name a local '
        'cluster: use 1 to 32 lowercase letters, digits and "-", starting with a letter and '
        "ending with a letter or digit; rename the file or add a podplay.io/v1 Cluster "
        "document that names it"
    )
    assert err.value.exit_code == 2


PROGRAM = """\
import podplay as pp

pp.Cluster("dev", nodes=2)
pp.Image("web", context="images/web")
app = pp.from_kubernetes("k8s/app.yaml")
pp.export("port", app.service("web").node_port())
"""

APP_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: web, ports: [{containerPort: 8080}]}
      - {name: sidecar, image: podplay/web, command: [sleep, "3600"]}
      - {name: tools, image: "busybox:1.36", command: [sleep, "3600"]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def program(tmp_path: Path, text: str = PROGRAM) -> Path:
    (tmp_path / "images" / "web").mkdir(parents=True)
    (tmp_path / "images" / "web" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "app.yaml").write_text(APP_YAML)
    (tmp_path / "app.py").write_text(text)
    return tmp_path / "app.py"


def test_from_kubernetes_in_a_program_uses_its_images(tmp_path: Path) -> None:
    stack = evaluate(program(tmp_path))

    web, sidecar, tools = stack.deployments[("default", "web")].containers
    assert web.image is stack.images["web"] and sidecar.image is stack.images["web"]
    assert tools.image is stack.images["busybox-1-36"]
    assert stack.images["busybox-1-36"].ref == "busybox:1.36"
    assert stack.cluster is not None and stack.cluster.name == "dev"  # the program's
    assert "port" in stack.exports
    shown = str((tmp_path / "k8s" / "app.yaml").resolve())
    assert stack.deployments[("default", "web")].location == Location(shown, 3)


def test_from_kubernetes_names_what_is_missing(tmp_path: Path) -> None:
    path = program(tmp_path, PROGRAM.replace('service("web")', 'service("api")'))
    with pytest.raises(ProgramError) as err:
        evaluate(path)
    shown = str((tmp_path / "k8s" / "app.yaml").resolve())
    assert str(err.value) == (
        f'{path}:6: {shown} declares no Service "api" in namespace "default" (its Services: "web")'
    )
    path.write_text(PROGRAM.replace("k8s/app.yaml", "k8s/nope.yaml"))
    with pytest.raises(ProgramError) as err:
        evaluate(path)
    assert str(err.value) == (
        f'{path}:5: from_kubernetes("k8s/nope.yaml"): cannot read it: No such file or directory'
    )


def test_a_manifest_cluster_and_the_programs_clash(tmp_path: Path) -> None:
    path = program(tmp_path)
    (tmp_path / "k8s" / "app.yaml").write_text(
        "apiVersion: podplay.io/v1\nkind: Cluster\nmetadata: {name: other}\n---\n" + APP_YAML
    )
    with pytest.raises(ProgramError, match=r'a program declares one Cluster; "dev" is declared'):
        evaluate(path)


def test_an_image_is_built_or_referenced_never_both() -> None:
    with pp.Stack() as stack:
        pp.Image("web", ref="web:1")
        with pytest.raises(ProgramError, match=r"give context .* or ref .*, not both"):
            pp.Image("api", context="images/api", ref="api:1")
        with pytest.raises(ProgramError, match=r"ref \"Not A Ref\" is not an image reference"):
            pp.Image("api", ref="Not A Ref")
        with pytest.raises(ProgramError, match="context is required"):
            pp.Image("api")
    assert local_images(stack)["web"].ref == "web:1"


def test_the_dsl_and_the_planner_reserve_the_same_cluster_ips() -> None:
    assert SERVICE_RESERVED_OFFSETS == RESERVED_OFFSETS


def test_an_explicit_cluster_ip_wins_over_the_previous_plan_and_is_checked() -> None:
    def stack_with(ip: str | None) -> pp.Stack:
        with pp.Stack() as stack:
            pp.Cluster("dev", nodes=1)
            web = pp.Deployment("web", containers=[pp.Container("web", "busybox")])
            pp.Service("web", selector=web, ports=[80], static_cluster_ip=ip)
            pp.Service("api", selector=web, ports=[81])
        validate(stack)
        return stack

    before = plan(stack_with(None))
    after = plan(stack_with("10.96.3.4"), before)
    ips = {s.name: s.cluster_ip for s in after.services}
    assert ips["web"] == "10.96.3.4"
    assert ips["api"] == {s.name: s.cluster_ip for s in before.services}["api"]
    for ip, why in (
        ("10.96.0.10", "is reserved (.1 and .10 of service_cidr 10.96.0.0/16: .10 is cluster DNS)"),
        ("10.97.0.1", "is outside the cluster's service_cidr 10.96.0.0/16"),
    ):
        with pytest.raises(ProgramError) as err:
            stack_with(ip)
        assert str(err.value).endswith(f'Service "web": static_cluster_ip "{ip}" {why}')


def test_the_translation_is_imported_only_when_a_manifest_is_read(tmp_path: Path) -> None:
    """`podplay up app.py` of a Python program never reads YAML: the CLI starts without the
    translation (~40 ms of imports); `from_kubernetes` and `pp.dsl.Manifest` still work."""
    import subprocess
    import sys

    program = tmp_path / "app.py"
    program.write_text('import podplay as pp\npp.Cluster("edge", nodes=1)\n')
    check = (
        "import sys\n"
        "from podplay.dsl import evaluate\n"
        f"evaluate({str(program)!r})\n"
        "assert 'podplay.dsl.kubernetes.translate' not in sys.modules\n"
        "assert 'yaml' not in sys.modules\n"
        "from podplay.dsl import Manifest\n"
        "assert Manifest.__module__ == 'podplay.dsl.kubernetes.translate'\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
