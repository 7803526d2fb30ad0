"""`podplay compile` (and `up`) make the cluster's certificates before rendering, so the
rendered project runs with plain ansible-playbook: the paths in group_vars exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from podplay.cli.main import main
from podplay.control.target import Target

PROGRAM = """
import podplay as pp
pp.Cluster("prod", nodes=[pp.Node("a", "192.0.2.11"), pp.Node("b", "192.0.2.12")])
"""


def test_compile_makes_the_certificates_group_vars_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text(PROGRAM)
    assert main(["compile", "app.py", "-o", "out"]) == 0
    group_vars = yaml.safe_load((tmp_path / "out" / "group_vars" / "all.yml").read_text())
    pki_dir = Path(group_vars["podplay_pki_dir"])
    assert pki_dir == tmp_path / "home" / "clusters" / "prod" / "pki"
    for name in ("ca.crt", "client.crt", "nodes/a.crt", "nodes/b.crt"):
        assert (pki_dir / name).is_file(), name
    for name in ("ca.key", "client.key", "nodes/a.key", "nodes/b.key"):
        assert (pki_dir / name).stat().st_mode & 0o777 == 0o600, name
    before = (pki_dir / "nodes" / "a.crt").read_bytes()
    assert main(["compile", "app.py", "-o", "out"]) == 0
    assert (pki_dir / "nodes" / "a.crt").read_bytes() == before  # made once


def test_an_inventory_may_name_its_own_certificate_directory(tmp_path: Path) -> None:
    given = Target("lab", False, True, 2, cluster_vars={"podplay_pki_dir": str(tmp_path)})
    assert given.pki_dir == str(tmp_path)
    assert Target("lab", False, True, 2).pki_dir.endswith("/clusters/lab/pki")
