"""The repairer runs on the hosts' python3 (3.9 on older real hosts), standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import podplay.node.network

NETWORK = Path(podplay.node.network.__file__).parent
FILES = sorted(NETWORK.glob("*.py"))
ALLOWED = {"docker", "podplay"}  # the Docker SDK travels in the bundle (host.Engine only)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_python_39_syntax_and_standard_library_only(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Match), f"{path.name}: match needs Python 3.10"
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in ALLOWED, f"{path.name}: {name}"
