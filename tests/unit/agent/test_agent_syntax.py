"""The node side runs on the hosts' python3 (3.9 on older real hosts): its syntax must parse
as Python 3.9, and it imports nothing but the standard library and the Docker SDK."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import podplay.node.agent

AGENT = Path(podplay.node.agent.__file__).parent
UTIL = AGENT.parent / "util"  # the agent's shared helpers ship with it
FILES = sorted(AGENT.glob("*.py")) + sorted(UTIL.glob("*.py"))
ALLOWED = set(sys.stdlib_module_names) | {"docker", "podplay"}


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_parses_as_python_3_9(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Match), f"{path.name}: match needs Python 3.10"


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_imports_only_stdlib_and_docker(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"
        if isinstance(node, ast.ImportFrom) and node.module == "podplay":
            pass
    text = path.read_text()
    assert "dataclass(slots" not in text and "kw_only" not in text, path.name
