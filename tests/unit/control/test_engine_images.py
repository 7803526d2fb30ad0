"""Images a manifest (or `pp.Image(ref=...)`) names must be in the local Docker engine.

There is no registry: such an image is refused where images are looked up (preview's
read-only lookup, up's and compile --build-images' build), before anything is built or
touched, with the line of the manifest that names it. A fake engine stands in for Docker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from podplay import paths
from podplay.artifacts import engine
from podplay.cli.main import main
from podplay.control import images as control_images
from podplay.control.images import build_images, known_images
from podplay.dsl import ProgramError, evaluate
from podplay.errors import EnvironmentProblem

MANIFEST = """\
apiVersion: podplay.io/v1
kind: Cluster
metadata: {name: edge}
spec: {inventory: hosts.yml}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.14.2
"""
HOSTS = "all:\n  hosts:\n    a: {ansible_host: 10.1.0.1}\n    b: {ansible_host: 10.1.0.2}\n"
MISSING = (
    'app.yaml:16: Deployment "web": spec.template.spec.containers[0].image "nginx:1.14.2" is '
    "not in the local Docker engine and no pp.Image declares it; build or load it first "
    "(there is no registry)"
)


@pytest.fixture
def engine_has(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The fake engine's images (ref -> id); the test adds what it should hold."""
    have: dict[str, str] = {}
    monkeypatch.setattr(engine, "client", lambda: "fake engine")
    monkeypatch.setattr(engine, "image_id", lambda cli, ref: have.get(ref))
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.yaml").write_text(MANIFEST)
    (tmp_path / "hosts.yml").write_text(HOSTS)
    return have


def test_preview_refuses_an_image_the_engine_lacks(
    engine_has: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", "app.yaml"]) == 2
    assert capsys.readouterr().err == f"error: {MISSING}\n"
    assert not (tmp_path / ".podplay").exists()


def test_preview_shows_the_image_the_engine_has(
    engine_has: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    engine_has["nginx:1.14.2"] = "sha256:1234"
    assert main(["preview", "app.yaml", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert ("+", "Image", "nginx-1-14-2") in {
        (c["op"], c["kind"], c["name"]) for c in doc["changes"]
    }
    refs = known_images(evaluate("app.yaml"), None)
    assert refs["nginx-1-14-2"].model_dump() == {"ref": "nginx:1.14.2", "id": "sha256:1234"}


def test_up_refuses_it_before_building_anything(
    engine_has: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    monkeypatch.setattr(control_images, "_build", lambda *args: built.append(args))
    monkeypatch.setattr(control_images, "export_image", lambda ref: built.append(ref))
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app.py").write_text(
        'import podplay as pp\npp.Cluster("dev", nodes=1)\npp.Image("a", context="img")\n'
        'pp.from_kubernetes("app.yaml")\n'
    )
    (tmp_path / "app.yaml").write_text(MANIFEST.split("---\n")[1])
    stack = evaluate("app.py")
    with pytest.raises(ProgramError) as err:
        build_images(stack)
    assert str(err.value) == MISSING.replace("app.yaml:16", "app.yaml:11")
    assert err.value.exit_code == 2
    assert built == []


def test_a_pp_image_by_ref_is_checked_too(engine_has: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        'import podplay as pp\npp.Cluster("dev", nodes=1)\npp.Image("web", ref="web:1")\n'
    )
    with pytest.raises(ProgramError) as err:
        known_images(evaluate("app.py"), None)
    assert str(err.value) == (
        'app.py:3: Image "web": ref "web:1" is not in the local Docker engine; build or load '
        "it first (there is no registry)"
    )


def test_without_an_engine_preview_cannot_tell_and_leaves_the_id_unknown(
    engine_has: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> None:
        raise EnvironmentProblem("no Docker in unit tests")

    monkeypatch.setattr(engine, "client", refuse)
    refs = known_images(evaluate("app.yaml"), None)
    assert refs["nginx-1-14-2"].id is None
