"""Image build contexts are named by their content (no Docker needed for the hash)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podplay.artifacts.images import RECIPES, BuiltImage, archive_path, build_image, context_hash
from podplay.errors import UserInputError


def context(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_hash_is_stable_and_follows_content_names_and_modes(tmp_path: Path) -> None:
    a = context(tmp_path / "a", Dockerfile="FROM scratch\n", **{"bin/x": "1"})
    b = context(tmp_path / "b", Dockerfile="FROM scratch\n", **{"bin/x": "1"})
    assert context_hash(a) == context_hash(b) and len(context_hash(a)) == 12
    (b / "bin" / "x").write_text("2")
    assert context_hash(a) != context_hash(b)
    c = context(tmp_path / "c", Dockerfile="FROM scratch\n", **{"bin/y": "1"})
    assert context_hash(a) != context_hash(c)
    os.chmod(a / "bin" / "x", 0o755)
    d = context(tmp_path / "d", Dockerfile="FROM scratch\n", **{"bin/x": "1"})
    assert context_hash(a) != context_hash(d)


def test_recipes_exist_and_pause_exits_on_sigterm() -> None:
    pause = (RECIPES / "pause" / "Dockerfile").read_text()
    assert "FROM scratch" in pause and "trap 'exit 0' TERM" in pause
    assert (RECIPES / "busybox" / "Dockerfile").is_file()


def test_no_dockerfile_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no Dockerfile"):
        build_image(tmp_path, "podplay/x")


def test_var_shape_and_archive_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path))
    img = BuiltImage("podplay/x:abc", "sha256:0123", str(archive_path("sha256:0123")))
    assert img.as_var() == {"ref": "podplay/x:abc", "id": "sha256:0123", "archive": img.archive}
    assert img.archive == str(tmp_path / "cache" / "images" / "sha256-0123.tar")
