"""Fixture files of the form: a program, then `=== error` (expected stderr), `=== facts`.

One file per case (pyinfra style). `PODPLAY_UPDATE_GOLDEN=1` rewrites the expected
sections from what the code does now; review the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

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
