"""Messages about a user's program: `app.py:12: Service "web": ports[0].port 0 is outside 1-65535`.

Every resource remembers where the user constructed it, so an error found later (a duplicate
name, a plan that cannot fit) still points at the line the user has to change.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podplay.errors import UserInputError

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
_PYDANTIC_DIR = str(Path(__import__("pydantic").__file__).resolve().parent) + os.sep


@dataclass(frozen=True)
class Location:
    """A line of the user's program (or of a module it imported)."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where, about which resource, and what is wrong and allowed.

    `field` names the argument at fault (`ports[0].port`) when the check knows it, for
    callers that want it as data (`podplay.automation`); the message already says it."""

    location: Location | None
    subject: str | None
    message: str
    field: str | None = None

    def __str__(self) -> str:
        parts = [str(self.location)] if self.location else []
        if self.subject:
            parts.append(self.subject)
        parts.append(self.message)
        return ": ".join(parts)


class ProgramError(UserInputError):
    """The program is wrong; the message names file:line, resource, field and what is allowed."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @classmethod
    def one(cls, location: Location | None, subject: str | None, message: str) -> ProgramError:
        """A single-diagnostic error."""
        return cls([Diagnostic(location, subject, message)])


def display_path(filename: str) -> str:
    """How a source file is named in messages: relative to the working directory when inside it."""
    if not os.path.isabs(filename):
        return filename
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel


def is_internal(filename: str) -> bool:
    """True for podplay's and pydantic's own frames, which messages never point at."""
    return filename.startswith((_PACKAGE_DIR, _PYDANTIC_DIR)) or filename.startswith("<frozen")


_declared_at: ContextVar[Location | None] = ContextVar("podplay_declared_at", default=None)


@contextmanager
def declared_at(location: Location) -> Iterator[None]:
    """Resources constructed inside are located at `location`, not at a Python call.

    For resources read from data (a Kubernetes manifest): their messages must point at the
    line of the file they came from, which no Python frame knows."""
    token = _declared_at.set(location)
    try:
        yield
    finally:
        _declared_at.reset(token)


def caller_location() -> Location | None:
    """The first frame outside podplay and pydantic: the user's constructor call (or the
    location `declared_at` set)."""
    declared = _declared_at.get()
    if declared is not None:
        return declared
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not is_internal(filename):
            return Location(display_path(filename), frame.f_lineno)
        frame = frame.f_back
    return None


def show(value: Any) -> str:
    """A value as messages print it: strings double-quoted, numbers bare, None/True/False as
    the user wrote them in Python, dicts with sorted keys."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, str | int | float):
        return json.dumps(value)
    if isinstance(value, list | tuple) and all(_plain(v) for v in value):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict) and all(_plain(k) and _plain(v) for k, v in value.items()):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in items) + "}"
    if hasattr(value, "describe"):
        return value.describe()
    return type(value).__name__


def _plain(value: Any) -> bool:
    """Data `show` prints as a literal (not an object it names by its type)."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False
