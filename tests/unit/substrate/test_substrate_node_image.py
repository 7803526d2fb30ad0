"""Node image recipe: the tag follows the recipe; the mirror comes from apt's own config."""

from __future__ import annotations

import shutil

import pytest

from podplay.artifacts import node_image
from podplay.errors import EnvironmentProblem


def test_recipe_hash_is_stable_and_follows_every_recipe_file(tmp_path):
    recipe = tmp_path / "node"
    shutil.copytree(node_image.RECIPE_DIR, recipe)
    before = node_image.recipe_hash(recipe)
    assert before == node_image.recipe_hash(recipe)
    (recipe / "files" / "etc" / "extra.conf").write_text("x\n")
    assert node_image.recipe_hash(recipe) != before


def test_another_recipe_names_its_own_image_and_a_cached_one_is_not_rebuilt(tmp_path, monkeypatch):
    recipe = tmp_path / "host"
    recipe.mkdir()
    (recipe / "packages.txt").write_text("systemd\nopenssh-server\n")
    (recipe / "configure.sh").write_text("#!/bin/sh\n")
    wanted = f"podplay/test-host:{node_image.recipe_hash(recipe)}"
    asked: list[str] = []

    def image_id(_client, ref):
        asked.append(ref)
        return "sha256:cached" if ref == wanted else None

    def no_build(*_args):
        raise AssertionError("a cached image must not be rebuilt")

    monkeypatch.setattr(node_image.engine, "client", lambda: object())
    monkeypatch.setattr(node_image.engine, "image_id", image_id)
    monkeypatch.setattr(node_image, "_build", no_build)
    found = node_image.ensure_node_image(recipe_dir=recipe, repository="podplay/test-host")
    assert (found.ref, found.id, found.built) == (wanted, "sha256:cached", False)
    assert asked == [wanted]
    assert node_image.recipe_hash(recipe) != node_image.recipe_hash()


def test_packages_include_what_nodes_need():
    wanted = {"systemd", "openssh-server", "docker.io", "iptables", "python3", "dnsmasq"}
    assert wanted <= set(node_image.packages())


DEB822 = """\
Types: deb
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822_sources():
    found = node_image.parse_apt_sources({"sources.list.d/debian.sources": DEB822})
    assert found == "http://mirror.example/debian"


def test_mirror_from_one_line_list_with_options_and_disabled_lines():
    text = (
        "# deb http://old.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://list.example/debian bookworm main\n"
    )
    assert node_image.parse_apt_sources({"sources.list": text}) == "http://list.example/debian"


def test_disabled_deb822_stanza_is_ignored():
    text = "Enabled: no\n" + DEB822
    assert node_image.parse_apt_sources({"x.sources": text.split("\n\n")[0]}) is None


def test_no_mirror_is_an_environment_problem(tmp_path, monkeypatch):
    monkeypatch.delenv(node_image.MIRROR_ENV, raising=False)
    with pytest.raises(EnvironmentProblem, match="no apt source for Debian bookworm"):
        node_image.find_mirror(tmp_path)
    monkeypatch.setenv(node_image.MIRROR_ENV, "http://override.example/debian/")
    assert node_image.find_mirror(tmp_path) == "http://override.example/debian"
