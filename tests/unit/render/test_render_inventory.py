"""Strings from a program that reach the inventory are data, never Ansible templates.

Ansible templates every string variable it reads, inventory host variables included: an
`ssh_key` like "/keys/{{ lookup('pipe', 'id') }}" would run a command on the controller the
first time any play or ad-hoc command read it. The renderer tags such strings `!unsafe`;
this runs the real `ansible` on the rendered inventory to prove the value stays literal.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from podplay.cli.main import main

BIN = Path(sys.executable).parent

PROGRAM = """\
import podplay as pp

pp.Cluster("lab", nodes=[pp.Node("a", "192.0.2.10", ssh_key=KEY)])
"""

KEY = "/keys/{{ lookup('pipe', 'echo INJECTED') }}"


def test_templated_ssh_key_stays_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.py").write_text(f"KEY = {KEY!r}\n" + PROGRAM)
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "app.py", "-o", "out"]) == 0
    inventory = (tmp_path / "out" / "inventory.yml").read_text()
    assert "!unsafe" in inventory
    shown = subprocess.run(
        [
            str(BIN / "ansible"),
            "all",
            "-i",
            "out/inventory.yml",
            "-c",
            "local",
            "-m",
            "ansible.builtin.debug",
            "-a",
            "var=ansible_ssh_private_key_file",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "INJECTED" not in shown.stdout.replace("echo INJECTED", "")
    assert "lookup('pipe', 'echo INJECTED')" in shown.stdout
