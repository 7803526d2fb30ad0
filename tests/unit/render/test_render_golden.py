"""`podplay compile` output, file by file, against golden files (see golden.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from golden import CASES_DIR, UPDATE, compile_case, config, tree, write_expected

from podplay import paths

ORDERED = sorted(
    (p for p in CASES_DIR.iterdir() if p.is_dir()), key=lambda p: ("previous" in config(p), p.name)
)


@pytest.mark.parametrize("case", ORDERED, ids=lambda p: p.name)
def test_compiled_tree_matches_golden(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    status = compile_case(case, out, tmp_path / "home", monkeypatch)
    assert status == 0, capsys.readouterr().err
    files = tree(out, tmp_path / "home")
    if UPDATE:
        write_expected(case, files)
    expected = tree(case / "expected")
    assert sorted(files) == sorted(expected)
    for rel, text in expected.items():
        assert files[rel] == text, f"{case.name}/{rel} differs from the golden file"
    link = out / "collections"
    assert link.is_symlink() and os.readlink(link) == str(paths.collections_path())


@pytest.mark.parametrize("case", ORDERED[:3], ids=lambda p: p.name)
def test_compiling_twice_is_byte_identical(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert compile_case(case, tmp_path / "a", tmp_path / "home", monkeypatch) == 0
    assert compile_case(case, tmp_path / "b", tmp_path / "home", monkeypatch) == 0
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert (tmp_path / "a" / "plan.json").read_bytes() == (
        tmp_path / "b" / "plan.json"
    ).read_bytes()


def test_recompiling_into_the_same_directory_drops_nodes_that_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = tmp_path / "app.py"
    program.write_text('import podplay as pp\npp.Cluster("dev", nodes=3)\n')
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    from podplay.cli.main import main

    assert main(["compile", "app.py", "-o", "out"]) == 0
    program.write_text('import podplay as pp\npp.Cluster("dev", nodes=2)\n')
    assert main(["compile", "app.py", "-o", "out"]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "host_vars").iterdir()) == [
        "node1.yml",
        "node2.yml",
    ]


def test_compile_without_images_says_the_plays_cannot_start_the_pods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The printed `run:` line alone would fail at the image side-load: compile says so."""
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    from podplay.cli.main import main

    (tmp_path / "app.py").write_text('import podplay as pp\npp.Cluster("dev", nodes=1)\n')
    assert main(["compile", "app.py", "-o", "out"]) == 0
    assert "--build-images" not in capsys.readouterr().err  # no pods, nothing to build
    (tmp_path / "app.py").write_text(
        'import podplay as pp\npp.Cluster("dev", nodes=1)\n'
        'pp.Deployment("web", containers=[pp.Container("web", "busybox")])\n'
    )
    assert main(["compile", "app.py", "-o", "out"]) == 0
    err = capsys.readouterr().err
    assert "note: images were not built" in err and "--build-images" in err


def test_compile_never_writes_over_a_project_it_did_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    from podplay.cli.main import main

    (tmp_path / "app.py").write_text('import podplay as pp\npp.Cluster("dev", nodes=1)\n')
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "site.yml").write_text("- hosts: all\n")
    assert main(["compile", "app.py", "-o", "mine"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: mine/ already holds site.yml, not written by podplay compile (no plan.json "
        "there); compile into another directory with -o\n"
    )
    assert (tmp_path / "mine" / "site.yml").read_text() == "- hosts: all\n"
    assert main(["compile", "app.py", "-o", "out"]) == 0
    assert main(["compile", "app.py", "-o", "out"]) == 0  # its own output: rewritten in place


def test_compile_leaves_the_cycle_collector_as_it_found_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compile pauses Python's cycle collector while it works (speed), and only then."""
    import gc

    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    from podplay.cli.main import main

    (tmp_path / "app.py").write_text(
        "import gc\nimport podplay as pp\nassert not gc.isenabled()\npp.Cluster('dev', nodes=1)\n"
    )
    assert gc.isenabled()
    assert main(["compile", "app.py", "-o", "out"]) == 0
    assert gc.isenabled()
    (tmp_path / "app.py").write_text("import podplay as pp\npp.Cluster('dev', nodes=0)\n")
    assert main(["compile", "app.py", "-o", "out"]) == 2  # a refused program: enabled again
    assert gc.isenabled()
