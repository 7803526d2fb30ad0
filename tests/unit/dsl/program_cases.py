"""Fixture files of the form: a program, then `=== error` (expected stderr), `=== facts`.

One file per case (pyinfra style). `PODPLAY_UPDATE_GOLDEN=1` rewrites the expected
sections from what the code does now; review the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podplay.cli.main import main

UPDATE = os.environ.get("PODPLAY_UPDATE_GOLDEN") == "1"


def read_case(path: Path) -> dict[str, str]:
    """Sections of a case file: `program` (everything before the first `===`) and the rest."""
    sections: dict[str, list[str]] = {"program": []}
    current = "program"
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("=== "):
            current = line[4:].strip()
            sections[current] = []
        else:
            sections[current].append(line)
    return {name: "".join(lines) for name, lines in sections.items()}


def write_case(path: Path, sections: dict[str, str]) -> None:
    """Write sections back in a fixed order (program first)."""
    text = sections["program"]
    for name, body in sections.items():
        if name != "program":
            text += f"=== {name}\n{body.rstrip()}\n"
    path.write_text(text)


def compile_invalid_case(
    case: Path,
    program: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> str:
    """Compile a case's program (saved as `program`, with its facts if any) in `tmp_path`
    and check what every invalid case must: exit status 2, the case's exact error on
    stderr, nothing written. Returns stderr for the caller's own checks."""
    sections = read_case(case)
    (tmp_path / program).write_text(sections["program"])
    args = ["compile", program, "-o", "out"]
    if "facts" in sections:
        (tmp_path / "facts.json").write_text(sections["facts"])
        args += ["--facts", "facts.json"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))

    status = main(args)
    err = capsys.readouterr().err

    if UPDATE:
        assert err.startswith("error: ")
        sections["error"] = err[len("error: ") :]
        write_case(case, sections)
    assert status == 2
    assert err == f"error: {sections['error'].rstrip()}\n"
    assert not (tmp_path / "out").exists()
    return err
