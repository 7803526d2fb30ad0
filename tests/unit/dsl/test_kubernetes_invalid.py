"""Every invalid or unsupported manifest fails `podplay compile app.yaml` with one exact line.

Each case under kubernetes/invalid/ is a manifest (run as `app.yaml`, on its own) and the
expected error: `app.yaml:LINE: Kind "name": field.path what is wrong`, exit status 2, and
nothing written (so nothing on any host touched). `PODPLAY_UPDATE_GOLDEN=1` rewrites the
expected lines from what the code says now; review the diff before committing it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from program_cases import UPDATE, read_case, write_case

from podplay.cli.main import main

CASES = sorted((Path(__file__).parent / "kubernetes" / "invalid").glob("*.case"))


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_invalid_manifest(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    sections = read_case(case)
    (tmp_path / "app.yaml").write_text(sections["program"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))

    status = main(["compile", "app.yaml", "-o", "out"])
    err = capsys.readouterr().err

    if UPDATE:
        assert err.startswith("error: ")
        sections["error"] = err[len("error: ") :]
        write_case(case, sections)
    assert status == 2
    assert err == f"error: {sections['error'].rstrip()}\n"
    assert err.count("\n") == 1, "one line"
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
