"""Golden cases: a program (and optional facts/previous plan) in, the compiled tree out.

A case is a folder under cases/: `app.py` or `case.json` naming a program of the
repository, optionally `local_cluster_inventory` (an inventory as `podplay cluster create`
writes it) or `previous` (another case whose expected plan.json to plan against), and
`expected/` with every file `podplay compile` writes. `PODPLAY_UPDATE_GOLDEN=1` rewrites
`expected/`; review the diff before committing it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from podplay import paths
from podplay.cli.main import main

UPDATE = os.environ.get("PODPLAY_UPDATE_GOLDEN") == "1"
CASES_DIR = Path(__file__).parent / "cases"
REPO = Path(__file__).resolve().parents[3]


def config(case: Path) -> dict[str, str]:
    path = case / "case.json"
    return json.loads(path.read_text()) if path.exists() else {}


def program_of(case: Path) -> Path:
    cfg = config(case)
    return REPO / cfg["program"] if "program" in cfg else case / "app.py"


def compile_case(case: Path, out: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run `podplay compile` as a user would for this case; returns the exit status."""
    cfg = config(case)
    monkeypatch.setenv("PODPLAY_HOME", str(home))
    program = program_of(case)
    args = ["compile", program.name, "-o", str(out)]
    if "local_cluster_inventory" in cfg:
        cluster_dir = home / "clusters" / cfg.get("cluster", "shop")
        cluster_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(case / cfg["local_cluster_inventory"], cluster_dir / "inventory.yml")
    if "previous" in cfg:
        args += ["--previous", str(CASES_DIR / cfg["previous"] / "expected" / "plan.json")]
    monkeypatch.chdir(program.parent)
    return main(args)


_BUNDLE = re.compile(r"podplay-node-[0-9a-f]+\.pyz")


def tree(out: Path, home: Path | None = None) -> dict[str, str]:
    """Every regular file below `out` by relative path, machine paths made neutral.

    The node bundle's name follows the node code's content: it is masked, so that a change to
    the node side does not rewrite every golden file.
    """
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and not path.is_symlink() and "collections" not in path.parts:
            text = path.read_text()
            text = text.replace(str(paths.collections_path()), "@COLLECTIONS@")
            if home is not None:
                text = text.replace(str(home), "@PODPLAY_HOME@")
            text = _BUNDLE.sub("podplay-node-@HASH@.pyz", text)
            files[path.relative_to(out).as_posix()] = text
    return files


def write_expected(case: Path, files: dict[str, str]) -> None:
    expected = case / "expected"
    if expected.exists():
        shutil.rmtree(expected)
    for rel, text in files.items():
        target = expected / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
