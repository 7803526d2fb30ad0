"""The contract, `files apply` and the node helpers ship in the node bundle: Python 3.9
syntax, standard library only, and nothing else of podplay."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import podplay.node

NODE = Path(podplay.node.__file__).parent
FILES = sorted(p for d in ("contract", "files", "util") for p in (NODE / d).glob("*.py"))
ALLOWED = set(sys.stdlib_module_names)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_parses_as_python_3_9_and_imports_only_stdlib_and_the_node_side(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Match), f"{path.name}: match needs Python 3.10"
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] in ALLOWED or name.startswith("podplay.node"), name
    assert "dataclass(slots" not in path.read_text() and "kw_only" not in path.read_text()
