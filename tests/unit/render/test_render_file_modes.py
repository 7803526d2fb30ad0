"""Rendered files that hold env values are the owner's only (issue 12, item 8): plan.json and
host_vars/*.yml, in `podplay compile`'s output and `up`'s build directory (both write_tree)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from golden import CASES_DIR, compile_case

from podplay.files import PRIVATE_MODE, is_private, write_tree

SECRET = "s3cret-env-value"
PROGRAM = f"""\
import podplay as pp

pp.Cluster("modes", nodes=2)
web = pp.Deployment(
    "web",
    replicas=2,
    containers=[pp.Container("web", "busybox", env={{"TOKEN": {SECRET!r}}}, ports=[80])],
)
"""


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def umask_022():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_every_compiled_file_holding_an_env_value_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: None
) -> None:
    case = tmp_path / "case"
    case.mkdir()
    (case / "app.py").write_text(PROGRAM)
    out = tmp_path / "out"
    assert compile_case(case, out, tmp_path / "home", monkeypatch) == 0
    holding = {p for p in out.rglob("*") if p.is_file() and SECRET in p.read_text()}
    assert {p.relative_to(out).as_posix() for p in holding} >= {
        "plan.json", "host_vars/node1.yml", "host_vars/node2.yml",
    }  # fmt: skip
    for path in holding:
        assert mode(path) == PRIVATE_MODE, path
    assert mode(out / "site.yml") == 0o644  # the rest as before: the umask applies


def test_an_unchanged_file_an_older_podplay_left_readable_is_made_private(
    tmp_path: Path, umask_022: None
) -> None:
    files = {"plan.json": "{}\n", "host_vars/n1.yml": "a: 1\n", "site.yml": "- hosts: all\n"}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
        (tmp_path / rel).chmod(0o644)
    write_tree(tmp_path, files, {})
    assert mode(tmp_path / "plan.json") == PRIVATE_MODE
    assert mode(tmp_path / "host_vars" / "n1.yml") == PRIVATE_MODE
    assert mode(tmp_path / "site.yml") == 0o644


def test_the_golden_shop_case_renders_its_env_only_into_private_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: None
) -> None:
    out = tmp_path / "out"
    assert compile_case(CASES_DIR / "shop", out, tmp_path / "home", monkeypatch) == 0
    for path in out.rglob("*"):
        if path.is_file() and not path.is_symlink() and "BACKEND_HOST" in path.read_text():
            rel = path.relative_to(out).as_posix()
            assert is_private(rel) and mode(path) == PRIVATE_MODE, rel
