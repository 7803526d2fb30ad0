"""Every invalid program fails `podplay compile` with one exact message and exit status 2.

Each case under invalid/ is a program (run as `app.py`), the expected error output and
optional node facts. The output directory must not exist afterwards: a bad program writes
nothing, let alone touches a host.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from program_cases import compile_invalid_case, read_case

CASES = sorted((Path(__file__).parent / "invalid").glob("*.case"))


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_invalid_program(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    err = compile_invalid_case(case, "app.py", tmp_path, monkeypatch, capsys)
    assert "Traceback (most recent call last):" not in err


def test_the_installed_command_prints_the_message_alone(tmp_path: Path) -> None:
    """Through the real console script: exit 2, the message, no Python traceback."""
    sections = read_case(Path(__file__).parent / "invalid" / "node_port_out_of_range.case")
    (tmp_path / "app.py").write_text(sections["program"])
    podplay = Path(sys.executable).with_name("podplay")
    result = subprocess.run(
        [str(podplay), "compile", "app.py", "-o", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PODPLAY_HOME": str(tmp_path / "home")},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        'error: app.py:12: Service "web-public": ports[0].node_port 80 is outside 30000-32767\n'
    )
    assert result.stdout == ""
