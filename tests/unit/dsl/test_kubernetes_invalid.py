"""Every invalid or unsupported manifest fails `podplay compile app.yaml` with one exact line.

Each case under kubernetes/invalid/ is a manifest (run as `app.yaml`, on its own) and the
expected error: `app.yaml:LINE: Kind "name": field.path what is wrong`, exit status 2, and
nothing written (so nothing on any host touched). `PODPLAY_UPDATE_GOLDEN=1` rewrites the
expected lines from what the code says now; review the diff before committing it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from program_cases import compile_invalid_case

CASES = sorted((Path(__file__).parent / "kubernetes" / "invalid").glob("*.case"))


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_invalid_manifest(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    err = compile_invalid_case(case, "app.yaml", tmp_path, monkeypatch, capsys)
    assert err.count("\n") == 1, "one line"
    assert "Traceback" not in err
